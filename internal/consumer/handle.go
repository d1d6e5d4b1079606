package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/clock"
	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// Timings of single broker calls.
const (
	// storeTimeout bounds storing one dead letter.
	storeTimeout = 10 * time.Second
	// shutdownRedelay is the delay of the Nak that hands a message back
	// at shutdown, so another worker takes it soon.
	shutdownRedelay = time.Second
	// minNakDelay keeps every Nak delayed: a bare Nak would be redelivered
	// at once, to this worker among others.
	minNakDelay = 10 * time.Millisecond
	// maxRateLimitJitter bounds the jitter added to a rate limit's reset.
	maxRateLimitJitter = 2 * time.Second
)

var errStopped = errors.New("worker is stopping")

// traceparentHeader carries the publisher's W3C trace context.
const traceparentHeader = "traceparent"

// attempt takes one decoded command, already trimmed to its fresh fields
// and with this process holding the contact's lease, to a final broker
// action. seen is the contact's clock as the batch last read or wrote it.
func (c *Consumer) attempt(ctx context.Context, p *pending, seen *clock.Record, lost <-chan struct{}) {
	f, cmd := p.f, p.cmd
	// Forward the publisher's trace to Perfex: crm sets the header.
	ctx = crm.WithTraceparent(ctx, f.msg.Headers().Get(traceparentHeader))
	counted := 0     // transient failures that used an attempt, this delivery
	rateLimited := 0 // rate-limit answers, this delivery
	for {
		if c.gate.wait(c.stop) != nil {
			c.nak(f, shutdownRedelay, "")
			return
		}
		if isClosed(lost) {
			c.msgLog(f).Warn("the contact's lease was lost; handing the command back")
			c.nak(f, shutdownRedelay, "")
			return
		}

		_, started, err := c.update(ctx, cmd.ContactID, cmd.Data)
		cl := classify(err, c.work)
		sit := situation{stopping: c.stop.Err() != nil}
		if cl == classTransient && !sit.stopping {
			sit.perfex = c.gate.check(c.stop, started, c.applier.Probe)
			if sit.perfex == verdictUp {
				counted++
			}
			sit.localLeft = counted <= c.cfg.LocalRetries
			sit.atLimit = f.attempt >= c.cfg.MaxDeliver
		}
		switch decide(cl, sit) {
		case actAck:
			if c.record(f.contactID, seen, p.mark()) {
				c.ack(f, Applied, "")
			} else {
				c.nak(f, c.redeliveryDelay(f), "")
			}
			return

		case actDeadLetter:
			if cl == classPermanent {
				c.deadLetter(f, permanentEntry(err))
			} else {
				c.deadLetter(f, maxDeliveriesEntry(err, f.attempt))
			}
			return

		case actNak:
			c.nak(f, c.redeliveryDelay(f), reasonOf(err))
			return

		case actNakShort:
			c.nak(f, shutdownRedelay, reasonOf(err))
			return

		case actWaitRateLimit:
			c.gate.rateLimit(c.rateLimitUntil(err, rateLimited))
			rateLimited++
			c.msgLog(f).Debug("rate limited by Perfex; waiting", zap.String("outcome", "waiting"))

		case actPark:
			var held *crm.HeldError
			if errors.As(err, &held) {
				c.gate.hold(held)
				c.observe(f, Held, held.Reason)
			}
			c.msgLog(f).Debug("Perfex unavailable; keeping the command until it is back",
				zap.String("outcome", "parked"), zap.String("reason", string(reasonOf(err))))

		case actRetryLocal:
			c.msgLog(f).Debug("transient failure; retrying in process",
				zap.String("outcome", "retrying"), zap.String("error", dlq.Mask(err.Error())))
			if !sleep(c.stop, c.backoff(counted-1)) {
				c.nak(f, shutdownRedelay, reasonOf(err))
				return
			}
		}
	}
}

