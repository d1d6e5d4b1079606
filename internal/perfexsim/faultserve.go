package perfexsim

import (
	"net/http"
	"time"
)

// faultStatus maps the faults that answer with a plain page or body to
// their status.
var faultStatus = map[FaultKind]int{
	FaultHTML500:      http.StatusInternalServerError,
	FaultHTML502:      http.StatusBadGateway,
	FaultHTML503:      http.StatusServiceUnavailable,
	FaultHTML504:      http.StatusGatewayTimeout,
	FaultHTML404:      http.StatusNotFound,
	FaultStatus500:    http.StatusInternalServerError,
	FaultBadToken:     http.StatusUnauthorized,
	FaultForbidden403: http.StatusForbidden,
}

// serveFault carries out kind, decided for ex before anything else
// happened to it. It reports false when the request must still be served:
// no fault, or a fault that acts on the answer.
func (s *Sim) serveFault(
	ex *exchange, kind FaultKind, cfg Faults, rs rateState, now time.Time,
) bool {
	switch kind {
	case 0, FaultTrailingWarning, FaultResetAfterApply:
		return false

	case FaultRefuse:
		// The connection is taken from the server first, so that closing
		// the port does not end it politely before the reset.
		conn := ex.hijack()
		s.refuseFor(cfg.RefuseFor)
		resetConn(conn)

	case FaultReset:
		ex.reset()

	case FaultTimeout:
		s.hang(ex, cfg.TimeoutMax, rs)

	case FaultHTML500, FaultHTML502, FaultHTML503, FaultHTML504, FaultHTML404:
		ex.send(htmlReply(faultStatus[kind]), rs, false)

	case FaultStatus500:
		ex.send(messageReply(http.StatusInternalServerError, false, msgInternal), rs, false)

	case FaultBadToken:
		ex.send(messageReply(http.StatusUnauthorized, false, msgTokenInvalid), rs, false)

	case FaultForbidden403:
		ex.send(messageReply(http.StatusForbidden, false, msgNoPermission), rs, false)

	case FaultStatus429, FaultRateLimit401:
		limited := rateState{limit: rs.limit, reset: now.Add(cfg.RetryAfter)}
		rep := messageReply(http.StatusUnauthorized, false, msgTimeLimit)
		if kind == FaultStatus429 {
			rep = messageReply(http.StatusTooManyRequests, false, msgTooMany)
			rep.retryAfter = secondsUntil(limited.reset, now)
		}
		ex.send(rep, limited, false)

	default:
		return false
	}
	return true
}

// hang answers nothing until the client gives up or the simulator closes,
// or, after limit, answers as a proxy whose upstream never did.
func (s *Sim) hang(ex *exchange, limit time.Duration, rs rateState) {
	t := time.NewTimer(limit)
	defer t.Stop()

	select {
	case <-t.C:
		ex.send(htmlReply(http.StatusGatewayTimeout), rs, false)
	case <-ex.r.Context().Done():
	case <-s.done:
		// Returning would let the server send an empty 200.
		ex.reset()
	}
}
