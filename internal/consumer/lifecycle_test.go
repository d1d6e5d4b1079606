package consumer

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

func TestSameContactRunsInOrder(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.applier.script(func(context.Context, int64, string, int) error {
		time.Sleep(3 * time.Millisecond) // widen the window for overlaps
		return nil
	}, nil)
	want := map[int64][]string{}
	for i := range 12 {
		for _, contact := range []int64{1, 2} {
			tag := string(rune('a' + i))
			f.publish(contact, tag)
			want[contact] = append(want[contact], tag)
		}
	}

	f.start()

	// Commands waiting together are merged, so not every tag reaches the
	// applier; those that do must come in publish order, ending with the
	// last.
	f.eventually("all settled", func() bool { return f.rec.count(Applied)+f.rec.count(Superseded) == 24 })
	f.applier.mu.Lock()
	defer f.applier.mu.Unlock()
	for contact, tags := range want {
		got := f.applier.tags[contact]
		if !isSubsequence(got, tags) || len(got) == 0 || got[len(got)-1] != tags[len(tags)-1] {
			t.Errorf("contact %d: applied %v, want an ordered subsequence of %v ending with the last", contact, got, tags)
		}
	}
	if f.applier.overlap {
		t.Error("two updates of one contact ran at once")
	}
	if f.applier.maxPar < 2 {
		t.Errorf("at most %d updates at once; different contacts should run in parallel", f.applier.maxPar)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()

	t.Run("in_flight_finishes", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		release := make(chan struct{})
		entered := make(chan struct{}, 1)
		f.applier.script(func(ctx context.Context, contact int64, _ string, _ int) error {
			if contact == 1 {
				entered <- struct{}{}
				<-release
			}
			return nil
		}, nil)
		id := f.publish(1, "slow")
		c, stop := f.start()
		<-entered

		stopped := make(chan error, 1)
		go func() { stopped <- stop() }()
		f.eventually("pulling stopped", func() bool { return !c.Status().Bound })
		close(release)

		if err := <-stopped; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if o := f.rec.final()[id]; o.Kind != Applied {
			t.Errorf("outcome = %+v, want applied", o)
		}
		if n := f.streamMsgs(f.names.Commands); n != 0 {
			t.Errorf("%d messages left", n)
		}
	})

	t.Run("unfinished_is_handed_back", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		f.cfg.DrainTimeout = 200 * time.Millisecond
		entered := make(chan struct{}, 8)
		f.applier.script(func(ctx context.Context, contact int64, _ string, _ int) error {
			if contact <= 2 {
				entered <- struct{}{}
				<-ctx.Done() // an update that cannot finish in time
				return &crm.TransientError{Reason: reason.Connection, Err: ctx.Err()}
			}
			return nil
		}, nil)
		var ids []string
		for contact := int64(1); contact <= 4; contact++ {
			ids = append(ids, f.publish(contact, "v1"), f.publish(contact, "v2"))
		}
		_, stop := f.start()
		<-entered
		<-entered

		start := time.Now()
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if d := time.Since(start); d > f.cfg.DrainTimeout+abandonGrace+time.Second {
			t.Errorf("shutdown took %s", d)
		}
		if f.rec.count(DeadLettered) != 0 {
			t.Errorf("dead letters at shutdown: %+v", f.rec.outcomes())
		}

		// A second worker picks up everything that was handed back.
		f.applier.script(func(context.Context, int64, string, int) error { return nil }, nil)
		f.startWith(f.applier)
		f.eventually("every command applied", func() bool {
			final := f.rec.final()
			for _, id := range ids {
				if k := final[id].Kind; k != Applied && k != Superseded {
					return false
				}
			}
			return true
		})
		f.eventually("command stream empty", func() bool { return f.streamMsgs(f.names.Commands) == 0 })
	})
}

func TestRebindsAfterConsumerDeleted(t *testing.T) {
	t.Parallel()
	f := setup(t)
	provisions := make(chan struct{}, 10)
	f.cfg.Provision = func(ctx context.Context) error {
		provisions <- struct{}{}
		return broker.Provision(ctx, f.js, f.settings)
	}
	c, _ := f.start()
	first := f.publish(1, "a")
	f.eventually("first applied", func() bool { return f.rec.final()[first].Kind == Applied })

	if err := f.js.DeleteConsumer(t.Context(), f.names.Commands, f.names.Durable); err != nil {
		t.Fatal(err)
	}
	f.eventually("re-provisioned", func() bool { return len(provisions) > 0 })
	second := f.publish(2, "b")

	f.eventually("second applied", func() bool { return f.rec.final()[second].Kind == Applied })
	if !c.Ready() {
		t.Errorf("status = %+v", c.Status())
	}

}

func TestSurvivesServerRestart(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c, stop := f.start()
	first := f.publish(1, "a")
	f.eventually("first applied", func() bool { return f.rec.final()[first].Kind == Applied })

	srv := brokertest.Restart(t, f.srv)

	var second string
	f.eventually("publishing again", func() bool {
		id, err := f.tryPublish(2, "b")
		second = id
		return err == nil
	})
	f.eventually("second applied", func() bool { return f.rec.final()[second].Kind == Applied })
	if !c.Ready() {
		t.Errorf("status = %+v", c.Status())
	}

	// Shutting down while the server is away must not hang.
	srv.Shutdown()
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > iterDrainTimeout+time.Second {
		t.Errorf("shutdown without a server took %s", d)
	}
}

// TestRunLeavesNoGoroutines runs alone (not parallel) so that every
// goroutine left after the server and the consumer stopped is a leak.
func TestRunLeavesNoGoroutines(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	f := setup(t)
	id := f.publish(1, "a")
	_, stop := f.start()
	f.eventually("applied", func() bool { return f.rec.final()[id].Kind == Applied })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// isSubsequence reports whether sub appears in all in the same order.
func isSubsequence(sub, all []string) bool {
	i := 0
	for _, s := range all {
		if i < len(sub) && sub[i] == s {
			i++
		}
	}
	return i == len(sub)
}
