package consumer

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

func TestOutageUsesNoAttempts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.cfg.MaxDeliver = 1
	down := func() error { return transient(0) }
	f.applier.script(func(context.Context, int64, string, int) error { return down() }, down)
	ids := []string{f.publish(1, "a"), f.publish(2, "b"), f.publish(3, "c")}

	c, _ := f.start()

	f.eventually("outage", func() bool { return c.Status().Outage })
	if err := c.Unready(); err == nil || !strings.Contains(err.Error(), "Perfex unreachable") {
		t.Errorf("Unready during an outage = %v", err)
	}
	// Let more than AckWait pass: in-hand messages must be kept alive, not
	// redelivered, and nothing may be dead-lettered or handed back.
	probes := f.applier.probeCount()
	f.eventually("probing", func() bool { return f.applier.probeCount() >= probes+3 })
	time.Sleep(testAckWait + testAckWait/4) // asserting an absence: time must pass
	if n := f.consumerInfo().NumRedelivered; n != 0 {
		t.Errorf("%d messages redelivered during the outage", n)
	}
	if n := len(f.rec.outcomes()); n != 0 {
		t.Errorf("outcomes during the outage: %+v", f.rec.outcomes())
	}
	if calls := f.applier.totalCalls(); calls > len(ids) {
		t.Errorf("%d updates during the outage; each command should wait after its first", calls)
	}

	f.applier.script(func(context.Context, int64, string, int) error { return nil }, func() error { return nil })

	f.eventually("all applied", func() bool { return f.rec.count(Applied) == len(ids) })
	for _, id := range ids {
		if o := f.rec.final()[id]; o.Attempt != 1 {
			t.Errorf("%s applied at attempt %d, want 1", id, o.Attempt)
		}
	}
	if c.Status().Outage || !c.Ready() {
		t.Errorf("after the outage: status %+v, ready %v", c.Status(), c.Ready())
	}
	if n := f.streamMsgs(f.names.DLQ); n != 0 {
		t.Errorf("%d dead letters", n)
	}
}

func TestHeldStopsUpdatesUntilProbeSucceeds(t *testing.T) {
	t.Parallel()
	f := setup(t)
	held := &crm.HeldError{Reason: reason.Authentication, Status: 401, Message: "Token is invalid"}
	f.applier.script(
		func(context.Context, int64, string, int) error { return held },
		func() error { return held },
	)
	ids := []string{f.publish(1, "a"), f.publish(2, "b")}

	c, _ := f.start()

	f.eventually("held", func() bool { return c.Status().Held })
	st := c.Status()
	if st.HeldReason != reason.Authentication || st.HeldMessage != "Token is invalid" || c.Ready() {
		t.Errorf("status = %+v, ready %v", st, c.Ready())
	}
	calls := f.applier.totalCalls()
	ids = append(ids, f.publish(3, "c"))
	probes := f.applier.probeCount()
	f.eventually("probing", func() bool { return f.applier.probeCount() >= probes+3 })
	if got := f.applier.totalCalls(); got != calls {
		t.Errorf("%d updates while held, want none", got-calls)
	}
	if f.rec.count(Held) == 0 {
		t.Error("no held outcome observed")
	}

	f.applier.script(func(context.Context, int64, string, int) error { return nil }, func() error { return nil })

	f.eventually("all applied", func() bool { return f.rec.count(Applied) == len(ids) })
	if c.Status().Held || !c.Ready() {
		t.Errorf("status after resuming = %+v", c.Status())
	}
	if f.rec.count(Retried) != 0 || f.rec.count(DeadLettered) != 0 {
		t.Errorf("outcomes = %+v", f.rec.outcomes())
	}
	f.eventually("command stream empty", func() bool { return f.streamMsgs(f.names.Commands) == 0 })
}

