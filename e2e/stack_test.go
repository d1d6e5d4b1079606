// Package e2e runs perfex-worker end to end: a JetStream server, the Perfex
// simulator, the real client and the real consumer, wired as the binary
// wires them. The same scenarios run against an in-process server (the
// default) or a NATS container (-tags docker).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

// token is the simulator's API token in every scenario; tests search the
// output for it.
const token = "e2e-token-7f3a9c41d2b8e605"

// waitFor bounds every wait on a condition.
const waitFor = 30 * time.Second

type stack struct {
	t    *testing.T
	nats *natsServer
	nc   *nats.Conn
	js   jetstream.JetStream
	sim  *perfexsim.Sim
	url  string
	logs *syncBuffer

	mu       sync.Mutex
	outcomes map[string][]consumer.Outcome
	cons     *consumer.Consumer
	cancel   context.CancelFunc
	done     chan error
}

type stackOptions struct {
	permissions perfexsim.PermissionsMode
	flavor      perfexsim.Flavor
	maxDeliver  int
	noWorker    bool
}

func newStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	s := &stack{t: t, nats: startNATS(t), logs: &syncBuffer{}, outcomes: map[string][]consumer.Outcome{}}

	s.sim = perfexsim.New(perfexsim.Options{
		Token: token, Seed: true, PasswordCost: 4,
		PermissionsTable: opts.permissions, Flavor: opts.flavor,
	})
	url, err := s.sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	s.url = url
	t.Cleanup(s.sim.Close)

	s.nc, s.js = connect(t, s.nats.URL())
	settings := broker.Settings{AckWait: 5 * time.Second}
	if err := broker.Provision(context.Background(), s.js, settings); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	if !opts.noWorker {
		s.startWorker(opts.maxDeliver)
	}
	return s
}

func connect(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// startWorker runs the consumer in process with the real Perfex client and
// a debug logger that writes to s.logs without any redaction, so that a
// secret that reached a log call would be found.
func (s *stack) startWorker(maxDeliver int) {
	s.t.Helper()
	client, err := crm.New(crm.Config{BaseURL: s.url, Token: token, Timeout: 2 * time.Second})
	if err != nil {
		s.t.Fatalf("crm client: %v", err)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(s.logs), zapcore.DebugLevel))

	if maxDeliver == 0 {
		maxDeliver = 3
	}
	cons, err := consumer.New(s.js, client, dlq.NewWriter(s.js, broker.Names{}), log, consumer.Config{
		Concurrency: 4, MaxDeliver: maxDeliver, AckWait: 5 * time.Second,
		RetryInitial: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		OutageWindow: 2 * time.Second, ProbeInterval: 100 * time.Millisecond,
		DrainTimeout: 5 * time.Second, WorkerID: "e2e",
		Observer: s.observe,
	})
	if err != nil {
		s.t.Fatalf("consumer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cons, s.cancel, s.done = cons, cancel, make(chan error, 1)
	go func() { s.done <- cons.Run(ctx) }()
	s.t.Cleanup(s.stopWorker)
}

func (s *stack) stopWorker() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("consumer.Run: %v", err)
		}
	case <-time.After(waitFor):
		s.t.Error("the consumer did not stop")
	}
	s.cancel = nil
}

func (s *stack) observe(o consumer.Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes[o.CommandID] = append(s.outcomes[o.CommandID], o)
}

// final returns the command's final outcome, if it has one.
func (s *stack) final(id string) (consumer.Outcome, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.outcomes[id] {
		if o.Final() {
			return o, true
		}
	}
	return consumer.Outcome{}, false
}

// waitFinal waits for the command's final outcome.
func (s *stack) waitFinal(id string) consumer.Outcome {
	s.t.Helper()
	var o consumer.Outcome
	eventually(s.t, "a final outcome for "+id, func() bool {
		var ok bool
		o, ok = s.final(id)
		return ok
	})
	return o
}

// cmd is a command under construction; publish encodes it.
type cmd map[string]any

var idSeq struct {
	sync.Mutex
	n int
}

// update returns a contact update with a fresh id.
func update(contact int64, data map[string]any) cmd {
	idSeq.Lock()
	idSeq.n++
	id := fmt.Sprintf("e2e-%d-%d", time.Now().UnixNano(), idSeq.n)
	idSeq.Unlock()
	return cmd{"id": id, "type": "contact.update", "contact_id": contact, "data": data}
}

func (c cmd) id() string { return c["id"].(string) }

// publish stores the command on its contact's subject and returns its
// stream sequence.
func (s *stack) publish(c cmd, headers ...string) uint64 {
	s.t.Helper()
	body, err := json.Marshal(c)
	if err != nil {
		s.t.Fatal(err)
	}
	contact, _ := c["contact_id"].(int64)
	return s.publishRaw("perfex.cmd.contact.update."+strconv.FormatInt(contact, 10), body, c.id(), headers...)
}

func (s *stack) publishRaw(subject string, body []byte, msgID string, headers ...string) uint64 {
	s.t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	for i := 0; i+1 < len(headers); i += 2 {
		msg.Header.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, msg)
	if err != nil {
		s.t.Fatalf("publishing to %s: %v", subject, err)
	}
	return ack.Sequence
}

// letters reads every dead letter.
func (s *stack) letters() []dlq.Letter {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, "PERFEX_DLQ")
	if err != nil {
		s.t.Fatalf("dead-letter stream: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		s.t.Fatalf("dead-letter stream info: %v", err)
	}
	var out []dlq.Letter
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		raw, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			s.t.Fatalf("reading dead letter %d: %v", seq, err)
		}
		l, err := dlq.ParseLetter(raw)
		if err != nil {
			s.t.Fatalf("parsing dead letter %d: %v", seq, err)
		}
		out = append(out, l)
	}
	return out
}

// letterFor returns the dead letter of the command with id.
func (s *stack) letterFor(id string) (dlq.Letter, bool) {
	for _, l := range s.letters() {
		if l.CommandID == id {
			return l, true
		}
	}
	return dlq.Letter{}, false
}

// pending is how many commands the command stream still holds.
func (s *stack) pending() uint64 {
	s.t.Helper()
	st, err := s.js.Stream(context.Background(), "PERFEX_COMMANDS")
	if err != nil {
		s.t.Fatalf("command stream: %v", err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		s.t.Fatalf("command stream info: %v", err)
	}
	return info.State.Msgs
}

func (s *stack) contact(id int64) perfexsim.Contact {
	s.t.Helper()
	c, ok := s.sim.Contact(id)
	if !ok {
		s.t.Fatalf("the simulator has no contact %d", id)
	}
	return c
}

// eventually waits for cond, failing the test after waitFor.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
