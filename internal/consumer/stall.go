package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// errStalled ends a pull session whose iterator went silent while work
// waited; supervise then binds again.
var errStalled = errors.New("pull stalled")

// stallWatch records how long the pull loop has been waiting in Next, and
// why the watchdog stopped the iterator, if it did.
type stallWatch struct {
	mu      sync.Mutex
	waiting time.Time // zero while the loop is not in Next
	err     error
}

// enter marks the loop as waiting for a message from now on.
func (w *stallWatch) enter() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting = time.Now()
}

// leave marks the loop as no longer waiting: Next returned.
func (w *stallWatch) leave() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting = time.Time{}
}

// idle is how long the loop has been waiting in Next, or 0.
func (w *stallWatch) idle() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting.IsZero() {
		return 0
	}
	return time.Since(w.waiting)
}

func (w *stallWatch) fire(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}

// fired is the reason the watchdog stopped the iterator, or nil.
func (w *stallWatch) fired() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// watchStall stops the iterator (through stop) when the loop has waited
// in Next for StallTimeout although work waits: this process has room for
// more, the gate allows pulling and the durable has messages it has not
// delivered. Heartbeats alone do not catch this: after a consumer-leader
// change a pull may stall while heartbeats go on (nats.go#2063). It
// returns when the session ends (done) or ctx does.
//
// The durable is asked only once the loop has been idle for StallTimeout,
// and then at most every StallTimeout/4, so a quiet worker costs one
// consumer-info request per quarter StallTimeout.
func (c *Consumer) watchStall(ctx context.Context, cons jetstream.Consumer, w *stallWatch,
	stop func(), done <-chan struct{}) {
	limit := c.cfg.StallTimeout
	tick := time.NewTicker(limit / 4)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		case <-done:
			return
		}
		if w.idle() < limit || c.inHand.full() {
			continue
		}
		if ok, _ := c.gate.pullable(c.keepAlive()); !ok {
			continue
		}
		pending, waiting := c.undelivered(ctx, cons)
		// A message may have arrived during the round trip.
		idle := w.idle()
		if !waiting || idle < limit {
			continue
		}

		w.fire(fmt.Errorf("%w: nothing delivered for %s while the durable has %d undelivered messages",
			errStalled, idle.Round(time.Millisecond), pending))
		stop()
		return
	}
}

// undelivered reports how many messages the durable has not delivered
// yet, and whether that is work this process should have been given. A
// durable that does not answer is left to the heartbeat check; one paused
// by an operator, or with MaxAckPending reached (by other workers), is
// expected to be silent.
func (c *Consumer) undelivered(ctx context.Context, cons jetstream.Consumer) (uint64, bool) {
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	info, err := cons.Info(ctx)
	switch {
	case err != nil, info.Paused:
		return 0, false
	case info.Config.MaxAckPending > 0 && info.NumAckPending >= info.Config.MaxAckPending:
		return 0, false
	}
	return info.NumPending, info.NumPending > 0
}
