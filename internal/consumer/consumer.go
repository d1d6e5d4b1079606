// Package consumer is perfex-worker's loop: it pulls "update contact"
// commands from the durable JetStream consumer, applies them to Perfex
// through an Applier, and settles every message with exactly one broker
// action chosen in one place (decide.go).
//
// Libraries return, the loop decides: the Perfex client returns typed
// results, the dead-letter writer returns errors, and only this package
// acks, naks, dead-letters, pauses and logs.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/clock"
	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/lease"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// Applier applies contact updates to Perfex. *crm.Client is the real one.
// Update returns nil and a Result when Perfex holds the values, or a
// *crm.PermanentError, *crm.TransientError or *crm.HeldError. Probe checks
// that Perfex answers and accepts the worker, with the same error types.
type Applier interface {
	Update(ctx context.Context, contactID int64, data command.ContactData) (crm.Result, error)
	Probe(ctx context.Context) error
}

// abandonGrace is how long shutdown waits, after cancelling in-flight
// updates at DrainTimeout, for them to return before handing their
// messages back regardless.
const abandonGrace = 2 * time.Second

// Consumer applies commands from the durable consumer. Create it with New
// and start it with Run; Ready and Status may be called at any time.
type Consumer struct {
	js      jetstream.JetStream
	applier Applier
	dlq     *dlq.Writer
	log     *zap.Logger
	cfg     Config
	decode  func(subject string, body []byte) (command.Command, error)

	// messages opens a pull iterator; tests replace it to simulate a
	// stalled one.
	messages func(jetstream.Consumer, ...jetstream.PullMessagesOpt) (jetstream.MessagesContext, error)

	gate    *gate
	inHand  *inHand
	clock   *clock.Store  // set by bind
	leases  *lease.Leases // set by bind
	queue   *keyedQueue
	running chan struct{} // bounds concurrent Perfex updates

	// stop ends when Run's context does: no new pulls, no new attempts.
	// work ends DrainTimeout later: in-flight requests are cancelled.
	stop context.Context
	work context.Context

	started   atomic.Bool
	bound     atomic.Bool
	keepEvery atomic.Int64 // keep-alive interval in nanoseconds

	requestsSaved atomic.Uint64
	coalesced     atomic.Uint64
}

