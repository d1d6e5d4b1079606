package consumer

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/reason"
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
// Deciding whether a transient failure is the command's or Perfex's: the
// failure counts as an attempt only if Perfex gave a non-transient answer
// to another request (or a probe) after the failed request began and
// within OutageWindow. Otherwise the gate probes, shared by every failure
// waiting on the same question: an answer means Perfex is up; an outage
// needs a second failed probe shortly after the first (probeOnce), so a
// single random fault does not pause every worker. Requiring an answer after the request began, not just
// within the window, keeps a sudden outage from using up attempts (and
// from dead-lettering commands at their limit) during the window after the
// last success.
//
// A circuit breaker such as sony/gobreaker was considered: it trips on
// counts of consecutive failures and then refuses calls, while this gate
// trips on the absence of any answer, must keep messages alive rather
// than fail them, and has a held state that only a probe may leave, so a
// breaker would have needed as much code around it as this.
type gate struct {
	log    *zap.Logger
	window time.Duration

	mu        sync.Mutex
	state     gateState
	since     time.Time // when the current closed state began
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

func newGate(log *zap.Logger, window time.Duration) *gate {
	return &gate{log: log, window: window, changed: make(chan struct{})}
}

// broadcast wakes everyone waiting for a change. Callers hold g.mu.
func (g *gate) broadcast() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// markUp records an answer from Perfex and ends an outage (not a hold).
func (g *gate) markUp() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lastUp = time.Now()
	if g.state == stateOutage {
		g.log.Info("Perfex answers again; resuming", zap.Duration("outage", time.Since(g.since)))
		g.state = stateOpen
		g.broadcast()
	}
}

// enterOutage closes an open gate because Perfex does not answer.
func (g *gate) enterOutage(cause error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != stateOpen {
		return
	}
	g.log.Warn("Perfex is unreachable; pausing: no new commands are taken and none is dead-lettered until it answers",
		zap.String("error", dlq.Mask(errString(cause))))
	g.state = stateOutage
	g.since = time.Now()
	g.broadcast()
}

// hold closes the gate until a probe succeeds.
func (g *gate) hold(h *crm.HeldError) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == stateHeld {
		return
	}
	g.log.Error("Perfex refuses this worker; holding all commands until the cause is fixed",
		zap.String("reason", string(h.Reason)),
		zap.Int("status", h.Status),
		zap.String("perfex_message", dlq.Mask(h.Message)))
	g.state = stateHeld
	g.heldBy = h
	g.since = time.Now()
	g.broadcast()
}

// release ends a hold after a probe succeeded.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lastUp = time.Now()
	if g.state == stateOpen {
		return
	}
	g.log.Info("Perfex accepts this worker again; resuming", zap.Duration("held", time.Since(g.since)))
	g.state = stateOpen
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
	return g.state, g.notBefore, g.changed
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

// check answers whether Perfex is up for a transient failure of a request
// that began at since, probing once when nothing else has answered since.
func (g *gate) check(ctx context.Context, since time.Time, probe func(context.Context) error) verdict {
	for {
		g.mu.Lock()
		switch {
		case g.state == stateOutage:
			g.mu.Unlock()
			return verdictDown
		case g.state == stateHeld:
			g.mu.Unlock()
			return verdictHeld
		case !g.lastUp.Before(since) && time.Since(g.lastUp) <= g.window:
			g.mu.Unlock()
			return verdictUp
		}
		if p := g.probing; p != nil {
			g.mu.Unlock()
			select {
			case <-p.done:
			case <-ctx.Done():
				return verdictStopped
			}
			if !p.started.Before(since) {
				return p.verdict
			}
			continue
		}
		p := &probeCall{started: time.Now(), done: make(chan struct{})}
		g.probing = p
		g.mu.Unlock()

		p.verdict = g.probeOnce(ctx, probe)

		g.mu.Lock()
		g.probing = nil
		g.mu.Unlock()
		close(p.done)
		return p.verdict
	}
}

