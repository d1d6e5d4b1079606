package consumer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"

	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/dlq"
)

// The gate is the process-wide answer to "may we talk to Perfex now?".
//
//	open    commands are pulled and applied
//	outage  Perfex does not answer at all: nothing is pulled, in-hand
//	        messages are kept alive and wait, no attempt is used, and a
//	        prober tries Perfex with capped backoff; any answer reopens
//	held    Perfex refuses the worker itself (token, endpoint): nothing is
//	        pulled, in-hand messages are kept alive and wait, the worker
//	        reports unready, and Perfex is probed every ProbeInterval;
//	        only a probe that succeeds reopens
//
// A rate limit is not a state: it sets an instant before which no worker
// calls Perfex, and pulling pauses while that instant is far enough off
// for buffered messages to age.
//
// Open and outage are kept by a sony/gobreaker circuit breaker: a closed
// breaker is an open gate, an open or half-open one an outage. The library
// is the state machine: a failure it is given trips it, half-open admits
// one trial at a time, whose success closes it and whose failure opens it
// again, and each change of state reaches onStateChange, which logs the
// start and the end of an outage once and wakes whoever waits.
//
// The gate decides what the breaker is given, which a breaker that counts
// failed calls could not. A transient failure counts as an attempt only if
// Perfex gave a non-transient answer to another request (or a probe) after
// the failed request began and within OutageWindow. Otherwise the gate
// probes, shared by every failure waiting on the same question: an answer
// means Perfex is up (a rate limit too); an outage needs Perfex to answer
// nothing, neither confirmProbes probes in a row nor any other request,
// for confirmFor (probeOnce), so random faults among answers never pause
// the workers. Requiring an answer after the request began, not just
// within the window, keeps a sudden outage from using up attempts (and
// from dead-lettering commands at their limit) during the window after
// the last success. Only that confirmed verdict reaches the breaker as a failure,
// and it trips on the first; every answer from Perfex reaches it as a
// success. The gate also spaces the trials with capped exponential backoff
// (runProber), keeps messages alive rather than failing them (workers wait
// on the gate and never call through the breaker), and keeps the held
// state, above the breaker, which only a probe may leave.
type gate struct {
	log     *zap.Logger
	window  time.Duration
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]

	mu sync.Mutex
	// down mirrors "the breaker is not closed", set by onStateChange, so
	// that reading the gate never calls into the breaker: the breaker
	// calls onStateChange under its own lock, and onStateChange takes mu.
	// Never call the breaker while holding mu.
	down      bool
	cause     error     // the failure that confirmed the outage being reported
	since     time.Time // when the current outage or hold began
	heldBy    *crm.HeldError
	lastUp    time.Time // last non-transient answer from Perfex
	notBefore time.Time // rate limit: no request before this instant
	changed   chan struct{}
	probing   *probeCall
}

type gateState int

const (
	stateOpen gateState = iota
	stateOutage
	stateHeld
)

// verdict is the gate's answer to "is Perfex up?" for one failure.
type verdict int

const (
	verdictUp verdict = iota
	verdictDown
	verdictHeld
	verdictStopped
)

type probeCall struct {
	started time.Time
	done    chan struct{}
	verdict verdict
}

// Verdicts the breaker is given besides nil, an answer from Perfex.
var (
	// errPerfexDown is a confirmed outage, or a trial that failed.
	errPerfexDown = errors.New("perfex does not answer")
	// errNoVerdict ends a trial that settled nothing; the breaker ignores
	// it.
	errNoVerdict = errors.New("no verdict")
)

func newGate(log *zap.Logger, window time.Duration) *gate {
	g := &gate{log: log, window: window, changed: make(chan struct{})}
	g.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "perfex",
		MaxRequests: 1, // one trial at a time while half-open
		// Timeout is how long the breaker stays open before it admits a
		// trial. It is fixed, and the prober backs off exponentially, so
		// the prober does the waiting and Timeout is as short as the
		// library allows: by the time the prober asks, a trial is due.
		Timeout: time.Nanosecond,
		// Failures reach the breaker only once the gate has confirmed an
		// outage, so the first one trips it.
		ReadyToTrip:   func(c gobreaker.Counts) bool { return c.ConsecutiveFailures > 0 },
		IsExcluded:    func(err error) bool { return errors.Is(err, errNoVerdict) },
		OnStateChange: g.onStateChange,
	})
	return g
}

