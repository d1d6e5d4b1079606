// Package health serves perfex-worker's liveness and readiness endpoints.
//
// /healthz answers 200 while the process serves HTTP at all. /readyz runs
// every readiness check and answers 200 when all pass, 503 otherwise,
// naming each failing check. The worker serves no traffic, so readiness
// matters to rollouts (a new pod that cannot work holds the rollout back)
// and to operators, who see why work stopped.
package health

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Check reports why something is not ready, or nil when it is.
type Check func() error

// Checker holds the readiness checks, in the order they were added.
type Checker struct {
	mu     sync.RWMutex
	names  []string
	checks []Check
}

// Add appends a named readiness check.
func (c *Checker) Add(name string, check Check) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names = append(c.names, name)
	c.checks = append(c.checks, check)
}

// Ready runs every check and returns one line per failing one, "name:
// cause"; none means ready.
func (c *Checker) Ready() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var failing []string
	for i, check := range c.checks {
		if err := check(); err != nil {
			failing = append(failing, c.names[i]+": "+err.Error())
		}
	}
	return failing
}

// Register adds /healthz and /readyz to mux.
func (c *Checker) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		failing := c.Ready()
		if len(failing) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready")
			fmt.Fprintln(w, strings.Join(failing, "\n"))
			return
		}
		fmt.Fprintln(w, "ready")
	})
}
