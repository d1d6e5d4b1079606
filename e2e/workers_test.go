package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

// poolWorker is one of several consumers sharing the durable, each standing
// for a worker process: its own NATS connection, Perfex client and lease
// owner name.
type poolWorker struct {
	t      *testing.T
	id     string
	nc     *nats.Conn
	cons   *consumer.Consumer
	cancel context.CancelFunc
	done   chan error
}

// startNamedWorker runs one more worker on the durable, connected to url.
func (s *stack) startNamedWorker(id, url string) *poolWorker {
	s.t.Helper()
	nc, js := connect(s.t, url)
	client, err := crm.New(crm.Config{BaseURL: s.url, Token: token, Timeout: 2 * time.Second})
	if err != nil {
		s.t.Fatalf("crm client: %v", err)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(s.logs), zapcore.DebugLevel)).With(zap.String("w", id))

	cons, err := consumer.New(js, client, dlq.NewWriter(js, broker.Names{}), log, consumer.Config{
		Concurrency: 4, MaxDeliver: 1000, AckWait: 5 * time.Second,
		RetryInitial: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		OutageWindow: time.Second, ProbeInterval: 50 * time.Millisecond,
		DrainTimeout: time.Second, WorkerID: id, LeaseTTL: time.Second,
		Observer: s.observe,
	})
	if err != nil {
		s.t.Fatalf("consumer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &poolWorker{t: s.t, id: id, nc: nc, cons: cons, cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- cons.Run(ctx) }()
	s.t.Cleanup(w.stop)
	return w
}

// stop drains the worker as SIGTERM would; what it holds is handed back.
func (w *poolWorker) stop() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.cancel = nil
	select {
	case err := <-w.done:
		if err != nil {
			w.t.Errorf("worker %s: %v", w.id, err)
		}
	case <-time.After(waitFor):
		w.t.Errorf("worker %s did not stop", w.id)
	}
}

// kill ends the worker as a crash would: its connection is gone, nothing
// is handed back, and what it held comes back after AckWait.
func (w *poolWorker) kill() {
	w.nc.Close()
	select {
	case <-w.done:
	case <-time.After(waitFor):
		w.t.Errorf("worker %s did not stop", w.id)
	}
	w.cancel()
	w.cancel = nil
}

// modelCommand is one accepted command as the model sees it.
type modelCommand struct {
	rank    uint64
	contact int64
	data    map[string]string
}

// modelState applies commands in rank order (publish order, a replay at
// its original place) and returns, per contact, each field's last value.
func modelState(cmds []modelCommand) map[int64]map[string]string {
	best := map[int64]map[string]modelCommand{}
	for _, c := range cmds {
		if best[c.contact] == nil {
			best[c.contact] = map[string]modelCommand{}
		}
		for field := range c.data {
			if b, ok := best[c.contact][field]; !ok || c.rank > b.rank {
				best[c.contact][field] = c
			}
		}
	}
	out := map[int64]map[string]string{}
	for contact, fields := range best {
		out[contact] = map[string]string{}
		for field, c := range fields {
			out[contact][field] = c.data[field]
		}
	}
	return out
}

// simFields reads the fields the ordering tests write.
func simFields(c perfexsim.Contact) map[string]string {
	return map[string]string{
		"firstname": c.FirstName, "lastname": c.LastName, "title": c.Title, "phonenumber": c.PhoneNumber,
	}
}

// orderFields are the fields the ordering tests write, with a value maker
// each that Perfex accepts.
var orderFields = []struct {
	name  string
	value func(n int) string
}{
	{"firstname", func(n int) string { return "Ana" + strconv.Itoa(n) }},
	{"lastname", func(n int) string { return "Souza" + strconv.Itoa(n) }},
	{"title", func(n int) string { return "Title " + strconv.Itoa(n) }},
	{"phonenumber", func(n int) string { return "+55 11 9" + strconv.Itoa(1000000+n) }},
}

// checkModel compares the simulator with the model, field by field.
func (s *stack) checkModel(want map[int64]map[string]string) {
	s.t.Helper()
	for contact, fields := range want {
		got := simFields(s.contact(contact))
		for field, v := range fields {
			if got[field] != v {
				s.t.Errorf("contact %d %s = %q, want %q (the last published)", contact, field, got[field], v)
			}
		}
	}
}
