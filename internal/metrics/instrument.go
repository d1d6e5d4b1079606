package metrics

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/crm"
)

// Transport wraps next so that every request to Perfex is counted by
// method and status code. A request that got no reply counts as "error".
func (m *Metrics) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper{m: m, next: next}
}

type roundTripper struct {
	m    *Metrics
	next http.RoundTripper
}

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(req)
	code := "error"
	if err == nil {
		code = codeLabel(resp.StatusCode)
	}
	rt.m.requests.WithLabelValues(methodLabel(req.Method), code).Inc()
	return resp, err
}

// CloseIdleConnections passes through to the wrapped transport, so that
// http.Client.CloseIdleConnections keeps working.
func (rt roundTripper) CloseIdleConnections() {
	if c, ok := rt.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Applier wraps next so that every update is timed, by result, and the
// rate limit Perfex reports is recorded.
func (m *Metrics) Applier(next consumer.Applier) consumer.Applier {
	return applier{m: m, next: next}
}

type applier struct {
	m    *Metrics
	next consumer.Applier
}

func (a applier) Update(ctx context.Context, contactID int64, data command.ContactData) (crm.Result, error) {
	started := time.Now()
	res, err := a.next.Update(ctx, contactID, data)
	a.m.applyDuration.WithLabelValues(resultLabel(err)).Observe(time.Since(started).Seconds())
	a.m.SetRateLimit(res.RateLimit)
	return res, err
}

func (a applier) Probe(ctx context.Context) error { return a.next.Probe(ctx) }

// resultLabel classes an update's error like the consumer does.
func resultLabel(err error) string {
	var (
		permanent *crm.PermanentError
		transient *crm.TransientError
		held      *crm.HeldError
	)
	switch {
	case err == nil:
		return "applied"
	case errors.As(err, &permanent):
		return "permanent"
	case errors.As(err, &held):
		return "held"
	case errors.As(err, &transient):
		return "transient"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "error"
}
