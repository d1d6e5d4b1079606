package consumer

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// inflight is one message this process holds, from the moment it leaves
// the client buffer until one final broker action (ack, nak) settles it.
type inflight struct {
	msg     jetstream.Msg
	seq     uint64
	rank    uint64 // the command's place in its contact's order (clock.Rank)
	attempt int    // the server's delivery count
	key     string
	slotted bool

	// Set once the body decodes.
	commandID string
	contactID int64

	// Set once judged against the contact's clock: the fields left alone,
	// and how many commands shared this one's write.
	skipped   []string
	coalesced int

	// mu orders the keep-alive against the final action, so no
	// InProgress follows an ack or a delayed nak on the wire.
	mu      sync.Mutex
	settled bool
}

// touch tells the server the message is still being worked on. A message
// being settled right now is skipped rather than waited for.
func (f *inflight) touch() {
	if !f.mu.TryLock() {
		return
	}
	defer f.mu.Unlock()
	if !f.settled {
		_ = f.msg.InProgress()
	}
}

// inHand tracks every held message: it bounds how many the puller may
// take, keeps them alive, and lists what shutdown must hand back.
type inHand struct {
	slots chan struct{}

	mu  sync.Mutex
	set map[*inflight]struct{}
}

func newInHand(limit int) *inHand {
	return &inHand{slots: make(chan struct{}, limit), set: map[*inflight]struct{}{}}
}

// acquire takes a slot, waiting for one unless draining is closed: while
// the client buffer drains, its messages are taken without a slot so none
// is left to age in the buffer.
func (h *inHand) acquire(draining <-chan struct{}) bool {
	select {
	case h.slots <- struct{}{}:
		return true
	default:
	}
	select {
	case h.slots <- struct{}{}:
		return true
	case <-draining:
		return false
	}
}

func (h *inHand) releaseSlot() { <-h.slots }

func (h *inHand) add(f *inflight) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.set[f] = struct{}{}
}

// settle runs the final action on f once; later calls do nothing and
// report false.
func (h *inHand) settle(f *inflight, action func()) bool {
	f.mu.Lock()
	if f.settled {
		f.mu.Unlock()
		return false
	}
	f.settled = true
	action()
	f.mu.Unlock()

	h.mu.Lock()
	delete(h.set, f)
	h.mu.Unlock()
	if f.slotted {
		h.releaseSlot()
	}
	return true
}

// full reports whether the puller may take no more messages.
func (h *inHand) full() bool {
	return h.count() >= cap(h.slots)
}

func (h *inHand) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.set)
}

// remaining lists what is still held, oldest stream sequence first.
func (h *inHand) remaining() []*inflight {
	h.mu.Lock()
	out := make([]*inflight, 0, len(h.set))
	for f := range h.set {
		out = append(out, f)
	}
	h.mu.Unlock()
	slices.SortFunc(out, func(a, b *inflight) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// keepAlive sends InProgress for every held message each interval() until
// ctx ends.
func (h *inHand) keepAlive(ctx context.Context, interval func() time.Duration) {
	t := time.NewTimer(interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		all := make([]*inflight, 0, len(h.set))
		for f := range h.set {
			all = append(all, f)
		}
		h.mu.Unlock()
		for _, f := range all {
			f.touch()
		}
		t.Reset(interval())
	}
}

// keyedQueue runs commands for the same key (the subject, and so the
// contact) one batch at a time in arrival order, and different keys in
// parallel. A batch is every command for the key that is waiting when the
// previous batch ends, so commands that arrive together can share one
// write (coalescing).
type keyedQueue struct {
	mu     sync.Mutex
	queues map[string][]*inflight
	wg     sync.WaitGroup
	run    func([]*inflight)
}

func newKeyedQueue(run func([]*inflight)) *keyedQueue {
	return &keyedQueue{queues: map[string][]*inflight{}, run: run}
}

func (q *keyedQueue) push(f *inflight) {
	q.mu.Lock()
	pending, running := q.queues[f.key]
	q.queues[f.key] = append(pending, f)
	q.mu.Unlock()
	if !running {
		q.wg.Add(1)
		go q.drain(f.key)
	}
}

func (q *keyedQueue) drain(key string) {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		pending := q.queues[key]
		if len(pending) == 0 {
			delete(q.queues, key)
			q.mu.Unlock()
			return
		}
		q.queues[key] = nil
		q.mu.Unlock()

		q.run(pending)
	}
}

// wait returns a channel closed when every queue has run dry.
func (q *keyedQueue) wait() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		q.wg.Wait()
		close(done)
	}()
	return done
}