// New returns a Consumer. It checks cfg (after defaults) but does not
// touch the broker: Run binds.
func New(js jetstream.JetStream, applier Applier, writer *dlq.Writer, log *zap.Logger, cfg Config) (*Consumer, error) {
	switch {
	case js == nil:
		return nil, errors.New("consumer: no JetStream context")
	case applier == nil:
		return nil, errors.New("consumer: no applier")
	case writer == nil:
		return nil, errors.New("consumer: no dead-letter writer")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("consumer")

	c := &Consumer{
		js:      js,
		applier: applier,
		dlq:     writer,
		log:     log,
		cfg:     cfg,
		decode:  command.Decode,
		messages: func(cons jetstream.Consumer, opts ...jetstream.PullMessagesOpt) (jetstream.MessagesContext, error) {
			return cons.Messages(opts...)
		},
		gate:    newGate(log, cfg.OutageWindow),
		inHand:  newInHand(cfg.Concurrency * heldPerUpdate),
		running: make(chan struct{}, cfg.Concurrency),
	}
	c.queue = newKeyedQueue(c.handleBatch)
	c.keepEvery.Store(int64(cfg.AckWait / 3))
	return c, nil
}

// Status is the worker's state for readiness and status output.
type Status struct {
	// Bound: the worker is bound to the durable and pulling (or paused).
	Bound bool
	// Held: Perfex refuses the worker; HeldReason is authentication or
	// wrong_endpoint and HeldMessage is Perfex's message.
	Held        bool
	HeldReason  reason.Code
	HeldMessage string
	// Outage: Perfex does not answer; commands wait.
	Outage bool
	// Since is when the hold or outage began.
	Since time.Time
	// InHand is how many messages the worker holds.
	InHand int
	// Coalesced counts commands applied as part of a merged update, and
	// RequestsSaved the Perfex requests those merges saved; both since
	// the worker started.
	Coalesced     uint64
	RequestsSaved uint64
}

// Status reports the worker's state.
func (c *Consumer) Status() Status {
	outage, held, heldBy, since := c.gate.status()
	s := Status{
		Bound: c.bound.Load(), Held: held, Outage: outage, InHand: c.inHand.count(),
		Coalesced: c.coalesced.Load(), RequestsSaved: c.requestsSaved.Load(),
	}
	if held || outage {
		s.Since = since
	}
	if heldBy != nil {
		s.HeldReason = heldBy.Reason
		s.HeldMessage = dlq.Mask(heldBy.Message)
	}
	return s
}

// Ready reports whether the worker can work: bound, not held, and Perfex
// not in an outage. Being unready is not being unhealthy: the worker waits
// and recovers by itself.
func (c *Consumer) Ready() bool { return c.Unready() == nil }

// Unready says why the worker cannot work now, or returns nil when it can.
func (c *Consumer) Unready() error {
	s := c.Status()
	since := s.Since.UTC().Format(time.RFC3339)
	switch {
	case !s.Bound:
		return errors.New("not bound to the durable consumer")
	case s.Held:
		return fmt.Errorf("held since %s: %s", since, s.HeldReason)
	case s.Outage:
		return fmt.Errorf("outage since %s: Perfex unreachable, waiting for it", since)
	}
	return nil
}

// Run consumes until ctx ends, then drains: it stops pulling, lets
// in-flight updates finish for up to DrainTimeout, hands back with a short
// delay whatever could not finish, and returns nil. It returns an error
// only if consuming became impossible (the NATS connection was closed).
// Run may be called once.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("consumer: Run called twice")
	}
	stop, stopNow := context.WithCancel(ctx)
	defer stopNow()
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	c.stop, c.work = stop, work

	background, stopBackground := context.WithCancel(context.Background())
	keepDone := make(chan struct{})
	go func() {
		defer close(keepDone)
		c.inHand.keepAlive(background, c.keepAlive)
	}()
	proberDone := make(chan struct{})
	go func() {
		defer close(proberDone)
		c.gate.runProber(stop, c.applier.Probe, c.backoff, c.cfg.ProbeInterval)
	}()

	c.log.Info("consumer starting",
		zap.String("stream", c.cfg.Names.Commands), zap.String("durable", c.cfg.Names.Durable),
		zap.Int("concurrency", c.cfg.Concurrency), zap.Int("max_deliver", c.cfg.MaxDeliver),
		zap.String("worker_id", c.cfg.WorkerID))

	err := c.supervise(stop)
	stopNow()
	c.bound.Store(false)

	c.drain(cancelWork)
	<-proberDone
	stopBackground()
	<-keepDone
	c.log.Info("consumer stopped")
	return err
}

// drain waits for in-hand messages up to DrainTimeout, then cancels
// in-flight updates and, after a grace period, hands back whatever is
// still held.
func (c *Consumer) drain(cancelWork context.CancelFunc) {
	n := c.inHand.count()
	if n > 0 {
		c.log.Info("draining in-flight commands", zap.Int("in_hand", n), zap.Duration("timeout", c.cfg.DrainTimeout))
	}
	deadline := time.NewTimer(c.cfg.DrainTimeout)
	defer deadline.Stop()
	select {
	case <-c.queue.wait():
		return
	case <-deadline.C:
	}

	cancelWork()
	grace := time.NewTimer(abandonGrace)
	defer grace.Stop()
	select {
	case <-c.queue.wait():
		return
	case <-grace.C:
	}

	left := c.inHand.remaining()
	c.log.Warn("drain timeout: handing back commands that did not finish", zap.Int("in_hand", len(left)))
	for _, f := range left {
		c.nak(f, shutdownRedelay, "")
	}
}

