package lease_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
	"github.com/perfexworker/perfex-worker/internal/lease"
)

func setup(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := brokertest.Connect(t, brokertest.StartServer(t))
	if err := broker.Provision(t.Context(), js, broker.Settings{}); err != nil {
		t.Fatal(err)
	}
	return js
}

func open(t *testing.T, js jetstream.JetStream, owner string, ttl time.Duration) *lease.Leases {
	t.Helper()
	l, err := lease.Open(t.Context(), js, broker.DefaultLeaseBucket, owner, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Holders in several "processes" never overlap on one key.
func TestMutualExclusion(t *testing.T) {
	t.Parallel()
	js := setup(t)
	var inside, overlaps, entries atomic.Int32
	var wg sync.WaitGroup
	for w := range 3 {
		l := open(t, js, "w"+string(rune('0'+w)), time.Second)
		wg.Go(func() {
			for range 10 {
				h, err := l.Acquire(t.Context(), "contact.1")
				if err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) > 1 {
					overlaps.Add(1)
				}
				entries.Add(1)
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				if err := h.Release(context.Background()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if overlaps.Load() != 0 || entries.Load() != 30 {
		t.Errorf("%d overlaps in %d entries", overlaps.Load(), entries.Load())
	}
}

// A lease held past its TTL is renewed; one abandoned by a dead holder
// expires and can be taken.
func TestRenewAndExpiry(t *testing.T) {
	t.Parallel()
	js := setup(t)
	a := open(t, js, "a", time.Second)
	b := open(t, js, "b", time.Second)

	h, err := a.Acquire(t.Context(), "contact.2")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	_, err = b.Acquire(ctx, "contact.2")
	cancel()
	if err == nil {
		t.Fatal("b took a lease a was renewing")
	}
	select {
	case <-h.Lost():
		t.Fatal("a lost a lease it was renewing")
	default:
	}

	// Abandon it: the key stays but nobody renews it.
	kv, err := js.KeyValue(t.Context(), broker.DefaultLeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(t.Context(), "contact.3", []byte("dead"), jetstream.KeyTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	h2, err := b.Acquire(ctx, "contact.3")
	if err != nil {
		t.Fatalf("taking over an expired lease: %v", err)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("took over after %s, before the TTL", d)
	}
	_ = h2.Release(context.Background())
	_ = h.Release(context.Background())
}

// A process takes a key it released again by writing over the marker it
// left; when another process wrote the key since, that shortcut is refused
// and the lease is still taken, or waited for while the other holds it.
func TestRetakeAfterOwnRelease(t *testing.T) {
	t.Parallel()
	js := setup(t)
	a := open(t, js, "a", time.Second)
	b := open(t, js, "b", time.Second)
	ctx := t.Context()
	kv, err := js.KeyValue(ctx, broker.DefaultLeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	acquire := func(l *lease.Leases) *lease.Lease {
		t.Helper()
		h, err := l.Acquire(ctx, "contact.4")
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	release := func(h *lease.Lease) {
		t.Helper()
		if err := h.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}

	release(acquire(a))
	h := acquire(a) // over a's own marker
	if e, err := kv.Get(ctx, "contact.4"); err != nil || string(e.Value()) != "a" || e.Revision() != h.Revision() {
		t.Fatalf("after retaking: entry %v, %v; lease at %d", e, err, h.Revision())
	}
	release(h)

	release(acquire(b)) // a's memory of the key is stale now
	h = acquire(a)
	if e, err := kv.Get(ctx, "contact.4"); err != nil || string(e.Value()) != "a" {
		t.Fatalf("after retaking over b's marker: %v, %v", e, err)
	}
	release(h)

	hb := acquire(b) // b holds it while a remembers its own marker
	wait, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := a.Acquire(wait, "contact.4"); err == nil {
		t.Fatal("a took a lease b holds")
	}
	release(hb)
	release(acquire(a))
}
