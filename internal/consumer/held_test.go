package consumer

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestHoldsTwiceConcurrencyRunsConcurrency: while Perfex is slow the
// process holds heldPerUpdate × Concurrency commands (their lease and
// clock round trips overlap the updates) but never runs more than
// Concurrency updates at once.
func TestHoldsTwiceConcurrencyRunsConcurrency(t *testing.T) {
	t.Parallel()
	f := setup(t)
	release := make(chan struct{})
	f.applier.script(func(ctx context.Context, _ int64, _ string, _ int) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}, nil)
	c, _ := f.start()

	const contacts = 20 // more than the process may hold
	for i := range contacts {
		f.publish(int64(1000+i), "t")
	}
	want := f.cfg.Concurrency * heldPerUpdate
	f.eventually("holding twice Concurrency, Concurrency of them in Perfex", func() bool {
		f.applier.mu.Lock()
		running := f.applier.parallel
		f.applier.mu.Unlock()
		return c.Status().InHand == want && running == f.cfg.Concurrency
	})

	close(release)
	f.eventually("every command applied", func() bool { return f.rec.count(Applied) == contacts })
	f.applier.mu.Lock()
	defer f.applier.mu.Unlock()
	if f.applier.maxPar > f.cfg.Concurrency {
		t.Errorf("%d updates ran at once, more than Concurrency = %d", f.applier.maxPar, f.cfg.Concurrency)
	}
}

// TestSlotWaitIsNotPartOfTheAttempt: a command waiting for an update slot
// while another command's request is answered, then failing because
// Perfex went down right after that answer, uses no attempt. Its request
// began after the answer; counting from before the wait would take the
// answer for a sign that Perfex was up during its own request, and with
// one delivery allowed it would be dead-lettered during an outage.
func TestSlotWaitIsNotPartOfTheAttempt(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.cfg.Concurrency = 1
	f.cfg.MaxDeliver = 1
	f.cfg.LocalRetries = -1
	release := make(chan struct{})
	var dead atomic.Bool
	f.applier.script(func(ctx context.Context, contact int64, _ string, _ int) error {
		if dead.Load() {
			return transient(503)
		}
		if contact == 1 {
			<-release
			dead.Store(true) // Perfex goes down right after this answer
		}
		return nil
	}, func() error {
		if dead.Load() {
			return transient(503)
		}
		return nil
	})
	c, _ := f.start()
	updating := func() int {
		f.applier.mu.Lock()
		defer f.applier.mu.Unlock()
		return f.applier.parallel
	}
	f.publish(1, "answered")
	f.eventually("the first command in its update", func() bool { return updating() == 1 })
	second := f.publish(2, "waits")
	f.eventually("the second command waiting for the slot", func() bool {
		return c.Status().InHand == 2 && updating() == 1
	})
	// In hand is not yet waiting for the slot: let its lease and clock
	// round trips (milliseconds) finish first.
	time.Sleep(300 * time.Millisecond)

	close(release)

	f.eventually("outage", func() bool { return c.Status().Outage })
	if n := f.rec.count(DeadLettered); n != 0 {
		t.Fatalf("%d commands dead-lettered during the outage: %+v", n, f.rec.outcomes())
	}
	dead.Store(false)
	f.eventually("the second command applied", func() bool { return f.rec.final()[second].Kind == Applied })
	if n := f.rec.count(DeadLettered); n != 0 {
		t.Errorf("%d commands dead-lettered: %+v", n, f.rec.outcomes())
	}
}
