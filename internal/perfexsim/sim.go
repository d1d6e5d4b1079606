package perfexsim

import (
	"crypto/subtle"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultToken is the API token used when Options.Token is empty.
const DefaultToken = "perfexsim-token"

// Flavor selects how the simulated installation reports invalid values.
type Flavor int

const (
	// FlavorV3 answers 422 with field errors under "errors", as v3 of the
	// REST module does. It is the default.
	FlavorV3 Flavor = iota
	// FlavorLegacy answers 400 with only a message, as older installations
	// do.
	FlavorLegacy
)

// PermissionsMode says whether the contact_permissions table is exposed.
type PermissionsMode int32

const (
	// PermissionsAllowed exposes the table, as if an administrator had
	// allow-listed it. It is the default.
	PermissionsAllowed PermissionsMode = iota
	// PermissionsForbidden answers 403 "Access to this table is not
	// allowed".
	PermissionsForbidden
)

// Options configures a simulator. The zero value is a v3 installation with
// no contacts, no rate limit, the permissions table allowed and
// DefaultToken.
type Options struct {
	// Token is the value the authtoken header must carry.
	Token string
	// Seed fills the simulator with the fictitious customers and contacts
	// described in the package documentation.
	Seed bool
	// Flavor selects how invalid values are reported.
	Flavor Flavor
	// RateLimit is how many requests a window allows; 0 turns the limit
	// off (the headers are still sent).
	RateLimit int
	// RateWindow is the length of a rate-limit window; DefaultRateWindow
	// when zero.
	RateWindow time.Duration
	// PermissionsTable says whether contact_permissions is exposed.
	PermissionsTable PermissionsMode
	// PasswordCost is the bcrypt cost of the passwords the simulator
	// hashes; DefaultPasswordCost when zero, at least 4. Tests that set
	// passwords under the race detector run much faster with 4.
	PasswordCost int
}

// Sim is a simulated Perfex CRM installation with the REST API module. All
// its methods are safe for concurrent use.
type Sim struct {
	token  string
	flavor Flavor

	store       *store
	faults      *faultState
	limiter     *limiter
	stats       *recorder
	passwords   *passwords
	permissions atomic.Int32 // PermissionsMode

	net       netState
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

// New returns a simulator configured by opts. It serves nothing until
// Start is called or its Handler is mounted.
func New(opts Options) *Sim {
	s := &Sim{
		token:     opts.Token,
		flavor:    opts.Flavor,
		store:     newStore(),
		faults:    newFaultState(),
		limiter:   newLimiter(opts.RateLimit, opts.RateWindow),
		stats:     newRecorder(),
		passwords: newPasswords(opts.PasswordCost),
		done:      make(chan struct{}),
	}
	if s.token == "" {
		s.token = DefaultToken
	}
	s.permissions.Store(int32(opts.PermissionsTable))

	if opts.Seed {
		s.seed()
	}
	return s
}

// Token returns the token requests must carry.
func (s *Sim) Token() string { return s.token }

// Handler returns the simulator as an http.Handler, for httptest servers.
// Paths are served from the root, so the API base URL is the server's URL
// followed by "/api". FaultRefuse needs Start: behind a handler alone it
// resets the connection instead.
func (s *Sim) Handler() http.Handler { return s }

// ServeHTTP serves one request. The steps run in this order: token leak
// count, latency, fault decision, rate-limit count, connection and status
// faults, rate limit, routing, token check, then the endpoint.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := &exchange{w: w, r: r, route: matchRoute(r.URL.Path)}
	defer func() { s.stats.request(r.Method, ex.route.name, ex.status, r.Header.Get("traceparent")) }()

	leaked := r.URL.Query().Has("authtoken")
	if leaked {
		s.stats.leak()
	}

	// Reading the body first lets the server notice a client that hangs
	// up, which cancels the request's context during latency and timeouts.
	if !ex.readBody() {
		return
	}

	cfg := s.faults.config()
	if !s.pause(ex, cfg.Latency) {
		return
	}

	kind := s.faults.decide(r.Method, ex.route.id)
	if kind != 0 {
		s.stats.fault(kind)
	}
	now := time.Now()
	rs, allowed := s.limiter.take(now)

	if s.serveFault(ex, kind, cfg, rs, now) {
		return
	}

	if !allowed {
		rep := messageReply(http.StatusTooManyRequests, false, msgTooMany)
		rep.retryAfter = secondsUntil(rs.reset, now)
		ex.send(rep, rs, false)
		return
	}

	rep := s.route(ex, leaked)
	if kind == FaultResetAfterApply {
		ex.reset()
		return
	}
	ex.send(rep, rs, kind == FaultTrailingWarning)
}

// route checks the path and the token and runs the endpoint.
func (s *Sim) route(ex *exchange, leaked bool) reply {
	r := ex.r
	if ex.route.name == RouteOther {
		return htmlReply(http.StatusNotFound)
	}

	if rep, ok := s.authenticate(r, leaked); !ok {
		return rep
	}

	switch {
	case ex.route.name == RouteContact && r.Method == http.MethodGet:
		return s.getContact(ex.route.id)
	case ex.route.name == RouteContact && r.Method == http.MethodPut:
		return s.putContact(ex)
	case ex.route.name == RoutePermissions && r.Method == http.MethodGet:
		return s.getPermissions()
	}

	rep := messageReply(http.StatusMethodNotAllowed, false, msgUnknownMethod)
	rep.allow = "GET"
	if ex.route.name == RouteContact {
		rep.allow = "GET, PUT"
	}
	return rep
}

// authenticate checks the authtoken header. A token in the URL query is
// refused even when it is right: it would end up in access logs.
func (s *Sim) authenticate(r *http.Request, leaked bool) (reply, bool) {
	if leaked {
		return messageReply(http.StatusUnauthorized, false, msgTokenInvalid), false
	}

	got := r.Header.Get("authtoken")
	switch {
	case got == "":
		return messageReply(http.StatusUnauthorized, false, msgTokenMissing), false
	case subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1:
		return messageReply(http.StatusUnauthorized, false, msgTokenInvalid), false
	}
	return reply{}, true
}

// pause waits d, and reports false when the client gave up or the
// simulator closed meanwhile; the request then gets no answer.
func (s *Sim) pause(ex *exchange, d time.Duration) bool {
	if d <= 0 {
		return true
	}

	t := time.NewTimer(d)
	defer t.Stop()

	select {
	case <-t.C:
		return true
	case <-ex.r.Context().Done():
		return false
	case <-s.done:
		ex.reset()
		return false
	}
}
