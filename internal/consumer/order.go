package consumer

import (
	"cmp"
	"context"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/clock"
	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/lease"
)

// recordTimeout bounds reading or writing a contact's clock and taking
// or releasing its lease once it is free.
const recordTimeout = 10 * time.Second

// pending is a decoded command on its way to Perfex.
type pending struct {
	f   *inflight
	cmd command.Command // Data trimmed to the fields still to send
}

// mark is what the clock records once Perfex holds p's fields.
func (p *pending) mark() clock.Mark {
	return clock.Mark{
		Fields: p.cmd.Data.Fields(),
		Stamp:  clock.Stamp{Seq: p.f.rank, At: p.cmd.OccurredAt},
	}
}

// handleBatch takes the commands for one contact that were waiting
// together to their final broker actions:
//
//  1. decode each; an invalid one is dead-lettered on its own
//  2. take the contact's lease (waiting while another process holds it)
//  3. read the contact's clock and drop from each command the fields a
//     newer command already set; a command left with none is done
//     (superseded, or applied if it was this command that set them)
//  4. two or more left: merge them in rank order into one update; if
//     Perfex takes it, record and ack them all
//  5. otherwise (or if the merged update failed) apply them one by one
//     in rank order, each with its own retries and outcome
//  6. release the lease
//
// The clock is written only after Perfex confirmed, and the message acked
// only after the clock was written; see README "Ordering guarantees" for
// the crash windows.
func (c *Consumer) handleBatch(fs []*inflight) {
	var ready []*pending
	for _, f := range fs {
		cmd, err := c.decode(f.msg.Subject(), f.msg.Data())
		if err != nil {
			f.commandID = readableID(f.msg.Data())
			if decide(classInvalid, situation{}) == actDeadLetter {
				c.deadLetter(f, validationEntry(err))
			}
			continue
		}
		f.commandID, f.contactID = cmd.ID, cmd.ContactID
		ready = append(ready, &pending{f: f, cmd: cmd})
	}
	if len(ready) == 0 {
		return
	}
	// A replay ranks at its original place, possibly before commands that
	// arrived ahead of it.
	slices.SortStableFunc(ready, func(a, b *pending) int { return cmp.Compare(a.f.rank, b.f.rank) })
	contactID := ready[0].cmd.ContactID

	held, err := c.leases.Acquire(c.stop, clock.Key(contactID))
	if err != nil {
		c.handBack(ready, err, "taking the contact's lease failed")
		return
	}
	defer c.release(held)

	work, cancel := context.WithCancel(c.work)
	defer cancel()
	go func() {
		select {
		case <-held.Lost():
			cancel()
		case <-work.Done():
		}
	}()

	seen, live, err := c.judge(contactID, ready)
	if err != nil {
		c.handBack(ready, err, "reading the contact's clock failed")
		return
	}
	if len(live) > 1 && c.applyMerged(work, contactID, &seen, live) {
		return
	}
	for _, p := range live {
		c.attempt(work, p, &seen, held.Lost())
	}
}

// judge reads the contact's clock, trims each command to its fresh
// fields, settles the commands with none left, and returns the clock as
// read and the commands still to apply.
func (c *Consumer) judge(contactID int64, ready []*pending) (clock.Record, []*pending, error) {
	ctx, cancel := context.WithTimeout(c.work, recordTimeout)
	defer cancel()
	rec, err := c.clock.Get(ctx, contactID)
	if err != nil {
		return clock.Record{}, nil, err
	}

	var live []*pending
	for _, p := range ready {
		v := rec.Judge(p.cmd.Data.Fields(), p.f.rank)
		p.f.skipped = v.Stale
		switch {
		case len(v.Fresh) > 0:
			p.cmd.Data = onlyFields(p.cmd.Data, v.Fresh)
			live = append(live, p)
		case len(v.Done) > 0:
			// Redelivered after its clock was written but before the ack.
			c.ack(p.f, Applied, "")
		default:
			c.ack(p.f, Superseded, "")
		}
	}
	return rec, live, nil
}

// applyMerged sends live's fields as one update, later ranks winning, and
// reports whether the commands were settled. On any failure it settles
// none: each is then applied on its own, so one command Perfex refuses
// cannot take the others down with it.
func (c *Consumer) applyMerged(ctx context.Context, contactID int64, seen *clock.Record, live []*pending) bool {
	if c.gate.wait(c.stop) != nil {
		return false
	}
	var merged command.ContactData
	winner := map[string]*pending{}
	for _, p := range live {
		fields := p.cmd.Data.Fields()
		setFields(&merged, p.cmd.Data, fields)
		for _, name := range fields {
			winner[name] = p
		}
	}

	// The merged request carries the newest command's trace.
	ctx = crm.WithTraceparent(ctx, live[len(live)-1].f.msg.Headers().Get(traceparentHeader))
	res, _, err := c.update(ctx, contactID, merged)
	if err != nil {
		c.log.Debug("coalesced update failed; applying the commands one by one",
			zap.Int64("contact_id", contactID), zap.Int("commands", len(live)),
			zap.String("reason", string(reasonOf(err))))
		return false
	}

	marks := make([]clock.Mark, 0, len(live))
	for _, p := range live {
		marks = append(marks, p.mark())
	}
	if !c.record(contactID, seen, marks...) {
		for _, p := range live {
			c.nak(p.f, c.redeliveryDelay(p.f), "")
		}
		return true
	}

	saved := uint64(len(live)-1) * uint64(max(res.Requests, 1))
	c.requestsSaved.Add(saved)
	c.coalesced.Add(uint64(len(live)))
	for _, p := range live {
		p.f.coalesced = len(live)
		var overridden []string
		for _, name := range p.cmd.Data.Fields() {
			if winner[name] != p {
				overridden = append(overridden, name)
			}
		}
		p.f.skipped = append(p.f.skipped, overridden...)
		if len(overridden) == len(p.cmd.Data.Fields()) {
			c.ack(p.f, Superseded, "")
		} else {
			c.ack(p.f, Applied, "")
		}
	}
	return true
}

// record writes marks to the contact's clock, seen being the clock as this
// batch last read or wrote it, and reports success. Failing, the caller
// must not ack: a redelivery applies the same values again and records
// them then.
func (c *Consumer) record(contactID int64, seen *clock.Record, marks ...clock.Mark) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.work), recordTimeout)
	defer cancel()
	if err := c.clock.Record(ctx, contactID, seen, marks...); err != nil {
		c.log.Warn("recording the contact's clock failed; the command is handed back and applied again",
			zap.Int64("contact_id", contactID), zap.Error(err))
		return false
	}
	return true
}

func (c *Consumer) release(held *lease.Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	if err := held.Release(ctx); err != nil {
		c.log.Warn("releasing a contact's lease failed; it expires by itself", zap.Error(err))
	}
}

// handBack returns commands that could not be started to the server:
// soon when the worker is stopping, else after a backoff.
func (c *Consumer) handBack(ps []*pending, err error, what string) {
	stopping := c.stop.Err() != nil
	if !stopping {
		c.log.Warn(what+"; handing the commands back", zap.Int("commands", len(ps)), zap.Error(err))
	}
	for _, p := range ps {
		if stopping {
			c.nak(p.f, shutdownRedelay, "")
		} else {
			c.nak(p.f, c.redeliveryDelay(p.f), "")
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
