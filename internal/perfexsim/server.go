package perfexsim

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrClosed is returned by Start and SetDown once Close has been called.
var ErrClosed = errors.New("perfexsim: simulator closed")

// netState is the simulator's own listener, opened and closed at one
// address to play outages.
type netState struct {
	mu sync.Mutex

	// addr is the resolved host:port, fixed by Start.
	addr string
	// srv serves on ln while the port is open; both are nil while it is
	// closed.
	srv *http.Server
	ln  net.Listener

	down        bool      // SetDown(true) in force
	refuseUntil time.Time // a FaultRefuse in force until then
	closed      bool
}

// Start listens on addr, which must be a loopback address ("127.0.0.1:0"
// picks a free port), serves the API there and returns its base URL, for
// example "http://127.0.0.1:41234/api". A simulator starts once.
func (s *Sim) Start(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("perfexsim: start: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("perfexsim: start: %q is not a loopback address", addr)
	}

	n := &s.net
	n.mu.Lock()
	defer n.mu.Unlock()

	switch {
	case n.closed:
		return "", ErrClosed
	case n.addr != "":
		return "", fmt.Errorf("perfexsim: start: already serving at %s", n.addr)
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("perfexsim: start: %w", err)
	}
	n.addr = ln.Addr().String()
	s.serveLocked(ln)
	return "http://" + n.addr + "/api", nil
}

// Addr returns the host:port Start listens on, "" before Start.
func (s *Sim) Addr() string {
	s.net.mu.Lock()
	defer s.net.mu.Unlock()

	return s.net.addr
}

// SetDown closes the port (true), so that connections are refused and open
// ones are cut, or opens it again at the same address (false). It returns
// an error when the simulator was never started, is closed, or the port
// cannot be taken back.
func (s *Sim) SetDown(down bool) error {
	n := &s.net
	n.mu.Lock()
	defer n.mu.Unlock()

	switch {
	case n.closed:
		return ErrClosed
	case n.addr == "":
		return errors.New("perfexsim: set down: simulator not started")
	}

	n.down = down
	if !down {
		// An explicit "up" also ends a FaultRefuse outage early.
		n.refuseUntil = time.Time{}
	}
	return s.reconcileLocked()
}

// refuseFor closes the port for d, as FaultRefuse does. It reports false
// when the simulator has no port of its own (Handler used alone).
func (s *Sim) refuseFor(d time.Duration) bool {
	n := &s.net
	n.mu.Lock()
	defer n.mu.Unlock()

	if n.addr == "" || n.closed {
		return false
	}

	until := time.Now().Add(d)
	if until.After(n.refuseUntil) {
		n.refuseUntil = until
	}
	_ = s.reconcileLocked()

	time.AfterFunc(d, func() {
		n.mu.Lock()
		defer n.mu.Unlock()

		// The error has nowhere to go; SetDown(false) reports it if the
		// port stays taken.
		_ = s.reconcileLocked()
	})
	return true
}

// reconcileLocked opens or closes the port to match the wanted state.
func (s *Sim) reconcileLocked() error {
	n := &s.net
	wantDown := n.closed || n.down || time.Now().Before(n.refuseUntil)

	if wantDown {
		if n.srv != nil {
			// The listener is closed here rather than left to the server,
			// which only knows it once its Serve goroutine has run. Close
			// then cuts open connections: an outage leaves no keep-alive
			// connection behind for the client to reuse.
			_ = n.ln.Close()
			_ = n.srv.Close()
			n.srv, n.ln = nil, nil
		}
		return nil
	}

	if n.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", n.addr)
	if err != nil {
		return fmt.Errorf("perfexsim: reopening %s: %w", n.addr, err)
	}
	s.serveLocked(ln)
	return nil
}

// serveLocked serves on ln with a fresh server; an http.Server cannot be
// reused once closed.
func (s *Sim) serveLocked(ln net.Listener) {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.net.srv, s.net.ln = srv, ln

	go func() { _ = srv.Serve(ln) }()
}

// Close stops serving, cuts open connections and releases requests held by
// faults. It is safe to call more than once.
func (s *Sim) Close() {
	s.closeOnce.Do(func() { close(s.done) })

	n := &s.net
	n.mu.Lock()
	defer n.mu.Unlock()

	n.closed = true
	_ = s.reconcileLocked()
}