// confirmPause is how long the gate waits after a failed probe before the
// second probe that must also fail for an outage to begin. One failure is
// not enough: under a steady rate of random faults a single lost probe
// declared hundreds of outages a minute, each pausing every worker.
const confirmPause = 75 * time.Millisecond

// probeOnce probes Perfex and moves the gate according to the answer. A
// failure is confirmed before it closes the gate: after confirmPause a
// second probe must fail too, and an answer to any request in between
// means Perfex is up. A rate limit is an explicit answer and needs no
// confirmation.
func (g *gate) probeOnce(ctx context.Context, probe func(context.Context) error) verdict {
	began := time.Now()
	err := probe(ctx)
	if v, decided := g.judgeProbe(ctx, err); decided {
		return v
	}

	t := time.NewTimer(confirmPause)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return verdictStopped
	}
	if g.answeredSince(began) {
		return verdictUp
	}
	err2 := probe(ctx)
	if v, decided := g.judgeProbe(ctx, err2); decided {
		return v
	}
	g.enterOutage(err2)
	return verdictDown
}

// judgeProbe moves the gate for a probe's answer. It reports decided=false
// for a failure that still needs confirming.
func (g *gate) judgeProbe(ctx context.Context, err error) (v verdict, decided bool) {
	if ctx.Err() != nil {
		return verdictStopped, true
	}
	var held *crm.HeldError
	var transient *crm.TransientError
	switch {
	case err == nil:
		g.markUp()
		return verdictUp, true
	case errors.As(err, &held):
		g.hold(held)
		return verdictHeld, true
	case errors.As(err, &transient) && transient.Reason == reason.RateLimited && !transient.RetryAt.IsZero():
		g.rateLimit(transient.RetryAt)
		g.enterOutage(err)
		return verdictDown, true
	}
	return verdictDown, false
}

// answeredSince reports whether Perfex gave a non-transient answer to any
// request after t.
func (g *gate) answeredSince(t time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.lastUp.Before(t)
}

// runProber probes Perfex while the gate is closed: with backoff(n) after
// the n-th failed probe of an outage, every heldEvery while held. It
// returns when ctx ends.
func (g *gate) runProber(ctx context.Context, probe func(context.Context) error,
	backoff func(n int) time.Duration, heldEvery time.Duration) {
	n := 0
	for {
		state, _, changed := g.snapshot()
		var delay time.Duration
		switch state {
		case stateOpen:
			n = 0
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return
			}
		case stateOutage:
			delay = backoff(n)
			n++
		case stateHeld:
			delay = heldEvery
		}
		if !g.sleepInState(ctx, state, delay, changed) {
			if ctx.Err() != nil {
				return
			}
			continue
		}

		err := probe(ctx)
		if ctx.Err() != nil {
			return
		}
		var held *crm.HeldError
		var transient *crm.TransientError
		switch {
		case err == nil && state == stateHeld:
			g.release()
		case err == nil:
			g.markUp()
		case errors.As(err, &held):
			g.hold(held)
		case errors.As(err, &transient) && transient.Reason == reason.RateLimited && !transient.RetryAt.IsZero():
			g.rateLimit(transient.RetryAt)
		default:
			g.log.Debug("probe failed", zap.String("error", dlq.Mask(err.Error())))
		}
	}
}

// sleepInState waits d and reports true, or reports false early when the
// gate leaves state or ctx ends. Other changes (a rate limit) do not cut
// the wait short.
func (g *gate) sleepInState(ctx context.Context, state gateState, d time.Duration, changed <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		case <-changed:
			var now gateState
			now, _, changed = g.snapshot()
			if now != state {
				return false
			}
		}
	}
}

// status reports the gate for Consumer.Status.
func (g *gate) status() (outage, held bool, heldBy *crm.HeldError, since time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state == stateOutage, g.state == stateHeld, g.heldBy, g.since
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
