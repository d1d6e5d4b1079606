package deployments_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/crm"
)

type nopApplier struct{}

func (nopApplier) Update(context.Context, int64, command.ContactData) (crm.Result, error) {
	return crm.Result{}, nil
}

func (nopApplier) Probe(context.Context) error { return nil }

type nopTransport struct{}

func (nopTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

func mustRequest(t *testing.T) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1/api/contacts/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// failingJS is a JetStream whose reads fail, to make the poll error
// counter show up. Only the methods Poll calls are implemented.
type failingJS struct{ jetstream.JetStream }

var errUnavailable = errors.New("unavailable")

func (failingJS) Consumer(context.Context, string, string) (jetstream.Consumer, error) {
	return nil, errUnavailable
}

func (failingJS) Stream(context.Context, string) (jetstream.Stream, error) {
	return nil, errUnavailable
}
