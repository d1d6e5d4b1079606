package crm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Pacing: every request the client makes (updates, reads, the permissions
// table, probes) passes through one pacer per Client, which holds it back
// for three independent reasons, in this order:
//
//  1. the configured client-side limit (Config.RequestsPerSecond and
//     Config.Burst), a token bucket from golang.org/x/time/rate;
//  2. the recovery ramp: after Perfex stopped answering (outageAfter
//     failures in a row with no answer in between) the first answer starts
//     a slow start, RecoveryStartRate requests per second doubling every
//     second, for Config.RecoveryRamp, so that the work that piled up
//     during an outage does not reach a PHP server that just came back
//     all at once;
//  3. the server's own budget, read from X-RateLimit-Limit, -Remaining and
//     -Reset: the requests left in the window are spread evenly over the
//     time left until Reset, and when none are left the request waits
//     until Reset. Requests in flight count against the budget before
//     their replies say so, so concurrent requests cannot overdraw it.
//
// None of this replaces the handling of a 429: a limit shared with other
// API users can still be exceeded, and the consumer then waits until the
// Reset instant the reply announced.

// Defaults of the pacing fields of Config.
const (
	// DefaultRecoveryRamp is how long the slow start after an outage lasts.
	DefaultRecoveryRamp = 10 * time.Second
	// RecoveryStartRate is the request rate the slow start begins with.
	RecoveryStartRate = 2.0
	// outageAfter and outageFor: at least outageAfter failed requests in a
	// row, over at least outageFor with no answer in between, make the next
	// answer the end of an outage. Random faults between answers do not.
	outageAfter = 3
	outageFor   = 3 * time.Second
	// resetMargin is added to the announced Reset before a request that
	// waits for a new window goes out: X-RateLimit-Reset has one-second
	// resolution and clocks differ slightly.
	resetMargin = 50 * time.Millisecond
)

// pacer decides when the next request may leave. The zero value paces only
// from the headers, without ramp.
type pacer struct {
	limit *rate.Limiter // nil: no client-side limit
	ramp  time.Duration // 0: no recovery ramp
	now   func() time.Time

	mu sync.Mutex
	// server budget, from the freshest reply
	known    bool
	budget   int       // requests the window still allows, ours in flight deducted
	reset    time.Time // end of the window
	window   int       // X-RateLimit-Limit
	next     time.Time // earliest instant of the next grant in this window
	inFlight int
	// recovery
	failures     int
	failingSince time.Time
	rampFrom     time.Time // zero: not ramping
	rampLimit    *rate.Limiter
}

func newPacer(cfg Config) *pacer {
	p := &pacer{ramp: cfg.RecoveryRamp, now: time.Now}
	if cfg.RequestsPerSecond > 0 {
		p.limit = rate.NewLimiter(rate.Limit(cfg.RequestsPerSecond), cfg.Burst)
	}
	return p
}

// wait blocks until a request may leave, or ctx ends. A nil error means
// the caller must call done once the request has its answer (or failed).
func (p *pacer) wait(ctx context.Context) error {
	if p.limit != nil {
		if err := p.limit.Wait(ctx); err != nil {
			return err
		}
	}
	if rl := p.rampLimiter(); rl != nil {
		if err := rl.Wait(ctx); err != nil {
			return err
		}
	}
	at := p.reserve()
	if d := at.Sub(p.now()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			p.cancel()
			return ctx.Err()
		}
	}
	return nil
}

// rampLimiter returns the slow-start limiter while a ramp lasts, with its
// rate brought up to date, and nil otherwise.
func (p *pacer) rampLimiter() *rate.Limiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rampFrom.IsZero() {
		return nil
	}
	elapsed := p.now().Sub(p.rampFrom)
	if elapsed >= p.ramp {
		p.rampFrom, p.rampLimit = time.Time{}, nil
		return nil
	}
	r := RecoveryStartRate * math.Exp2(elapsed.Seconds())
	if p.limit != nil && r >= float64(p.limit.Limit()) {
		p.rampFrom, p.rampLimit = time.Time{}, nil
		return nil
	}
	p.rampLimit.SetLimit(rate.Limit(r))
	return p.rampLimit
}

