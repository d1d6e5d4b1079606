package consumer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/perfexworker/perfex-worker/internal/clock"
)

const (
	// infoTimeout bounds the consumer lookup made after missing heartbeats.
	infoTimeout = 5 * time.Second
	// iterDrainTimeout bounds draining the client buffer. Draining waits
	// for the server to confirm the unsubscribe, which never comes while
	// the connection is down; what is left in the buffer then is
	// redelivered after AckWait.
	iterDrainTimeout = 2 * time.Second
)

// consume pulls while the gate lets it, pausing (with the client buffer
// drained into hand) whenever the gate closes. It returns nil when ctx
// ends and an error when the iterator closed by itself.
func (c *Consumer) consume(ctx context.Context, cons jetstream.Consumer) error {
	for {
		if err := c.waitPullable(ctx); err != nil {
			return nil
		}
		again, err := c.pullSession(ctx, cons)
		if !again {
			return err
		}
		if ctx.Err() == nil {
			c.log.Debug("pulling paused")
		}
	}
}

// waitPullable blocks until new messages may be pulled.
func (c *Consumer) waitPullable(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ok, changed := c.gate.pullable(c.keepAlive())
		if ok {
			return nil
		}
		// A rate limit ends by time passing, not by a change.
		t := time.NewTimer(c.keepAlive())
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
}

func (c *Consumer) keepAlive() time.Duration {
	return time.Duration(c.keepEvery.Load())
}

// pullSession runs one message iterator until the gate closes or ctx ends
// (again=true: we drained it) or it closes by itself or stalls (again=false,
// with the reason).
func (c *Consumer) pullSession(ctx context.Context, cons jetstream.Consumer) (again bool, err error) {
	// PullMaxMessages ≈ Concurrency: AckWait runs from delivery into the
	// client buffer, so a large buffer lets messages expire unseen.
	iter, err := c.messages(cons, jetstream.PullMaxMessages(c.cfg.Concurrency))
	if err != nil {
		return false, err
	}

	draining := make(chan struct{})
	nextCtx, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	var drainOnce sync.Once
	drain := func() {
		drainOnce.Do(func() {
			close(draining)
			iter.Drain()
			time.AfterFunc(iterDrainTimeout, giveUp)
		})
	}
	sessionDone := make(chan struct{})
	defer close(sessionDone)
	watch := &stallWatch{}
	go c.watchStall(ctx, cons, watch, iter.Stop, sessionDone)
	go func() {
		for {
			ok, changed := c.gate.pullable(c.keepAlive())
			if !ok {
				drain()
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				drain()
				return
			case <-sessionDone:
				return
			}
		}
	}()

	for {
		slotted := c.inHand.acquire(draining)
		watch.enter()
		msg, err := iter.Next(jetstream.NextContext(nextCtx))
		watch.leave()
		if err != nil {
			if slotted {
				c.inHand.releaseSlot()
			}
			select {
			case <-draining:
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return true, nil
				}
				if errors.Is(err, context.Canceled) {
					c.log.Warn("draining the client buffer timed out; what it held is redelivered after AckWait")
					return true, nil
				}
			default:
			}
			// A pull that stalls while heartbeats go on (nats.go#2063) is
			// caught by watchStall, which stops the iterator.
			if stalled := watch.fired(); stalled != nil {
				return false, stalled
			}
			if errors.Is(err, jetstream.ErrNoHeartbeat) && c.consumerExists(ctx, cons) {
				c.log.Debug("no heartbeat from the server; pulling again")
				continue
			}
			iter.Stop()
			return false, err
		}
		c.dispatch(msg, slotted)
	}
}

// consumerExists reports whether the durable is still there; when in
// doubt (the server does not answer) it says yes and the iterator keeps
// trying.
func (c *Consumer) consumerExists(ctx context.Context, cons jetstream.Consumer) bool {
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	_, err := cons.Info(ctx)
	return !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound)
}

// dispatch takes msg into hand, keeps it alive from now on, and queues it
// behind earlier commands for the same contact.
func (c *Consumer) dispatch(msg jetstream.Msg, slotted bool) {
	f := &inflight{msg: msg, key: msg.Subject(), slotted: slotted}
	meta, err := msg.Metadata()
	if err == nil {
		f.seq = meta.Sequence.Stream
		f.attempt = int(meta.NumDelivered)
		var ok bool
		if f.rank, ok = clock.Rank(f.seq, msg.Headers()); !ok {
			c.log.Warn("ignoring a "+clock.OriginalSequenceHeader+" header that does not name an earlier command",
				zap.Uint64("stream_seq", f.seq), zap.String("header", msg.Headers().Get(clock.OriginalSequenceHeader)))
		}
	}
	c.inHand.add(f)
	if err != nil {
		c.log.Error("message without JetStream metadata; handing it back", zap.Error(err))
		c.nak(f, c.cfg.RetryMax, "")
		return
	}

	// The buffer may have held it for a while: restart its AckWait now.
	f.touch()
	c.queue.push(f)
}
