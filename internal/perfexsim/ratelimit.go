package perfexsim

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// DefaultRateWindow is the rate-limit window used when Options.RateWindow
// is zero.
const DefaultRateWindow = time.Minute

// unlimitedAdvertised is the X-RateLimit-Limit sent when the rate limit is
// off: every reply still carries the headers, with a limit no client will
// reach, so that a client pacing itself on them never waits. (It was
// 100,000 once: a client spreading that over the one-minute window is held
// to 1,667 requests a second, which is what capped the benchmark worker.)
const unlimitedAdvertised = 1_000_000_000

// rateState is what the X-RateLimit-* headers of one reply say.
type rateState struct {
	limit     int
	remaining int
	reset     time.Time
}

// setHeaders writes rs as X-RateLimit-* headers. The reset instant is
// rounded up to the next whole second, so that a client waiting until it
// always finds the new window open.
func (rs rateState) setHeaders(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(rs.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(rs.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(unixCeil(rs.reset), 10))
}

// unixCeil is t in Unix seconds, rounded up.
func unixCeil(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// secondsUntil is the Retry-After for an instant: whole seconds, rounded
// up, at least one.
func secondsUntil(t, now time.Time) int {
	return max(1, int(math.Ceil(t.Sub(now).Seconds())))
}

// limiter counts requests in fixed windows. A window opens with the first
// request after the previous one closed, so a burst of requests never
// straddles two windows by accident.
type limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	start  time.Time
	used   int
}

func newLimiter(limit int, window time.Duration) *limiter {
	if window <= 0 {
		window = DefaultRateWindow
	}
	return &limiter{limit: limit, window: window}
}

// take counts one request at now and reports whether it is within the
// limit. Every request counts, refused ones included.
func (l *limiter) take(now time.Time) (rateState, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()

	if l.start.IsZero() || !now.Before(l.start.Add(l.window)) {
		l.start = now
		l.used = 0
	}
	l.used++

	limit := l.limit
	if limit <= 0 {
		limit = unlimitedAdvertised
	}

	rs := rateState{
		limit:     limit,
		remaining: max(0, limit-l.used),
		reset:     l.start.Add(l.window),
	}
	return rs, l.limit <= 0 || l.used <= l.limit
}