func TestRateLimitWaitsWithoutUsingAttempts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.cfg.MaxDeliver = 1
	f.cfg.LocalRetries = -1
	wait := 300 * time.Millisecond
	var limitedAt time.Time
	f.applier.script(func(_ context.Context, _ int64, _ string, call int) error {
		if call <= 2 {
			limitedAt = time.Now()
			return &crm.TransientError{Reason: reason.RateLimited, Status: 429, RetryAt: limitedAt.Add(wait), Err: errors.New("429")}
		}
		if time.Since(limitedAt) < wait {
			t.Errorf("retried %s after the rate limit, before its reset", time.Since(limitedAt))
		}
		return nil
	}, nil)
	id := f.publish(1, "a")

	f.start()

	f.eventually("applied", func() bool { return f.rec.final()[id].Kind == Applied })
	if diff := gocmp.Diff([]string{Applied}, kinds(f.rec.outcomes())); diff != "" {
		t.Errorf("outcome kinds (-want +got):\n%s", diff)
	}
	if o := f.rec.final()[id]; o.Attempt != 1 {
		t.Errorf("applied at attempt %d", o.Attempt)
	}
}

func kinds(os []Outcome) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.Kind)
	}
	return out
}

// flakyProbe fails its first fails calls transiently, then succeeds.
type flakyProbe struct {
	mu    sync.Mutex
	fails int
	calls int
}

func (p *flakyProbe) probe(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.calls <= p.fails {
		return transient(503)
	}
	return nil
}

// probesToOutage is how many failed probes in a row confirm an outage:
// one every confirmEvery until confirmFor has passed, and at least
// confirmProbes.
const probesToOutage = max(int(confirmFor/confirmEvery)+1, confirmProbes)

// Only Perfex answering nothing for confirmFor is an outage; faults with
// answers among them are not, however many in a row.
func TestGateConfirmsOutageOverTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fails      int
		want       verdict
		wantOutage bool
	}{
		{name: "single_fault_is_up", fails: 1, want: verdictUp},
		{name: "faults_then_an_answer_are_up", fails: probesToOutage - 1, want: verdictUp},
		{name: "no_answer_for_confirmFor_is_an_outage", fails: probesToOutage, want: verdictDown, wantOutage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.InfoLevel)
			g := newGate(zap.New(core), time.Minute)
			p := &flakyProbe{fails: tt.fails}

			got := g.check(t.Context(), time.Now(), p.probe)

			if got != tt.want {
				t.Errorf("verdict = %d, want %d", got, tt.want)
			}
			if want := min(tt.fails+1, probesToOutage); p.calls != want {
				t.Errorf("%d probes, want %d", p.calls, want)
			}
			outage, _, _, _ := g.status()
			if outage != tt.wantOutage {
				t.Errorf("outage = %v, want %v", outage, tt.wantOutage)
			}
			if tripped := g.breaker.State() != gobreaker.StateClosed; tripped != tt.wantOutage {
				t.Errorf("breaker %s, want tripped %v", g.breaker.State(), tt.wantOutage)
			}
			if n := g.breaker.Counts().TotalFailures; !tt.wantOutage && n != 0 {
				t.Errorf("breaker counted %d failures for a fault Perfex answered after", n)
			}
			if n := logs.FilterMessageSnippet("unreachable").Len(); n != btoi(tt.wantOutage) {
				t.Errorf("%d outage lines logged", n)
			}
		})
	}
}

