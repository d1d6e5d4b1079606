package lease_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
)

// The retake over one's own marker is one publish on the key's subject
// (Create over a marker is two publishes and a read), and the key it
// writes carries the lease's TTL, so a holder that dies after a retake
// does not leave a permanent lease.
func TestRetakeIsOnePublishWithTTL(t *testing.T) {
	t.Parallel()
	js := setup(t)
	ctx := t.Context()
	a := open(t, js, "a", time.Second)

	h, err := a.Acquire(ctx, "contact.40")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// A synchronous subscription queues what the read loop received, and
	// the read loop takes the server's reply to a Flush after everything
	// the server sent before it: once Flush returns, Pending counts every
	// publish made before it.
	sub, err := js.Conn().SubscribeSync("$KV." + broker.DefaultLeaseBucket + ".contact.40")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}

	h, err = a.Acquire(ctx, "contact.40")
	if err != nil {
		t.Fatal(err)
	}
	if err := js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := sub.Pending(); n != 1 {
		t.Errorf("retake published %d messages on the key, want 1 (the shortcut was not taken)", n)
	}

	s, err := js.Stream(ctx, "KV_"+broker.DefaultLeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.GetLastMsgForSubject(ctx, "$KV."+broker.DefaultLeaseBucket+".contact.40")
	if err != nil {
		t.Fatal(err)
	}
	if got := raw.Header.Get("Nats-TTL"); got == "" {
		t.Errorf("retaken lease has no Nats-TTL header (headers %v): it would never expire", raw.Header)
	}
	if raw.Sequence != h.Revision() {
		t.Errorf("lease revision %d, stored %d", h.Revision(), raw.Sequence)
	}
	_ = h.Release(ctx)
}

// A remembered marker that a dead holder's lease replaced (and whose TTL
// then expired) is refused, and the key is still taken by Create after
// the expiry, not before.
func TestRetakeAfterOtherHolderExpired(t *testing.T) {
	t.Parallel()
	js := setup(t)
	ctx := t.Context()
	a := open(t, js, "a", time.Second)

	h, err := a.Acquire(ctx, "contact.41")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "KV_"+broker.DefaultLeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.GetLastMsgForSubject(ctx, "$KV."+broker.DefaultLeaseBucket+".contact.41")
	if err != nil {
		t.Fatal(err)
	}
	marker := last.Sequence
	// A dead holder takes the key over a's marker and never renews it.
	msg := nats.NewMsg("$KV." + broker.DefaultLeaseBucket + ".contact.41")
	msg.Data = []byte("dead")
	if _, err := js.PublishMsg(ctx, msg,
		jetstream.WithExpectLastSequencePerSubject(marker), // a's delete marker
		jetstream.WithMsgTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()

	h, err = a.Acquire(ctx, "contact.41")
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("a took the key after %s, before the dead holder's 1s TTL ran out", waited)
	}
	_ = h.Release(ctx)
}

// Stress: several processes, each retaking over its own markers, never
// hold one key at once.
func TestRetakeMutualExclusionStress(t *testing.T) {
	t.Parallel()
	js := setup(t)
	var inside, overlaps, entries atomic.Int32
	var wg sync.WaitGroup
	for w := range 4 {
		l := open(t, js, "w"+string(rune('0'+w)), time.Second)
		// Two goroutines per process, as two batches could race in one.
		for range 2 {
			wg.Go(func() {
				for range 40 {
					h, err := l.Acquire(t.Context(), "contact.42")
					if err != nil {
						t.Error(err)
						return
					}
					if inside.Add(1) > 1 {
						overlaps.Add(1)
					}
					entries.Add(1)
					inside.Add(-1)
					if err := h.Release(context.Background()); err != nil && !strings.Contains(err.Error(), "context") {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()
	if overlaps.Load() != 0 || entries.Load() != 320 {
		t.Errorf("%d overlaps in %d entries", overlaps.Load(), entries.Load())
	}
}
