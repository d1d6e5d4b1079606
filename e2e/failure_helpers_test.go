package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
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

// failOptions shape a stack for the failure scenarios: the simulator's
// rate limit, the durable's AckWait, and the worker's client and consumer
// settings. Zero values mean the defaults of newStack and startWorker.
type failOptions struct {
	rateLimit    int
	rateWindow   time.Duration
	ackWait      time.Duration
	maxDeliver   int
	timeout      time.Duration
	recoveryRamp time.Duration // 0: none
	rps          float64
	permissions  string
	noWorker     bool
}

// failStack is a stack plus the instant of every outcome.
type failStack struct {
	*stack
	settings broker.Settings

	tmu   sync.Mutex
	times map[string][]time.Time
}

func newFailStack(t *testing.T, o failOptions) *failStack {
	t.Helper()
	if o.ackWait == 0 {
		o.ackWait = 5 * time.Second
	}
	s := &stack{t: t, nats: startNATS(t), logs: &syncBuffer{}, outcomes: map[string][]consumer.Outcome{}}
	s.sim = perfexsim.New(perfexsim.Options{
		Token: token, Seed: true, PasswordCost: 4,
		RateLimit: o.rateLimit, RateWindow: o.rateWindow,
	})
	url, err := s.sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	s.url = url
	t.Cleanup(s.sim.Close)

	s.nc, s.js = connect(t, s.nats.URL())
	fs := &failStack{stack: s, settings: broker.Settings{AckWait: o.ackWait}, times: map[string][]time.Time{}}
	if err := broker.Provision(context.Background(), s.js, fs.settings); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	if !o.noWorker {
		fs.startWorker(o)
	}
	return fs
}

// startWorker runs the real consumer and client in process, wired as
// runWorker wires them (Provision included).
func (fs *failStack) startWorker(o failOptions) {
	s := fs.stack
	s.t.Helper()
	if o.timeout == 0 {
		o.timeout = 2 * time.Second
	}
	ramp := o.recoveryRamp
	if ramp == 0 {
		ramp = -1
	}
	client, err := crm.New(crm.Config{
		BaseURL: s.url, Token: token, Timeout: o.timeout,
		RequestsPerSecond: o.rps, RecoveryRamp: ramp, PermissionsSource: o.permissions,
	})
	if err != nil {
		s.t.Fatalf("crm client: %v", err)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(s.logs), zapcore.DebugLevel))
	if o.maxDeliver == 0 {
		o.maxDeliver = 3
	}
	cons, err := consumer.New(s.js, client, dlq.NewWriter(s.js, broker.Names{}), log, consumer.Config{
		Concurrency: 4, MaxDeliver: o.maxDeliver, AckWait: fs.settings.AckWait,
		RetryInitial: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		OutageWindow: 2 * time.Second, ProbeInterval: 100 * time.Millisecond,
		DrainTimeout: 5 * time.Second, WorkerID: "e2e-fail",
		Provision: func(ctx context.Context) error { return broker.Provision(ctx, s.js, fs.settings) },
		Observer: func(out consumer.Outcome) {
			fs.tmu.Lock()
			fs.times[out.CommandID] = append(fs.times[out.CommandID], time.Now())
			fs.tmu.Unlock()
			s.observe(out)
		},
	})
	if err != nil {
		s.t.Fatalf("consumer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cons, s.cancel, s.done = cons, cancel, make(chan error, 1)
	go func() { s.done <- cons.Run(ctx) }()
	s.t.Cleanup(s.stopWorker)
}

// finalAt is when the command reached its final outcome.
func (fs *failStack) finalAt(id string) time.Time {
	fs.tmu.Lock()
	defer fs.tmu.Unlock()
	ts := fs.times[id]
	return ts[len(ts)-1]
}

// outcomesOf returns every outcome observed for the command.
func (fs *failStack) outcomesOf(id string) []consumer.Outcome {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]consumer.Outcome(nil), fs.outcomes[id]...)
}

// logLines counts the log lines that contain msg.
func logLines(logs, msg string) int {
	n := 0
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, msg) {
			n++
		}
	}
	return n
}

// tryPublish publishes c once and returns the error instead of failing.
func (s *stack) tryPublish(c cmd) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	msg := nats.NewMsg("perfex.cmd.contact.update." + strconv.FormatInt(c["contact_id"].(int64), 10))
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, c.id())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = s.js.PublishMsg(ctx, msg)
	return err
}