// broadcast wakes everyone waiting for a change. Callers hold g.mu.
func (g *gate) broadcast() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// stateLocked is the gate's state: a hold hides the breaker. Callers hold
// g.mu.
func (g *gate) stateLocked() gateState {
	switch {
	case g.heldBy != nil:
		return stateHeld
	case g.down:
		return stateOutage
	}
	return stateOpen
}

// onStateChange mirrors the breaker into the gate. Open and half-open are
// one outage, so only changes to and from closed matter; they are logged
// unless the worker is held, since the hold is what it reports then.
func (g *gate) onStateChange(_ string, _, to gobreaker.State) {
	g.mu.Lock()
	defer g.mu.Unlock()
	down := to != gobreaker.StateClosed
	if down == g.down {
		return
	}
	g.down = down
	switch {
	case g.heldBy != nil:
		// Not logged: the hold is what the worker reports.
	case down:
		g.log.Warn("Perfex is unreachable; pausing: no new commands are taken and none is dead-lettered until it answers",
			zap.String("error", dlq.Mask(errString(g.cause))))
		g.since = time.Now()
	default:
		g.log.Info("Perfex answers again; resuming", zap.Duration("outage", time.Since(g.since)))
	}
	g.broadcast()
}

// record gives the breaker a verdict reached outside a trial: nil for an
// answer from Perfex, errPerfexDown for a confirmed outage. While a trial
// holds the breaker's one half-open place the breaker refuses it; the
// trial then learns of an answer from lastUp.
func (g *gate) record(v error) {
	done, err := g.breaker.Allow()
	if err != nil {
		return
	}
	done(v)
}

// answered notes a non-transient answer from Perfex.
func (g *gate) answered() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lastUp = time.Now()
}

// markUp records an answer from Perfex: it ends an outage (not a hold).
func (g *gate) markUp() {
	g.answered()
	g.record(nil)
}

// enterOutage trips the breaker on a confirmed outage.
func (g *gate) enterOutage(cause error) {
	g.mu.Lock()
	g.cause = cause
	g.mu.Unlock()
	g.record(errPerfexDown)
}

// hold closes the gate until a probe succeeds.
func (g *gate) hold(h *crm.HeldError) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.heldBy != nil {
		return
	}
	g.log.Error("Perfex refuses this worker; holding all commands until the cause is fixed",
		zap.String("reason", string(h.Reason)),
		zap.Int("status", h.Status),
		zap.String("perfex_message", dlq.Mask(h.Message)))
	g.heldBy = h
	g.since = time.Now()
	g.broadcast()
}

// release ends a hold after a probe succeeded. The answer closes the
// breaker first, so the gate opens rather than showing an outage.
func (g *gate) release() {
	g.markUp()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.heldBy == nil {
		return
	}
	g.log.Info("Perfex accepts this worker again; resuming", zap.Duration("held", time.Since(g.since)))
	g.heldBy = nil
	g.broadcast()
}

// rateLimit makes every worker wait until t.
func (g *gate) rateLimit(t time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.After(g.notBefore) {
		g.notBefore = t
		g.broadcast()
	}
}

// snapshot returns the state, the rate-limit instant and a channel closed
// at the next change.
func (g *gate) snapshot() (gateState, time.Time, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stateLocked(), g.notBefore, g.changed
}

// wait blocks until the gate is open and any rate limit has passed.
func (g *gate) wait(ctx context.Context) error {
	for {
		state, notBefore, changed := g.snapshot()
		if state == stateOpen {
			d := time.Until(notBefore)
			if d <= 0 {
				return nil
			}
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-changed:
			case <-ctx.Done():
			}
			t.Stop()
		} else {
			select {
			case <-changed:
			case <-ctx.Done():
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// pullable reports whether new messages may be pulled: the gate is open
// and no rate limit lasts longer than slack.
func (g *gate) pullable(slack time.Duration) (bool, <-chan struct{}) {
	state, notBefore, changed := g.snapshot()
	return state == stateOpen && time.Until(notBefore) <= slack, changed
}

// status reports the gate for Consumer.Status.
func (g *gate) status() (outage, held bool, heldBy *crm.HeldError, since time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	state := g.stateLocked()
	return state == stateOutage, state == stateHeld, g.heldBy, g.since
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
