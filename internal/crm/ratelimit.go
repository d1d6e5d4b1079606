package crm

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// minUnixReset separates the two readings of X-RateLimit-Reset. Perfex
// sends a Unix time; a value below this one (September 2001) cannot be a
// current instant, so it is read as a delay in seconds instead, which is
// what some proxies in front of PHP send. Reading it as an instant would
// put the retry in 1970, that is, immediately.
const minUnixReset = 1_000_000_000

// parseRateLimit reads the X-RateLimit-* headers. Known is true when at
// least one of them could be read.
func parseRateLimit(h http.Header, now time.Time) RateLimit {
	var rl RateLimit
	if n, ok := headerInt(h, "X-RateLimit-Limit"); ok {
		rl.Limit, rl.Known = n, true
	}
	if n, ok := headerInt(h, "X-RateLimit-Remaining"); ok {
		rl.Remaining, rl.Known = n, true
	}
	if t, ok := resetInstant(h.Get("X-RateLimit-Reset"), now); ok {
		rl.Reset, rl.Known = t, true
	}
	return rl
}

func headerInt(h http.Header, name string) (int, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, false
	}
	return n, true
}

// resetInstant reads X-RateLimit-Reset: Unix seconds, possibly with a
// fraction.
func resetInstant(v string, now time.Time) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > math.MaxInt32*4 {
		return time.Time{}, false
	}
	if f < minUnixReset {
		return now.Add(time.Duration(f * float64(time.Second))), true
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// retryAt is the earliest instant a rate-limited request can be retried:
// X-RateLimit-Reset when it lies ahead, else Retry-After (seconds or an
// HTTP date), else the zero time (no hint; the caller backs off).
func retryAt(h http.Header, now time.Time) time.Time {
	if t, ok := resetInstant(h.Get("X-RateLimit-Reset"), now); ok && t.After(now) {
		return t
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return time.Time{}
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 || secs > 7*24*3600 {
			return time.Time{}
		}
		return now.Add(time.Duration(secs) * time.Second)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t
	}
	return time.Time{}
}

// rateTracker keeps the freshest rate-limit state over concurrent
// requests. Replies can arrive out of order, so a reading replaces the
// stored one only if it belongs to a later window, or to the same window
// with fewer requests left, or if the stored window is over.
type rateTracker struct {
	mu  sync.Mutex
	cur RateLimit
}

func (t *rateTracker) observe(rl RateLimit) {
	t.mu.Lock()
	defer t.mu.Unlock()

	old := t.cur
	switch {
	case !old.Known, old.Reset.IsZero(), rl.Reset.IsZero():
	case rl.Reset.After(old.Reset):
	case time.Now().After(old.Reset):
	case rl.Reset.Equal(old.Reset) && rl.Remaining <= old.Remaining:
	default:
		return
	}
	t.cur = rl
}

func (t *rateTracker) last() RateLimit {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}
