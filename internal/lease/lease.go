// Package lease gives one process at a time the right to update a contact,
// across any number of processes, with per-key leases in a JetStream KV
// bucket (made by broker.LeaseBucketConfig).
//
// A lease is a key written with Create and a per-key TTL, so a holder that
// dies frees it when the TTL runs out. The holder renews it by publishing
// to the key's subject with the last revision expected and a fresh TTL
// (a KV Update would drop the TTL and make the lease permanent), and
// releases it with a Delete that expects its revision, so it can never
// remove a lease another process took over.
//
// A Delete leaves a marker, over which Create costs three round trips (a
// refused write, a read, the write). Leases remembers the marker of each
// key it released, up to rememberMax keys, and takes such a key again by
// writing over that marker's revision: one round trip. If another process
// wrote the key since, the write is refused and Create runs as before.
//
// A lease is not a lock: a holder cut off from NATS for longer than the
// TTL while still reaching Perfex can overlap with the next holder. Lost
// reports that, and callers cancel their work when it fires.
package lease

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultTTL is a lease's lifetime without renewal.
const DefaultTTL = 10 * time.Second

// kvOperation is the header that marks a KV delete.
const kvOperation = "KV-Operation"

// Polling bounds while waiting for a lease another process holds.
const (
	minPoll = 5 * time.Millisecond
	maxPoll = 200 * time.Millisecond
)

// rememberMax bounds how many released keys Leases remembers.
const rememberMax = 16384

// Leases hands out leases on keys of one bucket.
type Leases struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	bucket string
	owner  string
	ttl    time.Duration

	mu       sync.Mutex
	released map[string]uint64 // key: revision of the delete marker this process left
}

// Open returns Leases on bucket, written as owner, each living ttl
// (DefaultTTL when zero; at least one second, the server's minimum). It
// returns an error matching jetstream.ErrBucketNotFound when the bucket
// is missing.
func Open(ctx context.Context, js jetstream.JetStream, bucket, owner string, ttl time.Duration) (*Leases, error) {
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("lease TTL %s is below the server's minimum of 1s", ttl)
	}
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("opening the lease bucket %q: %w", bucket, err)
	}
	return &Leases{js: js, kv: kv, bucket: bucket, owner: owner, ttl: ttl, released: map[string]uint64{}}, nil
}

// Acquire waits until this process holds the lease on key, or ctx ends.
// A broker failure other than "someone else holds it" is returned at once.
func (l *Leases) Acquire(ctx context.Context, key string) (*Lease, error) {
	poll := minPoll
	for {
		rev, err := l.take(ctx, key)
		if err == nil {
			return l.hold(key, rev), nil
		}
		if !held(err) {
			return nil, fmt.Errorf("taking the lease on %s: %w", key, err)
		}

		t := time.NewTimer(poll/2 + rand.N(poll))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		poll = min(poll*2, maxPoll)
	}
}

// take makes one attempt at the lease on key, over the marker this process
// left when it released the key if it remembers one.
func (l *Leases) take(ctx context.Context, key string) (uint64, error) {
	if marker, ok := l.recall(key); ok {
		if rev, err := l.write(ctx, key, marker); err == nil {
			return rev, nil
		}
		// Someone wrote the key since, or the shortcut failed otherwise:
		// the Create below decides.
	}
	return l.kv.Create(ctx, key, []byte(l.owner), jetstream.KeyTTL(l.ttl))
}

// write publishes this owner to key with a fresh TTL if the key's last
// revision is expected. Like Create and Delete, it is retried by the
// library when no stream answered (a leader election): such a publish was
// not stored, so the retry cannot meet its own write.
func (l *Leases) write(ctx context.Context, key string, expected uint64) (uint64, error) {
	msg := nats.NewMsg("$KV." + l.bucket + "." + key)
	msg.Data = []byte(l.owner)
	ack, err := l.js.PublishMsg(ctx, msg,
		jetstream.WithExpectLastSequencePerSubject(expected),
		jetstream.WithMsgTTL(l.ttl))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// recall returns and forgets the marker remembered for key.
func (l *Leases) recall(key string) (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rev, ok := l.released[key]
	delete(l.released, key)
	return rev, ok
}

// remember notes the marker a release left on key. When full, it forgets
// an arbitrary key first: that key's next Create merely costs more.
func (l *Leases) remember(key string, marker uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.released) >= rememberMax {
		for k := range l.released {
			delete(l.released, k)
			break
		}
	}
	l.released[key] = marker
}

// Lease is one held lease. Release it when done.
type Lease struct {
	l    *Leases
	key  string
	lost chan struct{}
	stop chan struct{}
	done chan struct{}

	mu  sync.Mutex
	rev uint64
}

func (l *Leases) hold(key string, rev uint64) *Lease {
	h := &Lease{l: l, key: key, rev: rev,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go h.renew()
	return h
}

// Lost is closed when the lease could not be renewed: another process may
// hold it now.
func (h *Lease) Lost() <-chan struct{} { return h.lost }

// Revision is the lease's current revision, a fencing token.
func (h *Lease) Revision() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rev
}

// renew keeps the lease alive every TTL/3 until released, and declares it
// lost when a renewal is refused or none succeeded for a whole TTL.
func (h *Lease) renew() {
	defer close(h.done)
	every := h.l.ttl / 3
	t := time.NewTimer(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		err := h.renewOnce()
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			last = time.Now()
		case errors.As(err, &apiErr) && isWrongLastSeq(apiErr.ErrorCode):
			close(h.lost)
			return
		case time.Since(last) >= h.l.ttl:
			close(h.lost)
			return
		}
		t.Reset(every)
	}
}

func (h *Lease) renewOnce() error {
	ctx, cancel := context.WithTimeout(context.Background(), h.l.ttl/3)
	defer cancel()
	rev, err := h.l.write(ctx, h.key, h.Revision())
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.rev = rev
	h.mu.Unlock()
	return nil
}

// held reports whether Create failed because the key is taken. Create
// retrying over a delete marker returns the raw compare-and-set error,
// which a replicated bucket reports as 10164 rather than 10071.
func held(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) ||
		(errors.As(err, &apiErr) && isWrongLastSeq(apiErr.ErrorCode))
}

func isWrongLastSeq(code jetstream.ErrorCode) bool {
	return code == jetstream.JSErrCodeStreamWrongLastSequence ||
		code == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// Release stops renewing and deletes the lease if it is still this
// holder's. An error means the lease will expire by its TTL instead.
func (h *Lease) Release(ctx context.Context) error {
	close(h.stop)
	<-h.done
	select {
	case <-h.lost:
		return nil
	default:
	}
	// A KV Delete, published here to learn the marker's revision.
	msg := nats.NewMsg("$KV." + h.l.bucket + "." + h.key)
	msg.Header.Set(kvOperation, "DEL")
	ack, err := h.l.js.PublishMsg(ctx, msg,
		jetstream.WithExpectLastSequencePerSubject(h.Revision()))
	if held(err) {
		return nil // lost meanwhile: the key is another holder's now
	}
	if err != nil {
		return fmt.Errorf("releasing the lease on %s: %w", h.key, err)
	}
	h.l.remember(h.key, ack.Sequence)
	return nil
}
