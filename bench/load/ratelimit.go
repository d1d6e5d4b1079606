package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

// rateLimitRun runs the worker against a simulator that allows 120
// requests a minute, with a backlog of repeated updates to a few hot
// contacts, and reports what the limit did.
func rateLimitRun(o options, dir string) int {
	const limit, hot, perContact = 120, 4, 50
	s, err := startStack(filepath.Join(dir, "js"), hot, limit, time.Minute)
	if err != nil {
		fatalf("%v", err)
	}
	defer s.close()

	n := hot * perContact
	run := nextRun()
	if _, err := s.publishBacklog(context.Background(), load{run: run, n: n, contacts: hot}, n, nil); err != nil {
		fatalf("%v", err)
	}
	s.track.reset(run, n)
	s.sim.ResetStats()

	c, err := startChild(o.childArgs(s, row{name: "ratelimit"})...)
	if err != nil {
		fatalf("%v", err)
	}
	t0 := time.Now()
	type sample struct {
		at               time.Duration
		applied, req, rl int
	}
	var samples []sample
	done := false
	for time.Since(t0) < o.rateFor && !done {
		time.Sleep(5 * time.Second)
		st := s.sim.Stats()
		samples = append(samples, sample{time.Since(t0).Round(time.Second), int(s.track.count.Load()), st.Total(), st.RateLimited})
		done = s.track.count.Load() == int64(n)
	}
	elapsed := time.Since(t0)
	out, err := c.stop()
	logPath := filepath.Join(o.logs, run+"-ratelimit.log")
	_ = os.WriteFile(logPath, []byte(out), 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ratelimit: child exited: %v\n", err)
	}

	st := s.sim.Stats()
	dlq := uint64(0)
	if ds, err := s.js.Stream(context.Background(), s.names.DLQ); err == nil {
		if info, err := ds.Info(context.Background()); err == nil {
			dlq = info.State.Msgs
		}
	}
	fmt.Printf("rate limit %d requests/minute; %d commands (%d hot contacts x %d updates), worker --concurrency %d\n",
		limit, n, hot, perContact, o.concurrency)
	fmt.Println("| after | applied | requests served | of which 429 |")
	fmt.Println("| ---: | ---: | ---: | ---: |")
	for _, x := range samples {
		fmt.Printf("| %s | %d | %d | %d |\n", x.at, x.applied, x.req, x.rl)
	}
	fmt.Printf("\nafter %s: %d of %d applied, %d requests (%.2f per applied command), %d answered 429, %d dead-lettered\n",
		elapsed.Round(time.Second), s.track.count.Load(), n, st.Total(),
		float64(st.Total())/float64(max(s.track.count.Load(), 1)), st.RateLimited, dlq)
	fmt.Printf("requests by kind: GET contact 200 %d, PUT 200 %d, GET 429 %d, PUT 429 %d\n",
		st.Count(http.MethodGet, perfexsim.RouteContact, 200), st.Count(http.MethodPut, perfexsim.RouteContact, 200),
		st.Count(http.MethodGet, perfexsim.RouteContact, 429), st.Count(http.MethodPut, perfexsim.RouteContact, 429))
	lines := strings.Count(out, "\n")
	rl := strings.Count(out, "rate")
	fmt.Printf("worker log: %d lines at warn or above, %d mentioning the rate limit (%s)\n", lines, rl, logPath)
	return 0
}
