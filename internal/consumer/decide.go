package consumer

import (
	"context"
	"errors"

	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// class is what one attempt at a command came to.
type class int

const (
	classInvalid     class = iota // command.Decode refused the body
	classApplied                  // Update returned nil
	classPermanent                // *crm.PermanentError
	classRateLimited              // *crm.TransientError with reason rate_limited
	classTransient                // any other *crm.TransientError, or an untyped error
	classHeld                     // *crm.HeldError
	classStopped                  // shutdown cut the attempt short
	classStoreFailed              // storing the dead letter failed
)

// action is the one thing the loop does with the message next.
type action int

const (
	actAck           action = iota // Ack: applied
	actDeadLetter                  // store in the DLQ, ack after the PubAck
	actWaitRateLimit               // every worker waits until RetryAt+jitter, then retry
	actPark                        // wait (kept alive) until the gate reopens, then retry
	actRetryLocal                  // sleep a backoff in process, then retry
	actNak                         // NakWithDelay(backoff): retried by the server
	actNakShort                    // NakWithDelay(short): shutdown hands it back
)

// situation is what decide needs to know beyond the class.
type situation struct {
	// perfex is the gate's verdict for a transient failure.
	perfex verdict
	// localLeft: this delivery still has in-process retries.
	localLeft bool
	// atLimit: the server's delivery count reached Config.MaxDeliver.
	atLimit bool
	// stopping: the worker is shutting down.
	stopping bool
}

// decide maps the outcome of an attempt to one broker action. It is the
// only place that does; the rest of the loop carries the action out.
//
//	outcome of the attempt          situation                            action
//	------------------------------  -----------------------------------  ----------------------------------
//	decode: *ValidationError        -                                    dead-letter (its code, status 0)
//	nil (applied)                   -                                    Ack
//	*PermanentError                 -                                    dead-letter (its reason), then ack
//	dead-letter store failed        -                                    NakWithDelay(backoff), never ack
//	*TransientError rate_limited    -                                    wait for RetryAt+jitter, retry;
//	                                                                     no attempt used
//	*TransientError (other)         Perfex down (no answer, probe fails) outage: park, no attempt used
//	  or untyped error              Perfex held (probe says so)          park
//	                                Perfex up, local retries left        retry in process after backoff
//	                                Perfex up, none left, below limit    NakWithDelay(backoff)
//	                                Perfex up, none left, at limit       dead-letter max_deliveries
//	*HeldError                      -                                    hold the worker, park
//	any retry or park               shutting down                        NakWithDelay(short)
//	shutdown cut the attempt short  -                                    NakWithDelay(short)
//
// Parked messages stay in hand, kept alive with InProgress, and are tried
// again when the gate reopens; their delivery count does not move. No Nak
// is bare: every one carries a delay.
func decide(c class, s situation) action {
	switch c {
	case classInvalid, classPermanent:
		return actDeadLetter
	case classApplied:
		return actAck
	case classStoreFailed:
		return actNak
	case classStopped:
		return actNakShort
	}

	if s.stopping {
		return actNakShort
	}
	switch c {
	case classRateLimited:
		return actWaitRateLimit
	case classHeld:
		return actPark
	}

	// A transient failure.
	switch {
	case s.perfex == verdictStopped:
		return actNakShort
	case s.perfex != verdictUp:
		return actPark
	case s.localLeft:
		return actRetryLocal
	case s.atLimit:
		return actDeadLetter
	default:
		return actNak
	}
}

// classify sorts Update's answer. An error of no known type is treated as
// transient: it may pass, and a retry loses nothing.
func classify(err error, work context.Context) class {
	var permanent *crm.PermanentError
	var held *crm.HeldError
	var transient *crm.TransientError
	switch {
	case err == nil:
		return classApplied
	case errors.As(err, &permanent):
		return classPermanent
	case errors.As(err, &held):
		return classHeld
	case errors.Is(err, errStopped), work.Err() != nil:
		return classStopped
	case errors.As(err, &transient) && transient.Reason == reason.RateLimited:
		return classRateLimited
	default:
		return classTransient
	}
}
