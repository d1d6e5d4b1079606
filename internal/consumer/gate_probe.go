package consumer

import (
	"context"
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"

	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// Probing: how the gate finds out whether Perfex is up (check, probeOnce)
// and, while it is closed, when it may open again (runProber, trial).

// check answers whether Perfex is up for a transient failure of a request
// that began at since, probing once when nothing else has answered since.
func (g *gate) check(ctx context.Context, since time.Time, probe func(context.Context) error) verdict {
	for {
		g.mu.Lock()
		state := g.stateLocked()
		switch {
		case state == stateOutage:
			g.mu.Unlock()
			return verdictDown
		case state == stateHeld:
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

// An outage begins only when Perfex has given no answer at all for
// confirmFor and to confirmProbes probes in a row (one every
// confirmEvery), and no other request was answered meanwhile. Two failed
// probes were not enough: under a steady rate of random faults (a quarter
// of requests in the chaos suite) they declared hundreds of outages in a
// few minutes, each pausing every worker, while three requests in four
// were answered; time alone is not enough either, since a single probe
// that times out can take longer than confirmFor.
const (
	confirmFor    = time.Second
	confirmEvery  = 200 * time.Millisecond
	confirmProbes = 4
)

// probeOnce probes Perfex and moves the gate according to the answer. A
// failure is confirmed before it closes the gate: the probes go on for
// confirmFor and confirmProbes probes, and an answer to a probe or to any
// other request in that time means Perfex is up. A rate limit is an
// explicit answer and needs no confirmation: every worker waits for its
// reset, and the failure that led to the probe uses no attempt, but it is
// no outage.
func (g *gate) probeOnce(ctx context.Context, probe func(context.Context) error) verdict {
	began := time.Now()
	for failed := 1; ; failed++ {
		err := probe(ctx)
		if v, decided := g.judgeProbe(ctx, err); decided {
			return v
		}
		if g.answeredSince(began) {
			return verdictUp
		}
		if failed >= confirmProbes && time.Since(began) >= confirmFor {
			g.enterOutage(err)
			return verdictDown
		}
		t := time.NewTimer(confirmEvery)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return verdictStopped
		}
		if g.answeredSince(began) {
			return verdictUp
		}
	}
}

// judgeProbe moves the gate for a probe's answer. It reports decided=false
// for a failure that still needs confirming.
func (g *gate) judgeProbe(ctx context.Context, err error) (v verdict, decided bool) {
	if ctx.Err() != nil {
		return verdictStopped, true
	}
	var held *crm.HeldError
	switch {
	case err == nil:
		g.markUp()
		return verdictUp, true
	case errors.As(err, &held):
		g.hold(held)
		return verdictHeld, true
	}
	if until, ok := rateLimitedUntil(err); ok {
		// Perfex answered, so it is up; but the command that led to the
		// probe uses no attempt for it: parked, it waits on the gate for
		// the reset and is tried again.
		g.answered()
		g.rateLimit(until)
		return verdictDown, true
	}
	return verdictDown, false
}

// noResetWait is how long every worker waits after a rate-limit answer
// that names no reset instant.
const noResetWait = time.Second

// rateLimitedUntil reports whether err is Perfex's rate-limit answer (a
// 429, or the older 401 for a rate limit) and until when to wait: the
// reset it named, or noResetWait from now. A rate limit is an answer:
// Perfex is up, only busy.
func rateLimitedUntil(err error) (time.Time, bool) {
	var transient *crm.TransientError
	if !errors.As(err, &transient) || transient.Reason != reason.RateLimited {
		return time.Time{}, false
	}
	if transient.RetryAt.IsZero() {
		return time.Now().Add(noResetWait), true
	}
	return transient.RetryAt, true
}

// answeredSince reports whether Perfex gave a non-transient answer to any
// request after t.
func (g *gate) answeredSince(t time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.lastUp.Before(t)
}

// runProber probes Perfex while the gate is closed: with backoff(n) after
// the n-th failed probe of an outage, every heldEvery while held. In an
// outage each probe is the breaker's trial; the fixed Timeout after which
// the library would admit one cannot grow, so the waiting is done here. It
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
		if state == stateOutage {
			g.trial(ctx, probe)
			continue
		}

		err := probe(ctx)
		if ctx.Err() != nil {
			return
		}
		var held *crm.HeldError
		until, rateLimited := rateLimitedUntil(err)
		switch {
		case err == nil:
			g.release()
		case errors.As(err, &held):
			g.hold(held)
		case rateLimited:
			// Still held: only a probe that succeeds shows the worker is
			// accepted again.
			g.rateLimit(until)
		default:
			g.log.Debug("probe failed", zap.String("error", dlq.Mask(err.Error())))
		}
	}
}

// trial is one probe as the breaker's half-open trial: an answer closes
// the breaker, a failure opens it again. An answer to another request
// while the probe was under way counts too, since the breaker refused to
// record it while the trial held its place.
func (g *gate) trial(ctx context.Context, probe func(context.Context) error) {
	// Taken before Allow: an answer that the breaker refuses to record
	// once the trial holds its place is then still seen by answeredSince.
	began := time.Now()
	done, err := g.breaker.Allow()
	if err != nil {
		return
	}
	if g.breaker.State() == gobreaker.StateClosed {
		// An answer closed the breaker after the prober chose to probe:
		// a failed probe now would trip it unconfirmed.
		done(errNoVerdict)
		return
	}

	err = probe(ctx)
	var held *crm.HeldError
	until, rateLimited := rateLimitedUntil(err)
	switch {
	case ctx.Err() != nil:
		done(errNoVerdict)
	case err == nil:
		g.answered()
		done(nil)
	case errors.As(err, &held):
		g.hold(held)
		done(nil)
	case rateLimited:
		// Perfex is back, busy: the outage ends, and every worker waits
		// for the reset before its first request.
		g.rateLimit(until)
		g.answered()
		done(nil)
	case g.answeredSince(began):
		done(nil)
	default:
		g.log.Debug("probe failed", zap.String("error", dlq.Mask(err.Error())))
		done(errPerfexDown)
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