func TestGateConfirmationHonoursContext(t *testing.T) {
	t.Parallel()
	g := newGate(zap.NewNop(), time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	probe := func(context.Context) error {
		cancel()
		return transient(503)
	}

	if got := g.check(ctx, time.Now(), probe); got != verdictStopped {
		t.Errorf("verdict = %d, want stopped", got)
	}
	if outage, _, _, _ := g.status(); outage {
		t.Error("entered an outage while stopping")
	}
}

func TestSingleProbeFaultCountsAsAttempt(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.cfg.MaxDeliver = 1
	f.cfg.LocalRetries = -1
	p := &flakyProbe{fails: 1}
	f.applier.script(func(_ context.Context, _ int64, _ string, call int) error {
		if call == 1 {
			return transient(503)
		}
		return nil
	}, func() error { return p.probe(context.Background()) })
	id := f.publish(1, "a")

	c, _ := f.start()

	// Perfex is up (the second probe answers), so the failure used the
	// only attempt: without confirmation the worker paused for an outage
	// and applied the command on its next try instead.
	f.eventually("settled", func() bool { return f.rec.final()[id].Kind != "" })
	if o := f.rec.final()[id]; o.Kind != DeadLettered || o.Reason != reason.MaxDeliveries {
		t.Errorf("outcome = %+v, want dead-lettered at the attempt limit", o)
	}
	if n := f.logged(zapcore.WarnLevel, "unreachable"); n != 0 || c.Status().Outage {
		t.Errorf("entered an outage (%d lines logged) on a single failed probe", n)
	}
}

func TestGateOutageTripsBreakerUntilAnAnswer(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	g := newGate(zap.New(core), time.Minute)
	_, changed := g.pullable(0)

	tripGate(t, g)

	if st := g.breaker.State(); st == gobreaker.StateClosed {
		t.Error("breaker closed after a confirmed outage")
	}
	if ok, _ := g.pullable(0); ok {
		t.Error("pullable during an outage")
	}
	if !isClosed(changed) {
		t.Error("waiters not woken when the outage began")
	}
	// Failures during the outage are answered from the breaker's state.
	p := &flakyProbe{fails: 100}
	if v := g.check(t.Context(), time.Now(), p.probe); v != verdictDown || p.calls != 0 {
		t.Errorf("verdict %d after %d probes, want down without probing", v, p.calls)
	}

	_, changed = g.pullable(0)
	g.markUp()
	g.markUp()

	if st := g.breaker.State(); st != gobreaker.StateClosed {
		t.Errorf("breaker %s after an answer, want closed", st)
	}
	if ok, _ := g.pullable(0); !ok || !isClosed(changed) {
		t.Errorf("pullable %v, woken %v after an answer", ok, isClosed(changed))
	}
	for _, line := range []string{"unreachable", "answers again"} {
		if n := logs.FilterMessageSnippet(line).Len(); n != 1 {
			t.Errorf("%q logged %d times, want once", line, n)
		}
	}
}

func TestGateProberBacksOffUntilPerfexAnswers(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	g := newGate(zap.New(core), time.Minute)
	p := &switchProbe{down: true}
	var mu sync.Mutex
	var ns []int
	// Perfex answers the fourth trial of the first outage and the second
	// of the next.
	backoff := func(n int) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		ns = append(ns, n)
		if len(ns) == 4 || len(ns) == 6 {
			p.set(false)
		}
		return time.Millisecond
	}
	tripGate(t, g)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.runProber(ctx, p.probe, backoff, time.Hour)
	}()
	defer func() { cancel(); <-done }()

	waitOpen(t, g)
	p.set(true)
	if v := g.check(t.Context(), time.Now(), p.probe); v != verdictDown {
		t.Fatalf("second outage: verdict %d, want down", v)
	}
	waitOpen(t, g)

	mu.Lock()
	defer mu.Unlock()
	if diff := gocmp.Diff([]int{0, 1, 2, 3, 0, 1}, ns); diff != "" {
		t.Errorf("backoff steps (-want +got):\n%s", diff)
	}
	if st := g.breaker.State(); st != gobreaker.StateClosed {
		t.Errorf("breaker %s after recovery, want closed", st)
	}
	for _, line := range []string{"unreachable", "answers again"} {
		if n := logs.FilterMessageSnippet(line).Len(); n != 2 {
			t.Errorf("%q logged %d times over two outages, want twice", line, n)
		}
	}
}

func TestGateAnswerDuringTrialEndsOutage(t *testing.T) {
	t.Parallel()
	g := newGate(zap.NewNop(), time.Minute)
	tripGate(t, g)
	// Another request gets an answer while the trial's probe is under way:
	// the breaker cannot record it then, so the trial must count it.
	probe := func(context.Context) error {
		g.markUp()
		if st := g.breaker.State(); st != gobreaker.StateHalfOpen {
			t.Errorf("breaker %s during its trial, want half-open", st)
		}
		return transient(503)
	}
	runProberFor(t, g, probe)

	waitOpen(t, g)

	if st := g.breaker.State(); st != gobreaker.StateClosed {
		t.Errorf("breaker %s, want closed", st)
	}
}

