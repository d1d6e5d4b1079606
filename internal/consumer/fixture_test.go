package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// testAckWait is the durable's AckWait in tests: short, so a message not
// kept alive would be redelivered within a test's lifetime.
const testAckWait = 3 * time.Second

// waitFor bounds every wait on a condition.
const waitFor = 10 * time.Second

// fakeApplier is an Applier whose answers tests script. It records every
// update, per contact in call order, and whether two updates for the same
// contact ever overlapped.
type fakeApplier struct {
	mu       sync.Mutex
	update   func(ctx context.Context, contactID int64, tag string, call int) error
	probe    func() error
	calls    map[int64]int
	tags     map[int64][]string
	probes   int
	active   map[int64]int
	overlap  bool
	parallel int
	maxPar   int
}

func newFakeApplier() *fakeApplier {
	return &fakeApplier{
		update: func(context.Context, int64, string, int) error { return nil },
		probe:  func() error { return nil },
		calls:  map[int64]int{},
		tags:   map[int64][]string{},
		active: map[int64]int{},
	}
}

func (a *fakeApplier) script(update func(ctx context.Context, contactID int64, tag string, call int) error, probe func() error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if update != nil {
		a.update = update
	}
	if probe != nil {
		a.probe = probe
	}
}

func (a *fakeApplier) Update(ctx context.Context, contactID int64, data command.ContactData) (crm.Result, error) {
	tag := ""
	if data.FirstName != nil {
		tag = *data.FirstName
	}
	a.mu.Lock()
	a.calls[contactID]++
	call := a.calls[contactID]
	a.tags[contactID] = append(a.tags[contactID], tag)
	a.active[contactID]++
	if a.active[contactID] > 1 {
		a.overlap = true
	}
	a.parallel++
	a.maxPar = max(a.maxPar, a.parallel)
	update := a.update
	a.mu.Unlock()

	err := update(ctx, contactID, tag, call)

	a.mu.Lock()
	a.active[contactID]--
	a.parallel--
	a.mu.Unlock()
	if err != nil {
		return crm.Result{}, err
	}
	return crm.Result{Requests: 2}, nil
}

func (a *fakeApplier) Probe(context.Context) error {
	a.mu.Lock()
	a.probes++
	probe := a.probe
	a.mu.Unlock()
	return probe()
}

func (a *fakeApplier) totalCalls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.calls {
		n += c
	}
	return n
}

func (a *fakeApplier) probeCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.probes
}

func transient(status int) error {
	return &crm.TransientError{Reason: reason.Connection, Status: status, Excerpt: "<h1>503</h1>", Err: errors.New("service unavailable")}
}

// recorder keeps the outcomes an Observer reports.
type recorder struct {
	mu  sync.Mutex
	all []Outcome
}

func (r *recorder) observe(o Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, o)
}

func (r *recorder) outcomes() []Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.all)
}

func (r *recorder) count(kind string) int {
	n := 0
	for _, o := range r.outcomes() {
		if o.Kind == kind {
			n++
		}
	}
	return n
}

// final returns the final outcome of each command id.
func (r *recorder) final() map[string]Outcome {
	out := map[string]Outcome{}
	for _, o := range r.outcomes() {
		if o.Final() {
			out[o.CommandID] = o
		}
	}
	return out
}

type fixture struct {
	t        *testing.T
	srv      *server.Server
	js       jetstream.JetStream
	settings broker.Settings
	names    broker.Names
	applier  *fakeApplier
	rec      *recorder
	cfg      Config
	seq      int

	// logs holds every line the consumer logs at Debug and above.
	logs *observer.ObservedLogs
	// beforeRun, when set, adjusts the consumer between New and Run.
	beforeRun func(*Consumer)
}

func setup(t *testing.T) *fixture {
	t.Helper()
	srv := brokertest.StartServer(t)
	_, js := brokertest.Connect(t, srv)
	settings := broker.Settings{AckWait: testAckWait}.WithDefaults()
	if err := broker.Provision(t.Context(), js, settings); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	f := &fixture{
		t: t, srv: srv, js: js, settings: settings, names: settings.Names,
		applier: newFakeApplier(), rec: &recorder{},
	}
	f.cfg = Config{
		Names:         settings.Names,
		Concurrency:   4,
		MaxDeliver:    3,
		AckWait:       testAckWait,
		RetryInitial:  10 * time.Millisecond,
		RetryMax:      80 * time.Millisecond,
		LocalRetries:  1,
		OutageWindow:  5 * time.Second,
		ProbeInterval: 40 * time.Millisecond,
		DrainTimeout:  2 * time.Second,
		WorkerID:      "test-worker",
		Observer:      f.rec.observe,
	}
	return f
}