// supervise binds and consumes, binding again with backoff whenever
// consumption ends unexpectedly (the durable was deleted, the server went
// away), until ctx ends.
func (c *Consumer) supervise(ctx context.Context) error {
	retry := c.newRetryBackoff()
	for {
		cons, err := c.bind(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		c.bound.Store(true)
		if c.cfg.OnReady != nil {
			c.cfg.OnReady()
		}

		err = c.consume(ctx, cons)
		c.bound.Store(false)
		switch {
		case ctx.Err() != nil:
			return nil
		case c.js.Conn().IsClosed():
			c.log.Error("NATS connection closed; stopping", zap.Error(err))
			return fmt.Errorf("consuming %s/%s: %w", c.cfg.Names.Commands, c.cfg.Names.Durable, nats.ErrConnectionClosed)
		}
		wait := retry.NextBackOff()
		c.log.Warn("consuming stopped unexpectedly; binding again", zap.Error(err), zap.Duration("in", wait))
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// bind looks up the durable, retrying with backoff, and provisions it
// through Config.Provision when it (or its stream) is missing.
func (c *Consumer) bind(ctx context.Context) (jetstream.Consumer, error) {
	retry := c.newRetryBackoff()
	for {
		cons, err := c.js.Consumer(ctx, c.cfg.Names.Commands, c.cfg.Names.Durable)
		if err == nil {
			err = c.openRecords(ctx)
		}
		if err == nil {
			c.adoptConsumerConfig(cons.CachedInfo())
			c.log.Info("bound to the durable consumer",
				zap.String("stream", c.cfg.Names.Commands), zap.String("durable", c.cfg.Names.Durable))
			return cons, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if c.js.Conn().IsClosed() {
			return nil, fmt.Errorf("binding to %s/%s: %w", c.cfg.Names.Commands, c.cfg.Names.Durable, err)
		}

		missing := errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) ||
			errors.Is(err, jetstream.ErrBucketNotFound)
		if missing && c.cfg.Provision != nil {
			c.log.Warn("durable consumer missing; provisioning", zap.Error(err))
			perr := c.cfg.Provision(ctx)
			if perr == nil {
				continue
			}
			err = perr
		}
		wait := retry.NextBackOff()
		c.log.Warn("cannot bind to the durable consumer; trying again", zap.Error(err), zap.Duration("in", wait))
		if !sleep(ctx, wait) {
			return nil, ctx.Err()
		}
	}
}

// openRecords opens the clock and lease buckets, once.
func (c *Consumer) openRecords(ctx context.Context) error {
	if c.clock != nil {
		return nil
	}
	store, err := clock.Open(ctx, c.js, c.cfg.Names.Clock)
	if err != nil {
		return err
	}
	leases, err := lease.Open(ctx, c.js, c.cfg.Names.Lease, c.cfg.WorkerID, c.cfg.LeaseTTL)
	if err != nil {
		return err
	}
	c.clock, c.leases = store, leases
	return nil
}

// adoptConsumerConfig checks the durable against Config and keeps messages
// alive by the shorter AckWait.
func (c *Consumer) adoptConsumerConfig(info *jetstream.ConsumerInfo) {
	if info == nil {
		return
	}
	ackWait := c.cfg.AckWait
	if server := info.Config.AckWait; server > 0 && server != ackWait {
		c.log.Warn("the durable's AckWait differs from the configured one; keeping messages alive by the shorter",
			zap.Duration("durable_ack_wait", server), zap.Duration("configured_ack_wait", ackWait))
		ackWait = min(ackWait, server)
	}
	c.keepEvery.Store(int64(ackWait / 3))
	if md := info.Config.MaxDeliver; md > 0 && md <= c.cfg.MaxDeliver {
		c.log.Warn("the durable's MaxDeliver is not above the worker's; the server may give up on commands the worker would retry or dead-letter",
			zap.Int("durable_max_deliver", md), zap.Int("worker_max_deliver", c.cfg.MaxDeliver))
	}
}

func (c *Consumer) newRetryBackoff() backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(c.cfg.RetryInitial),
		backoff.WithMultiplier(c.cfg.RetryMultiplier),
		backoff.WithMaxInterval(c.cfg.RetryMax),
		backoff.WithMaxElapsedTime(0),
	)
}