func TestGateHoldHidesTheBreaker(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	g := newGate(zap.New(core), time.Minute)
	tripGate(t, g)

	g.hold(&crm.HeldError{Reason: reason.Authentication, Status: 401})

	if outage, held, _, _ := g.status(); outage || !held {
		t.Errorf("outage %v, held %v; want held only", outage, held)
	}

	g.release()

	if outage, held, _, _ := g.status(); outage || held {
		t.Errorf("after release: outage %v, held %v; want open", outage, held)
	}
	if st := g.breaker.State(); st != gobreaker.StateClosed {
		t.Errorf("breaker %s after release, want closed", st)
	}
	if n := logs.FilterMessageSnippet("answers again").Len(); n != 0 {
		t.Errorf("the end of an outage hidden by the hold was logged %d times", n)
	}
	if n := logs.FilterMessageSnippet("accepts this worker again").Len(); n != 1 {
		t.Errorf("release logged %d times, want once", n)
	}
}

// tripGate confirms an outage on g with failed probes.
func tripGate(t *testing.T, g *gate) {
	t.Helper()
	p := &flakyProbe{fails: probesToOutage}
	if v := g.check(t.Context(), time.Now(), p.probe); v != verdictDown {
		t.Fatalf("verdict = %d, want down", v)
	}
}

// runProberFor runs g's prober with probe (retrying every millisecond)
// until the test ends.
func runProberFor(t *testing.T, g *gate, probe func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.runProber(ctx, probe, func(int) time.Duration { return time.Millisecond }, time.Hour)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// waitOpen waits until the gate lets workers through.
func waitOpen(t *testing.T, g *gate) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	if err := g.wait(ctx); err != nil {
		t.Fatalf("gate still closed: %v", err)
	}
}

// switchProbe fails transiently while down.
type switchProbe struct {
	mu   sync.Mutex
	down bool
}

func (p *switchProbe) set(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

func (p *switchProbe) probe(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return transient(503)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A probe answered with a rate limit, with or without a reset instant, is
// an answer from Perfex, not an outage: it must not log "unreachable" nor
// report an outage (which makes /readyz answer "Perfex unreachable"), and
// it counts as Perfex answering.
func TestGateRateLimitedProbeIsNotAnOutage(t *testing.T) {
	t.Parallel()
	for name, retryAt := range map[string]time.Duration{"with_reset": 200 * time.Millisecond, "without_reset": 0} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.InfoLevel)
			g := newGate(zap.New(core), time.Minute)
			probe := func(context.Context) error { return rateLimitedAnswer(retryAt) }
			began := time.Now()

			if v := g.check(t.Context(), began, probe); v != verdictDown {
				t.Errorf("verdict %d, want down (the command is parked, no attempt used)", v)
			}

			if outage, _, _, _ := g.status(); outage {
				t.Errorf("a rate-limited probe reported an outage (readiness: Perfex unreachable)")
			}
			if n := logs.FilterMessageSnippet("unreachable").Len(); n != 0 {
				t.Errorf("a rate-limited probe logged %d \"unreachable\" lines", n)
			}
			if _, notBefore, _ := g.snapshot(); !notBefore.After(began) {
				t.Error("a rate-limited probe set no wait")
			}
			if !g.answeredSince(began) {
				t.Error("a rate-limited probe was not counted as Perfex answering")
			}
		})
	}
}

// Perfex comes back from an outage with its rate window used up: the
// trial's rate-limit answer ends the outage, and the workers wait for the
// reset.
func TestGateRateLimitedTrialEndsOutage(t *testing.T) {
	t.Parallel()
	for name, retryAt := range map[string]time.Duration{"with_reset": 300 * time.Millisecond, "without_reset": 0} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := newGate(zap.NewNop(), time.Minute)
			tripGate(t, g)
			probe := func(context.Context) error { return rateLimitedAnswer(retryAt) }
			runProberFor(t, g, probe)

			waitOpen(t, g)

			if outage, _, _, _ := g.status(); outage {
				t.Error("still an outage after Perfex answered the trial")
			}
			if st := g.breaker.State(); st != gobreaker.StateClosed {
				t.Errorf("breaker %s, want closed", st)
			}
		})
	}
}