// start runs a consumer with f's config and applier until the test ends
// or stop is called; stop returns Run's error.
func (f *fixture) start() (c *Consumer, stop func() error) {
	f.t.Helper()
	return f.startWith(f.applier)
}

func (f *fixture) startWith(applier Applier) (c *Consumer, stop func() error) {
	f.t.Helper()
	writer := dlq.NewWriter(f.js, f.names)
	core, logs := observer.New(zapcore.DebugLevel)
	f.logs = logs
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(f.t).Core(), core))
	c, err := New(f.js, applier, writer, log, f.cfg)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	if f.beforeRun != nil {
		f.beforeRun(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(waitFor):
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				f.t.Logf("goroutines:\n%s", buf[:n])
				runErr = errors.New("Run did not return")
			}
		})
		return runErr
	}
	f.t.Cleanup(func() {
		if err := stop(); err != nil {
			f.t.Errorf("Run: %v", err)
		}
	})
	f.eventually("consumer bound", func() bool { return c.Status().Bound })
	return c, stop
}

// publish stores an update of contact with a fresh command id and the
// tag as first name, and returns the id.
func (f *fixture) publish(contact int64, tag string) string {
	f.t.Helper()
	id, err := f.tryPublish(contact, tag)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// tryPublish is publish that returns the error. The id is stable across
// tries, so a retry within the duplicates window stores one command.
func (f *fixture) tryPublish(contact int64, tag string) (string, error) {
	id := fmt.Sprintf("cmd-%03d-%d-%s", f.seq+1, contact, tag)
	body, err := json.Marshal(map[string]any{
		"id": id, "type": command.TypeContactUpdate, "contact_id": contact,
		"data": map[string]any{"firstname": tag},
	})
	if err != nil {
		return "", err
	}
	if err := f.tryPublishRaw(command.Subject(f.names.Prefix, contact), body, id); err != nil {
		return "", err
	}
	f.seq++
	return id, nil
}

func (f *fixture) publishRaw(subject string, body []byte, msgID string) {
	f.t.Helper()
	if err := f.tryPublishRaw(subject, body, msgID); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) tryPublishRaw(subject string, body []byte, msgID string) error {
	msg := nats.NewMsg(subject)
	msg.Data = body
	if msgID != "" {
		msg.Header.Set(jetstream.MsgIDHeader, msgID)
	}
	ctx, cancel := context.WithTimeout(f.t.Context(), 2*time.Second)
	defer cancel()
	if _, err := f.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publishing to %s: %w", subject, err)
	}
	return nil
}

// eventually waits until cond holds, failing the test after waitFor.
func (f *fixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logged counts the lines logged at level whose message contains text.
func (f *fixture) logged(level zapcore.Level, text string) int {
	n := 0
	for _, e := range f.logs.All() {
		if e.Level == level && strings.Contains(e.Message, text) {
			n++
		}
	}
	return n
}

func (f *fixture) streamMsgs(name string) uint64 {
	f.t.Helper()
	s, err := f.js.Stream(f.t.Context(), name)
	if err != nil {
		f.t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(f.t.Context())
	if err != nil {
		f.t.Fatalf("stream %s info: %v", name, err)
	}
	return info.State.Msgs
}

func (f *fixture) consumerInfo() *jetstream.ConsumerInfo {
	f.t.Helper()
	cons, err := f.js.Consumer(f.t.Context(), f.names.Commands, f.names.Durable)
	if err != nil {
		f.t.Fatalf("consumer: %v", err)
	}
	info, err := cons.Info(f.t.Context())
	if err != nil {
		f.t.Fatalf("consumer info: %v", err)
	}
	return info
}

// letters reads every dead letter.
func (f *fixture) letters() []dlq.Letter {
	f.t.Helper()
	s, err := f.js.Stream(f.t.Context(), f.names.DLQ)
	if err != nil {
		f.t.Fatalf("DLQ stream: %v", err)
	}
	info, err := s.Info(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	var out []dlq.Letter
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		raw, err := s.GetMsg(f.t.Context(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			f.t.Fatal(err)
		}
		l, err := dlq.ParseLetter(raw)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}
