package consumer

import (
	"context"
	"testing"
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