// reserve takes one request from the server's budget and returns when it
// may leave.
func (p *pacer) reserve() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.inFlight++
	if !p.known {
		return now
	}
	if !now.Before(p.reset) {
		// The window is over; the next reply says what the new one allows.
		// Until then assume a full window, less what is in flight.
		p.known = p.window > 0
		p.budget = p.window - (p.inFlight - 1)
		p.reset = now.Add(time.Second)
		p.next = now
		if !p.known {
			return now
		}
	}
	p.budget--
	if p.budget < 0 {
		// Nothing left: wait for the next window.
		return p.reset.Add(resetMargin)
	}
	at := now
	if p.next.After(at) {
		at = p.next
	}
	// Spread what is left evenly over the rest of the window.
	p.next = at.Add(p.reset.Sub(at) / time.Duration(p.budget+1))
	return at
}

// cancel gives back a reservation whose request was never sent.
func (p *pacer) cancel() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight--
	if p.known {
		p.budget++
	}
}

// done records the answer to a request: answered is false when no HTTP
// answer came or it was a 5xx (Perfex or its proxy is in trouble), and rl
// is what the reply's headers said.
func (p *pacer) done(answered bool, rl RateLimit) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.inFlight--

	if !answered {
		if p.failures == 0 {
			p.failingSince = now
		}
		p.failures++
	} else {
		if p.failures >= outageAfter && now.Sub(p.failingSince) >= outageFor && p.ramp > 0 {
			p.rampFrom = now
			p.rampLimit = rate.NewLimiter(RecoveryStartRate, 1)
		}
		p.failures = 0
	}

	if !rl.Known || rl.Reset.IsZero() || !rl.Reset.After(now) {
		return
	}
	// Others still in flight may have been counted by the server after
	// this reply was made: deduct them.
	left := rl.Remaining - p.inFlight
	switch {
	case !p.known || rl.Reset.After(p.reset.Add(time.Second)):
		// A later window than the one we pace by (the estimated window
		// after a reset lasts one second, so allow for that).
		p.known, p.reset, p.budget, p.next = true, rl.Reset, left, now
	case left < p.budget:
		// Fewer left than we thought: trust the reply, its reset included
		// (a 429 from a shorter limit announces an earlier one).
		p.budget, p.reset = left, rl.Reset
	}
	if rl.Limit > 0 {
		p.window = rl.Limit
	}
}

// answered reports whether an HTTP status means Perfex answered for
// pacing purposes: a 5xx says its server or proxy is in trouble.
func answered(status int) bool {
	return status > 0 && status < http.StatusInternalServerError
}

// validatePacing checks the pacing fields of Config.
func (c Config) validatePacing() error {
	switch {
	case c.RequestsPerSecond < 0 || math.IsNaN(c.RequestsPerSecond) || math.IsInf(c.RequestsPerSecond, 0):
		return fmt.Errorf("crm config: RequestsPerSecond must be a positive number or 0 (no limit), got %g", c.RequestsPerSecond)
	case c.Burst < 0:
		return fmt.Errorf("crm config: Burst must not be negative, got %d", c.Burst)
	case c.Burst > 0 && c.RequestsPerSecond == 0:
		return errors.New("crm config: Burst needs RequestsPerSecond")
	}
	return nil
}

// pacingDefaults fills the zero pacing fields.
func (c Config) pacingDefaults() Config {
	if c.RequestsPerSecond > 0 && c.Burst == 0 {
		c.Burst = max(1, int(math.Ceil(c.RequestsPerSecond)))
	}
	switch {
	case c.RecoveryRamp == 0:
		c.RecoveryRamp = DefaultRecoveryRamp
	case c.RecoveryRamp < 0:
		c.RecoveryRamp = 0
	}
	return c
}