// rateLimitedAnswer is Perfex's 429, naming a reset retryAt from now, or
// none when retryAt is 0.
func rateLimitedAnswer(retryAt time.Duration) error {
	e := &crm.TransientError{Reason: reason.RateLimited, Status: 429, Err: errors.New("too many requests")}
	if retryAt > 0 {
		e.RetryAt = time.Now().Add(retryAt)
	}
	return e
}

// A hold entered first, then an outage confirmed by a probe already under
// way, then the release: the hidden outage is never logged, the gate
// opens, and a later outage is logged with its own start.
func TestGateOutageDuringHoldThenRelease(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	g := newGate(zap.New(core), time.Minute)

	g.hold(&crm.HeldError{Reason: reason.Authentication, Status: 401})
	holdSince := g.since
	g.enterOutage(transient(503))
	if outage, held, _, _ := g.status(); outage || !held {
		t.Fatalf("outage %v held %v; want held only", outage, held)
	}
	g.release()
	if outage, held, _, _ := g.status(); outage || held {
		t.Fatalf("after release: outage %v held %v", outage, held)
	}
	if n := logs.FilterMessageSnippet("unreachable").Len(); n != 0 {
		t.Errorf("an outage hidden by a hold was logged %d times", n)
	}

	time.Sleep(5 * time.Millisecond)
	tripGate(t, g)
	outage, _, _, since := g.status()
	if !outage || !since.After(holdSince) {
		t.Errorf("outage %v since %v (hold began %v)", outage, since, holdSince)
	}
}

// Hammer every entry point at once: no deadlock between the breaker's
// lock (held during OnStateChange) and the gate's, no race, and the gate
// ends open once Perfex answers.
func TestGateConcurrentNoDeadlock(t *testing.T) {
	t.Parallel()
	g := newGate(zap.NewNop(), 50*time.Millisecond)
	var down sync.Mutex
	isDown := true
	probe := func(context.Context) error {
		down.Lock()
		defer down.Unlock()
		if isDown || rand.N(4) == 0 {
			return transient(503)
		}
		return nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { g.runProber(ctx, probe, func(int) time.Duration { return time.Millisecond }, time.Millisecond) })
	for i := range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				switch rand.N(6) {
				case 0:
					g.markUp()
				case 1:
					g.check(ctx, time.Now(), probe)
				case 2:
					if i == 0 {
						g.hold(&crm.HeldError{Reason: reason.Authentication, Status: 401})
					}
				case 3:
					g.release()
				case 4:
					g.status()
					g.pullable(0)
				case 5:
					g.enterOutage(transient(503))
				}
			}
		})
	}
	time.Sleep(time.Second)
	cancel()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("gate deadlocked")
	}

	down.Lock()
	isDown = false
	down.Unlock()
	g.release()
	if outage, held, _, _ := g.status(); outage || held {
		t.Errorf("after an answer: outage %v held %v", outage, held)
	}
}

// A probe slower than confirmFor that fails is not an outage by itself:
// an answer to one of the next probes keeps Perfex up.
func TestGateSlowFailedProbeIsNoOutage(t *testing.T) {
	t.Parallel()
	g := newGate(zap.NewNop(), time.Minute)
	calls := 0
	probe := func(context.Context) error {
		calls++
		if calls == 1 {
			time.Sleep(confirmFor + confirmEvery) // a timeout
			return transient(0)
		}
		if calls < confirmProbes {
			return transient(503)
		}
		return nil
	}
	if v := g.check(t.Context(), time.Now(), probe); v != verdictUp {
		t.Errorf("verdict = %d after %d probes, want up", v, calls)
	}
	if outage, _, _, _ := g.status(); outage {
		t.Error("an outage after one slow failed probe")
	}
}