// update calls Perfex within the concurrency bound and reports when the
// request began, after the wait for a slot: an answer to another request
// during that wait says nothing about this one's failure. Every answer
// from Perfex (applied, refused, rate-limited) is recorded with the gate
// before the slot is given back, so no request started after it can
// mistake it for an answer given during its own run. ctx is the work
// context, cancelled early when the contact's lease is lost.
func (c *Consumer) update(ctx context.Context, contactID int64, data command.ContactData) (crm.Result, time.Time, error) {
	select {
	case c.running <- struct{}{}:
	case <-c.stop.Done():
		return crm.Result{}, time.Now(), errStopped
	}
	defer func() { <-c.running }()
	started := time.Now()
	if c.stop.Err() != nil {
		return crm.Result{}, started, errStopped
	}
	res, err := c.applier.Update(ctx, contactID, data)
	switch classify(err, c.work) {
	case classApplied, classPermanent, classRateLimited:
		c.gate.markUp()
	}
	return res, started, err
}

// ack settles f with a plain Ack, not waiting for the server to confirm
// it; a confirmation would not close the window anyway, since the process
// can die before the ack leaves it. A lost ack means a redelivery: an
// applied command's fields are in the contact's clock before the ack, so
// it is judged done and acked without calling Perfex; a dead-lettered
// command is tried again, and its letter, stored again, is refused by the
// dead-letter stream as a duplicate.
func (c *Consumer) ack(f *inflight, kind string, code reason.Code) {
	var err error
	if !c.inHand.settle(f, func() { err = f.msg.Ack() }) {
		return
	}
	if err != nil {
		c.msgLog(f).Warn("acknowledgement not sent; the command will be delivered again",
			zap.String("outcome", kind), zap.Error(err))
	}
	c.observe(f, kind, code)
	switch kind {
	case Applied:
		c.msgLog(f).Debug("command applied", zap.String("outcome", kind),
			zap.Strings("skipped_fields", f.skipped), zap.Int("coalesced", f.coalesced))
	case Superseded:
		c.msgLog(f).Debug("command superseded: a newer command already set every field it sets",
			zap.String("outcome", kind), zap.Strings("skipped_fields", f.skipped))
	}
}

// nak settles f by handing it back to the server after delay.
func (c *Consumer) nak(f *inflight, delay time.Duration, code reason.Code) {
	delay = max(delay, minNakDelay)
	var err error
	if !c.inHand.settle(f, func() { err = f.msg.NakWithDelay(delay) }) {
		return
	}
	log := c.msgLog(f).With(zap.String("outcome", Retried), zap.String("reason", string(code)),
		zap.Duration("redelivery_in", delay))
	switch {
	case err != nil:
		log.Warn("handing the command back failed; the server redelivers it after AckWait", zap.Error(err))
	case code == "":
		log.Debug("command handed back")
	default:
		log.Warn("command failed for now; handed back for a later delivery")
	}
	c.observe(f, Retried, code)
}

// deadLetter stores f in the dead-letter stream and acks it only after the
// server confirmed the letter.
func (c *Consumer) deadLetter(f *inflight, e dlq.Entry) {
	e.WorkerID = c.cfg.WorkerID
	e.CommandID = f.commandID
	ctx, cancel := context.WithTimeout(c.work, storeTimeout)
	err := c.dlq.Store(ctx, f.msg, e)
	cancel()
	if err != nil {
		c.msgLog(f).Error("storing the dead letter failed; the command stays in the stream",
			zap.String("reason", string(e.Reason)), zap.Error(err))
		if decide(classStoreFailed, situation{}) == actNak {
			c.nak(f, c.redeliveryDelay(f), e.Reason)
		}
		return
	}
	c.msgLog(f).Warn("command dead-lettered",
		zap.String("outcome", DeadLettered), zap.String("reason", string(e.Reason)),
		zap.Int("status", e.Status), zap.String("detail", dlq.Mask(e.Detail)))
	c.ack(f, DeadLettered, e.Reason)
}

func (c *Consumer) observe(f *inflight, kind string, code reason.Code) {
	if c.cfg.Observer == nil {
		return
	}
	c.cfg.Observer(Outcome{
		Kind:      kind,
		CommandID: f.commandID,
		ContactID: f.contactID,
		StreamSeq: f.seq,
		Rank:      f.rank,
		Attempt:   f.attempt,
		Reason:    code,
		Skipped:   f.skipped,
		Coalesced: f.coalesced,
	})
}

