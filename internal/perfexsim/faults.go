package perfexsim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// FaultKind is one way a request can go wrong.
type FaultKind int

// Fault kinds. Except for ResetAfterApply and TrailingWarning, a fault is
// decided before anything else happens to the request, so a faulted PUT
// changes nothing.
const (
	// FaultRefuse drops the connection with a TCP reset and closes the
	// port for Faults.RefuseFor, like SetDown(true): the client's next dials
	// are refused and every other open connection is cut. Only a simulator
	// started with Start can close its port; behind Handler alone it
	// behaves as FaultReset.
	FaultRefuse FaultKind = iota + 1
	// FaultReset drops the connection with a TCP reset, no answer sent.
	FaultReset
	// FaultResetAfterApply serves the request (a PUT is applied) and then
	// drops the connection with a TCP reset instead of answering: the
	// client cannot tell whether its update landed.
	FaultResetAfterApply
	// FaultTimeout answers nothing until the client gives up, the
	// simulator closes or Faults.TimeoutMax passes, then a 504 HTML page.
	FaultTimeout
	// FaultStatus500 answers 500 {"status":false,"message":"Internal Server Error"}.
	FaultStatus500
	// FaultHTML500 answers a 500 HTML page.
	FaultHTML500
	// FaultHTML502 answers a 502 HTML page from a proxy.
	FaultHTML502
	// FaultHTML503 answers a 503 HTML page from a proxy.
	FaultHTML503
	// FaultHTML504 answers a 504 HTML page from a proxy.
	FaultHTML504
	// FaultHTML404 answers the web server's 404 page, as when the URL or
	// the rewrite rules are wrong.
	FaultHTML404
	// FaultStatus429 answers 429 Too Many Requests, with Retry-After and an
	// X-RateLimit-Reset Faults.RetryAfter ahead.
	FaultStatus429
	// FaultRateLimit401 answers the older limit path's 401 "This API key
	// has reached the time limit for this method", with X-RateLimit-Reset
	// Faults.RetryAfter ahead.
	FaultRateLimit401
	// FaultBadToken answers 401 "Invalid Token", as if the token had been
	// revoked.
	FaultBadToken
	// FaultForbidden403 answers 403 "You do not have permission to perform
	// this action".
	FaultForbidden403
	// FaultTrailingWarning serves the request and prints a PHP warning
	// after a successful (2xx) JSON body.
	FaultTrailingWarning
)

var faultNames = map[FaultKind]string{
	FaultRefuse:          "refuse",
	FaultReset:           "reset",
	FaultResetAfterApply: "reset_after_apply",
	FaultTimeout:         "timeout",
	FaultStatus500:       "status500",
	FaultHTML500:         "html500",
	FaultHTML502:         "html502",
	FaultHTML503:         "html503",
	FaultHTML504:         "html504",
	FaultHTML404:         "html404",
	FaultStatus429:       "status429",
	FaultRateLimit401:    "rate_limit401",
	FaultBadToken:        "bad_token",
	FaultForbidden403:    "forbidden403",
	FaultTrailingWarning: "trailing_warning",
}

// String returns the kind's snake_case name, usable in test names.
func (k FaultKind) String() string {
	if n, ok := faultNames[k]; ok {
		return n
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// AllFaultKinds returns every fault kind, in declaration order.
func AllFaultKinds() []FaultKind {
	out := make([]FaultKind, 0, len(faultNames))
	for k := FaultRefuse; k <= FaultTrailingWarning; k++ {
		out = append(out, k)
	}
	return out
}

// Defaults for the zero values of Faults.
const (
	DefaultRetryAfter = time.Second
	DefaultTimeoutMax = 30 * time.Second
	DefaultRefuseFor  = 200 * time.Millisecond
)

// Faults describes the trouble the simulator causes. The zero value causes
// none.
type Faults struct {
	// Latency delays every request before anything else happens to it. A
	// client that gives up meanwhile gets no answer and changes nothing.
	Latency time.Duration

	// Rate is the probability, in [0, 1], that a request gets one of
	// Kinds. 1 faults every request.
	Rate float64
	// Kinds are the faults to pick from, uniformly; list a kind twice to
	// make it twice as likely.
	Kinds []FaultKind
	// Methods, when not empty, limits faults to requests with these
	// methods ("PUT", "GET").
	Methods []string
	// Contacts, when not empty, limits faults to requests for these
	// contact ids (GET and PUT /contacts/{id}): a poison contact whose
	// requests keep failing while the others succeed.
	Contacts []int64
	// Max, when positive, stops faulting after that many faults: Rate 1
	// and Max 1 fault exactly the next request.
	Max int
	// Seed seeds the random source that decides, so a run can be repeated.
	Seed uint64

	// RetryAfter is how far ahead FaultStatus429 and FaultRateLimit401 put
	// the reset; DefaultRetryAfter when zero.
	RetryAfter time.Duration
	// TimeoutMax bounds how long FaultTimeout hangs; DefaultTimeoutMax when
	// zero.
	TimeoutMax time.Duration
	// RefuseFor is how long FaultRefuse keeps the port closed;
	// DefaultRefuseFor when zero.
	RefuseFor time.Duration
}

// withDefaults fills the zero durations.
func (f Faults) withDefaults() Faults {
	if f.RetryAfter <= 0 {
		f.RetryAfter = DefaultRetryAfter
	}
	if f.TimeoutMax <= 0 {
		f.TimeoutMax = DefaultTimeoutMax
	}
	if f.RefuseFor <= 0 {
		f.RefuseFor = DefaultRefuseFor
	}
	f.Kinds = slices.Clone(f.Kinds)
	f.Methods = slices.Clone(f.Methods)
	f.Contacts = slices.Clone(f.Contacts)
	return f
}

// faultState is the current Faults with its random source and count.
type faultState struct {
	mu     sync.Mutex
	cfg    Faults
	rng    *rand.Rand
	served int
}

func newFaultState() *faultState {
	fs := &faultState{}
	fs.set(Faults{})
	return fs
}

func (fs *faultState) set(f Faults) {
	fs.mu.Lock()
	defer fs.mu.Unlock()

	fs.cfg = f.withDefaults()
	fs.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
	fs.served = 0
}

// config returns the current Faults.
func (fs *faultState) config() Faults {
	fs.mu.Lock()
	defer fs.mu.Unlock()

	return fs.cfg
}

// decide picks the fault for one request with method for contact (0 when
// the request is not about one contact), 0 for none.
func (fs *faultState) decide(method string, contact int64) FaultKind {
	fs.mu.Lock()
	defer fs.mu.Unlock()

	c := fs.cfg
	switch {
	case c.Rate <= 0 || len(c.Kinds) == 0:
		return 0
	case len(c.Methods) > 0 && !slices.Contains(c.Methods, method):
		return 0
	case len(c.Contacts) > 0 && !slices.Contains(c.Contacts, contact):
		return 0
	case c.Max > 0 && fs.served >= c.Max:
		return 0
	case c.Rate < 1 && fs.rng.Float64() >= c.Rate:
		return 0
	}

	fs.served++
	return c.Kinds[fs.rng.IntN(len(c.Kinds))]
}

// SetFaults replaces the faults in force, restarting their random source
// from f.Seed and their Max count. SetFaults(Faults{}) ends all faults.
func (s *Sim) SetFaults(f Faults) {
	s.faults.set(f)
}
