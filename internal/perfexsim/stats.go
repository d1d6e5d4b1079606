package perfexsim

import (
	"maps"
	"net/http"
	"sync"
)

// Route names used as RequestKey.Route.
const (
	// RouteContact is GET and PUT /api/contacts/{id}.
	RouteContact = "/api/contacts/{id}"
	// RoutePermissions is GET /api/thirdparty/customtable/contact_permissions.
	RoutePermissions = "/api/thirdparty/customtable/contact_permissions"
	// RouteOther is every other path, all answered with an HTML 404.
	RouteOther = "other"
)

// RequestKey identifies a class of requests in Stats.
type RequestKey struct {
	Method string
	// Route is RouteContact, RoutePermissions or RouteOther.
	Route string
	// Status is the status served, 0 when the connection was dropped or
	// the client went away before an answer.
	Status int
}

// Stats counts what the simulator has served since it started or since
// the last ResetStats.
type Stats struct {
	// Requests counts requests by method, route and status served.
	Requests map[RequestKey]int
	// RateLimited counts 429 answers, from the rate limit or a fault.
	RateLimited int
	// Applied counts PUTs that changed a stored contact.
	Applied int
	// TokenLeaks counts requests that carried authtoken in the URL query.
	// The simulator refuses them; a correct client never sends one.
	TokenLeaks int
	// Faults counts the faults served, by kind.
	Faults map[FaultKind]int
	// Traceparents counts requests by the traceparent header they carried
	// (requests without one are not counted), so tests can check that a
	// publisher's trace reached Perfex.
	Traceparents map[string]int
}

// Count returns how many requests got status on method and route.
func (s Stats) Count(method, route string, status int) int {
	return s.Requests[RequestKey{Method: method, Route: route, Status: status}]
}

// Total returns how many requests reached the simulator.
func (s Stats) Total() int {
	n := 0
	for _, c := range s.Requests {
		n += c
	}
	return n
}

// recorder accumulates Stats under a lock.
type recorder struct {
	mu sync.Mutex
	s  Stats
}

func newRecorder() *recorder {
	r := &recorder{}
	r.resetLocked()
	return r
}

func (r *recorder) resetLocked() {
	r.s = Stats{
		Requests:     make(map[RequestKey]int),
		Faults:       make(map[FaultKind]int),
		Traceparents: make(map[string]int),
	}
}

// request counts one finished request.
func (r *recorder) request(method, route string, status int, traceparent string) {
	r.mu.Lock()
	defer r.mu.Unlock()

	r.s.Requests[RequestKey{Method: method, Route: route, Status: status}]++
	if traceparent != "" {
		r.s.Traceparents[traceparent]++
	}
	if status == http.StatusTooManyRequests {
		r.s.RateLimited++
	}
}

func (r *recorder) applied() {
	r.mu.Lock()
	defer r.mu.Unlock()

	r.s.Applied++
}

func (r *recorder) leak() {
	r.mu.Lock()
	defer r.mu.Unlock()

	r.s.TokenLeaks++
}

func (r *recorder) fault(k FaultKind) {
	r.mu.Lock()
	defer r.mu.Unlock()

	r.s.Faults[k]++
}

func (r *recorder) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()

	s := r.s
	s.Requests = maps.Clone(r.s.Requests)
	s.Faults = maps.Clone(r.s.Faults)
	s.Traceparents = maps.Clone(r.s.Traceparents)
	return s
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()

	r.resetLocked()
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	return s.stats.snapshot()
}

// ResetStats sets every counter back to zero.
func (s *Sim) ResetStats() {
	s.stats.reset()
}
