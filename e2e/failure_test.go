package e2e

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// healthyContacts are seeded contacts that accept updates (16, 17, 33
// and 34 are locked or read-only).
func healthyContacts(n int) []int64 {
	var ids []int64
	for id := int64(1); len(ids) < n; id++ {
		switch id {
		case 16, 17, 33, 34:
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// TestOutageResumesGraduallyAndLogsOnce: with Perfex down across many
// contacts nothing is dead-lettered, no attempt is used, the status says
// outage while it lasts, each transition is logged once (not once per
// command), and after recovery the waiting commands are released at a
// growing rate, not all at once.
func TestOutageResumesGraduallyAndLogsOnce(t *testing.T) {
	s := newFailStack(t, failOptions{maxDeliver: 2, recoveryRamp: 10 * time.Second, permissions: "command"})
	if err := s.sim.SetDown(true); err != nil {
		t.Fatal(err)
	}
	var cmds []cmd
	for _, id := range healthyContacts(24) {
		c := update(id, map[string]any{"title": fmt.Sprintf("Outage %d", id)})
		cmds = append(cmds, c)
		s.publish(c)
	}
	eventually(t, "the outage to be noticed", func() bool { return s.cons.Status().Outage })
	time.Sleep(3500 * time.Millisecond) // many retry intervals, and past the ramp's 3-second outage threshold
	if st := s.cons.Status(); !st.Outage || st.Since.IsZero() || !st.Bound {
		t.Fatalf("status during the outage = %+v, want bound and in outage", st)
	}
	for _, c := range cmds {
		if o, ok := s.final(c.id()); ok {
			t.Fatalf("command %s ended %s during the outage", c.id(), o.Kind)
		}
	}

	if err := s.sim.SetDown(false); err != nil {
		t.Fatal(err)
	}
	recovered := time.Now()
	for _, c := range cmds {
		if o := s.waitFinal(c.id()); o.Kind != consumer.Applied || o.Attempt != 1 {
			t.Errorf("command %s = %+v after the outage, want applied on its first delivery", c.id(), o)
		}
	}
	if st := s.cons.Status(); st.Outage {
		t.Errorf("status after recovery = %+v, still in outage", st)
	}

	// Two requests per command (read, write): 48 requests. Released at
	// once they would all finish within a few hundred milliseconds; the
	// ramp (2/s doubling every second) spreads them over about 4 seconds.
	inFirstSecond, last := 0, time.Duration(0)
	for _, c := range cmds {
		d := s.finalAt(c.id()).Sub(recovered)
		if d < time.Second {
			inFirstSecond++
		}
		last = max(last, d)
	}
	t.Logf("after recovery: %d of %d applied in the first second, the last after %s", inFirstSecond, len(cmds), last)
	if inFirstSecond > len(cmds)/3 {
		t.Errorf("%d of %d commands applied in the first second after recovery: not gradual", inFirstSecond, len(cmds))
	}
	if last < 2*time.Second {
		t.Errorf("every command applied within %s of recovery: not gradual", last)
	}

	if len(s.letters()) != 0 {
		t.Error("commands were dead-lettered because of an outage")
	}
	logs := s.logs.String()
	if n := logLines(logs, "Perfex is unreachable; pausing"); n != 1 {
		t.Errorf("the outage was logged %d times, want once", n)
	}
	if n := logLines(logs, "Perfex answers again; resuming"); n != 1 {
		t.Errorf("the recovery was logged %d times, want once", n)
	}
}

// TestPacingProvokesNo429: Perfex allows 20 requests per 2-second window;
// the client paces itself from X-RateLimit-Remaining/Reset so that a
// steady stream of commands never gets a 429.
func TestPacingProvokesNo429(t *testing.T) {
	s := newFailStack(t, failOptions{rateLimit: 20, rateWindow: 2 * time.Second, permissions: "command"})
	var cmds []cmd
	for i, id := range healthyContacts(30) {
		c := update(id, map[string]any{"phonenumber": fmt.Sprintf("+55 11 9000-%04d", i)})
		cmds = append(cmds, c)
		s.publish(c)
	}
	start := time.Now()
	for _, c := range cmds {
		if o := s.waitFinal(c.id()); o.Kind != consumer.Applied {
			t.Errorf("command %s = %+v", c.id(), o)
		}
	}
	st := s.sim.Stats()
	t.Logf("%d requests in %s, %d answered 429", st.Total(), time.Since(start).Round(time.Millisecond), st.RateLimited)
	if st.RateLimited != 0 {
		t.Errorf("the worker provoked %d 429 answers under a 20-per-2s limit", st.RateLimited)
	}
	if st.Total() <= 20 {
		t.Fatalf("only %d requests: the limit was never approached and the test proves nothing", st.Total())
	}
}

// TestClientSideLimit: --perfex-rps caps the request rate on its own,
// with no help from the headers.
func TestClientSideLimit(t *testing.T) {
	s := newFailStack(t, failOptions{rps: 10, permissions: "command"})
	var cmds []cmd
	for _, id := range healthyContacts(15) {
		c := update(id, map[string]any{"title": "Paced"})
		cmds = append(cmds, c)
		s.publish(c)
	}
	start := time.Now()
	for _, c := range cmds {
		s.waitFinal(c.id())
	}
	// 30 requests at 10 per second with a burst of 10: at least 2 seconds.
	if d := time.Since(start); d < 1800*time.Millisecond {
		t.Errorf("30 requests took %s at --perfex-rps 10", d)
	}
}

// TestRateLimitWaitsForReset: a 429 or a rate-limit 401 makes the worker
// wait until the announced reset; it is no attempt (the limit is one
// delivery, so a counted attempt would dead-letter) and no dead letter.
func TestRateLimitWaitsForReset(t *testing.T) {
	for _, kind := range []perfexsim.FaultKind{perfexsim.FaultStatus429, perfexsim.FaultRateLimit401} {
		t.Run(kind.String(), func(t *testing.T) {
			s := newFailStack(t, failOptions{maxDeliver: 1})
			s.sim.SetFaults(perfexsim.Faults{Rate: 1, Max: 1, Kinds: []perfexsim.FaultKind{kind},
				Methods: []string{"PUT"}, RetryAfter: 1500 * time.Millisecond})
			c := update(3, map[string]any{"title": "After the limit"})
			published := time.Now()
			s.publish(c)
			o := s.waitFinal(c.id())
			if o.Kind != consumer.Applied || o.Attempt != 1 {
				t.Fatalf("outcome = %+v, want applied on the first delivery", o)
			}
			if d := s.finalAt(c.id()).Sub(published); d < 1400*time.Millisecond {
				t.Errorf("applied %s after publishing: it did not wait for the reset 1.5s ahead", d)
			}
			if got := s.sim.Stats().Faults[kind]; got != 1 {
				t.Fatalf("%s served %d times, want 1", kind, got)
			}
			if n := len(s.letters()); n != 0 {
				t.Errorf("%d dead letters after a rate limit", n)
			}
			if got := s.contact(3).Title; got != "After the limit" {
				t.Errorf("title = %q", got)
			}
		})
	}
}

// TestSlowPerfexKeptAlive: every request takes longer than AckWait; the
// worker keeps the message alive with InProgress, the server does not
// redeliver it, and each command is applied once.
func TestSlowPerfexKeptAlive(t *testing.T) {
	s := newFailStack(t, failOptions{ackWait: time.Second, timeout: 10 * time.Second})
	s.sim.SetFaults(perfexsim.Faults{Latency: 1500 * time.Millisecond})
	var cmds []cmd
	for _, id := range []int64{2, 3, 4} {
		c := update(id, map[string]any{"title": "Slow but sure"})
		cmds = append(cmds, c)
		s.publish(c)
	}
	for _, c := range cmds {
		if o := s.waitFinal(c.id()); o.Kind != consumer.Applied || o.Attempt != 1 {
			t.Errorf("command %s = %+v, want applied on the first delivery", c.id(), o)
		}
		if n := len(s.outcomesOf(c.id())); n != 1 {
			t.Errorf("command %s had %d outcomes, want 1: %+v", c.id(), n, s.outcomesOf(c.id()))
		}
	}
	st := s.sim.Stats()
	if st.Applied != len(cmds) || st.Count("PUT", perfexsim.RouteContact, 200) != len(cmds) {
		t.Errorf("simulator applied %d updates with %d PUTs, want %d each",
			st.Applied, st.Count("PUT", perfexsim.RouteContact, 200), len(cmds))
	}
	info := s.consumerInfo()
	if info.NumRedelivered != 0 || info.NumAckPending != 0 {
		t.Errorf("consumer: %d redelivered, %d pending acks, want 0 and 0", info.NumRedelivered, info.NumAckPending)
	}
}

// TestPoisonContactReachesMaxDeliveries: one contact's requests keep
// failing transiently while the others succeed; its command is
// dead-lettered as max_deliveries after the attempt limit, and the
// others are applied.
func TestPoisonContactReachesMaxDeliveries(t *testing.T) {
	s := newFailStack(t, failOptions{maxDeliver: 3})
	s.sim.SetFaults(perfexsim.Faults{Rate: 1, Contacts: []int64{5}, Kinds: []perfexsim.FaultKind{perfexsim.FaultHTML503}})
	poison := update(5, map[string]any{"title": "Never"})
	s.publish(poison)
	var others []cmd
	for _, id := range []int64{1, 2, 3, 4, 6} {
		c := update(id, map[string]any{"title": "Fine"})
		others = append(others, c)
		s.publish(c)
	}
	for _, c := range others {
		if o := s.waitFinal(c.id()); o.Kind != consumer.Applied {
			t.Errorf("command %s = %+v", c.id(), o)
		}
	}
	o := s.waitFinal(poison.id())
	if o.Kind != consumer.DeadLettered || o.Reason != reason.MaxDeliveries || o.Attempt != 3 {
		t.Fatalf("poison outcome = %+v, want dead-lettered max_deliveries at delivery 3", o)
	}
	l, ok := s.letterFor(poison.id())
	if !ok || l.Reason != reason.MaxDeliveries || l.Status != 503 {
		t.Fatalf("dead letter = %+v (found %v)", l, ok)
	}
	if got := s.contact(5).Title; got == "Never" {
		t.Error("the poison command changed the contact")
	}
	eventually(t, "an empty command stream", func() bool { return s.pending() == 0 })
}

// TestConsumerDeletedOutOfBand: someone deletes the durable; the worker
// provisions it again and consumes what is published next.
func TestConsumerDeletedOutOfBand(t *testing.T) {
	s := newFailStack(t, failOptions{})
	before := update(2, map[string]any{"title": "Before"})
	s.publish(before)
	s.waitFinal(before.id())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.js.DeleteConsumer(ctx, "PERFEX_COMMANDS", "perfex-worker"); err != nil {
		t.Fatal(err)
	}
	after := update(3, map[string]any{"title": "After"})
	s.publish(after)
	if o := s.waitFinal(after.id()); o.Kind != consumer.Applied {
		t.Fatalf("after the deletion: %+v", o)
	}
	if _, err := s.js.Consumer(ctx, "PERFEX_COMMANDS", "perfex-worker"); err != nil {
		t.Fatalf("the durable was not provisioned again: %v", err)
	}
}

// TestNATSRestartSurvived: the server restarts with the same store; the
// commands published before, during and after are all applied once.
func TestNATSRestartSurvived(t *testing.T) {
	s := newFailStack(t, failOptions{})
	s.sim.SetFaults(perfexsim.Faults{Latency: 30 * time.Millisecond})
	var cmds []cmd
	for _, id := range healthyContacts(10) {
		c := update(id, map[string]any{"title": fmt.Sprintf("Before restart %d", id)})
		cmds = append(cmds, c)
		s.publish(c)
	}
	s.nats.Restart()
	for _, id := range healthyContacts(20)[10:] {
		c := update(id, map[string]any{"title": fmt.Sprintf("After restart %d", id)})
		cmds = append(cmds, c)
		s.publishRetrying(c)
	}
	for _, c := range cmds {
		if o := s.waitFinal(c.id()); o.Kind != consumer.Applied {
			t.Errorf("command %s = %+v", c.id(), o)
		}
	}
	eventually(t, "an empty command stream", func() bool { return s.pending() == 0 })
	for _, c := range cmds {
		id := c["contact_id"].(int64)
		if got, want := s.contact(id).Title, c["data"].(map[string]any)["title"]; got != want {
			t.Errorf("contact %d title = %q, want %q", id, got, want)
		}
	}
	if n := len(s.letters()); n != 0 {
		t.Errorf("%d dead letters", n)
	}
}

// TestSIGTERMDrainsWithinTimeout: a worker process stuck on slow requests
// gets SIGTERM; it exits cleanly within --drain-timeout plus the grace
// period, hands back what did not finish, and another worker applies it.
func TestSIGTERMDrainsWithinTimeout(t *testing.T) {
	s := newFailStack(t, failOptions{noWorker: true})
	s.sim.SetFaults(perfexsim.Faults{Latency: 8 * time.Second})
	var cmds []cmd
	for _, id := range healthyContacts(4) {
		c := update(id, map[string]any{"title": "Drained"})
		cmds = append(cmds, c)
		s.publish(c)
	}
	w := s.spawn(t, "--drain-timeout", "1s", "--perfex-timeout", "20s", "--metrics-addr=")
	eventually(t, "requests in flight", func() bool { return s.consumerInfo().NumAckPending == len(cmds) })

	start := time.Now()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := w.cmd.Wait()
	took := time.Since(start)
	if err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, tail(w.logs.String()))
	}
	// drain timeout 1s, 2s abandon grace, then the connection drain.
	if took > 6*time.Second {
		t.Errorf("the worker took %s to exit after SIGTERM with --drain-timeout 1s", took)
	}
	if logLines(w.logs.String(), "handed back") != len(cmds) {
		t.Errorf("no hand-back logged:\n%s", tail(w.logs.String()))
	}

	s.sim.SetFaults(perfexsim.Faults{})
	second := s.spawn(t, "--metrics-addr=")
	eventually(t, "an empty command stream", func() bool { return s.pending() == 0 })
	for _, c := range cmds {
		if got := s.contact(c["contact_id"].(int64)).Title; got != "Drained" {
			t.Errorf("contact %v title = %q", c["contact_id"], got)
		}
	}
	_ = second.cmd.Process.Signal(syscall.SIGTERM)
	_ = second.cmd.Wait()
	if n := len(s.letters()); n != 0 {
		t.Errorf("%d dead letters", n)
	}
}

// publishRetrying publishes c, retrying while the server is coming back.
func (s *stack) publishRetrying(c cmd) {
	s.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		err := s.tryPublish(c)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("publishing %s: %v", c.id(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *stack) consumerInfo() *jetstream.ConsumerInfo {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := s.js.Consumer(ctx, "PERFEX_COMMANDS", "perfex-worker")
	if err != nil {
		s.t.Fatalf("consumer: %v", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		s.t.Fatalf("consumer info: %v", err)
	}
	return info
}