func (c *Consumer) msgLog(f *inflight) *zap.Logger {
	contact := f.contactID
	if contact == 0 {
		contact = contactFromSubject(f.msg.Subject())
	}
	log := c.log.With(
		zap.String("command_id", f.commandID),
		zap.Int64("contact_id", contact),
		zap.Uint64("stream_seq", f.seq),
		zap.Int("attempt", f.attempt),
	)
	if id := crm.TraceID(f.msg.Headers().Get(traceparentHeader)); id != "" {
		log = log.With(zap.String("trace_id", id))
	}
	return log
}

// backoff is the n-th delay (from 0) of the exponential backoff with
// jitter, never above RetryMax.
func (c *Consumer) backoff(n int) time.Duration {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(c.cfg.RetryInitial),
		backoff.WithMultiplier(c.cfg.RetryMultiplier),
		backoff.WithMaxInterval(c.cfg.RetryMax),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0),
	)
	d := b.NextBackOff()
	for range max(n, 0) {
		d = b.NextBackOff()
	}
	return min(d, c.cfg.RetryMax)
}

// redeliveryDelay grows with the delivery count and continues where the
// in-process retries of this delivery left off.
func (c *Consumer) redeliveryDelay(f *inflight) time.Duration {
	return c.backoff(f.attempt - 1 + c.cfg.LocalRetries)
}

// rateLimitUntil is when to try again after a rate-limit answer: the
// reset Perfex announced plus jitter, or a backoff when it announced none.
func (c *Consumer) rateLimitUntil(err error, n int) time.Time {
	var transient *crm.TransientError
	if errors.As(err, &transient) && !transient.RetryAt.IsZero() {
		jitter := rand.N(min(c.cfg.RetryInitial, maxRateLimitJitter) + 1)
		return transient.RetryAt.Add(jitter)
	}
	return time.Now().Add(c.backoff(n))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func validationEntry(err error) dlq.Entry {
	var ve *command.ValidationError
	if !errors.As(err, &ve) {
		ve = &command.ValidationError{Code: command.CodeMalformed, Detail: err.Error()}
	}
	code := reason.Code(ve.Code)
	if !code.Known() {
		code = reason.Malformed
	}
	detail := ve.Detail
	if ve.Field != "" {
		detail = ve.Field + ": " + detail
	}
	return dlq.Entry{Reason: code, Detail: detail}
}

func permanentEntry(err error) dlq.Entry {
	var pe *crm.PermanentError
	errors.As(err, &pe)
	code := pe.Reason
	if code == "" {
		code = reason.Rejected
	}
	detail := pe.Message
	if detail == "" {
		detail = pe.Error()
	}
	return dlq.Entry{Reason: code, Detail: detail, Status: pe.Status, FieldErrors: pe.FieldErrors, Reply: pe.Excerpt}
}

func maxDeliveriesEntry(err error, attempt int) dlq.Entry {
	e := dlq.Entry{
		Reason: reason.MaxDeliveries,
		Detail: fmt.Sprintf("still failing at delivery %d while Perfex answered other requests: %v", attempt, err),
	}
	var te *crm.TransientError
	if errors.As(err, &te) {
		e.Status = te.Status
		e.Reply = te.Excerpt
	}
	return e
}

// reasonOf names the class of a failure for logs and observers.
func reasonOf(err error) reason.Code {
	var te *crm.TransientError
	var held *crm.HeldError
	switch {
	case err == nil, errors.Is(err, errStopped):
		return ""
	case errors.As(err, &held):
		return held.Reason
	case errors.As(err, &te) && te.Reason != "":
		return te.Reason
	default:
		return reason.Connection
	}
}

// readableID is the body's "id" when the body is a JSON object with a
// usable string id, even if the command as a whole is malformed.
func readableID(body []byte) string {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(v.ID, &id) != nil || strings.TrimSpace(id) == "" || len(id) > 256 {
		return ""
	}
	return id
}

// contactFromSubject reads the contact id from the subject's last token,
// for logging a command whose body could not be decoded.
func contactFromSubject(subject string) int64 {
	tail := subject[strings.LastIndexByte(subject, '.')+1:]
	id, err := strconv.ParseInt(tail, 10, 64)
	if err != nil || id < 0 {
		return 0
	}
	return id
}
