package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/perfexworker/perfex-worker/internal/metrics"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

// rateLimitRun runs the worker against a simulator that allows 120
// requests a minute, with a backlog of o.updates repeated updates to each
// of o.hot contacts published before the worker starts, and reports what
// the limit did and how far coalescing brought the requests per command
// down.
//
// A command is done when the worker acked it (the work queue then deletes
// it): with coalescing most commands never reach Perfex under their own
// title, because a later command for the same contact overwrote their
// fields in the merged update, so the tracker's count of titles seen is
// not the measure here.
func rateLimitRun(o options, dir string) int {
	const limit = 120
	if o.hot < 1 || o.updates < 1 {
		fatalf("-hot and -updates: want at least 1")
	}
	ctx := context.Background()
	s, err := startStack(filepath.Join(dir, "js"), o.hot, limit, time.Minute)
	if err != nil {
		fatalf("%v", err)
	}
	defer s.close()

	n := o.hot * o.updates
	run := nextRun()
	if _, err := s.publishBacklog(ctx, load{run: run, n: n, contacts: o.hot}, n, nil); err != nil {
		fatalf("%v", err)
	}
	s.track.reset(run, n)
	s.sim.ResetStats()

	// The worker's own counters (outcomes, coalesced, requests saved) are
	// read from its metrics endpoint.
	metricsAddr, err := freeAddr()
	if err != nil {
		fatalf("%v", err)
	}
	logPath := filepath.Join(o.logs, fmt.Sprintf("%s-ratelimit-%dx%d.log", run, o.hot, o.updates))
	c, err := startChild(logPath, append(o.childArgs(s, row{name: "ratelimit"}), "--metrics-addr", metricsAddr)...)
	if err != nil {
		fatalf("%v", err)
	}
	t0 := time.Now()
	type sample struct {
		at                   time.Duration
		settled, titles, req int
		rl                   int
	}
	var samples []sample
	take := func(settled int) {
		st := s.sim.Stats()
		samples = append(samples, sample{time.Since(t0).Round(time.Second), settled,
			int(s.track.count.Load()), st.Total(), st.RateLimited})
	}
	settled, cleared := 0, time.Duration(0)
	for next := 5 * time.Second; time.Since(t0) < o.rateFor; {
		time.Sleep(100 * time.Millisecond)
		if c.exited() {
			fatalf("ratelimit: %v", c.exitError())
		}
		if left, err := s.pending(ctx); err == nil {
			settled = n - int(left)
		}
		if settled == n {
			cleared = time.Since(t0)
			take(settled)
			break
		}
		if time.Since(t0) >= next {
			take(settled)
			next += 5 * time.Second
		}
	}
	elapsed := time.Since(t0)
	// The worker copies its consumer's totals to the metrics every poll
	// interval: wait one so that the last merges are in.
	time.Sleep(metrics.DefaultPollInterval + time.Second)
	worker, scrapeErr := scrape(metricsAddr)
	out, err := c.stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ratelimit: child exited: %v\n", err)
	}

	st := s.sim.Stats()
	dlq := uint64(0)
	if ds, err := s.js.Stream(ctx, s.names.DLQ); err == nil {
		if info, err := ds.Info(ctx); err == nil {
			dlq = info.State.Msgs
		}
	}
	fmt.Printf("rate limit %d requests/minute; %d commands (%d hot contacts x %d updates) published before the worker started, worker --concurrency %d\n",
		limit, n, o.hot, o.updates, o.concurrency)
	fmt.Println("| after | settled (acked) | own title seen by Perfex | requests served | of which 429 |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: |")
	for _, x := range samples {
		fmt.Printf("| %s | %d | %d | %d | %d |\n", x.at, x.settled, x.titles, x.req, x.rl)
	}
	fmt.Println()
	if cleared > 0 {
		fmt.Printf("all %d commands settled after %s (the worker's start-up included)\n", n, cleared.Round(100*time.Millisecond))
	} else {
		fmt.Printf("after %s: %d of %d commands settled\n", elapsed.Round(time.Second), settled, n)
	}
	fmt.Printf("%d requests (%.2f per command), %d answered 429, %d dead-lettered\n",
		st.Total(), float64(st.Total())/float64(n), st.RateLimited, dlq)
	fmt.Printf("requests by kind: GET contact 200 %d, PUT 200 %d, GET 429 %d, PUT 429 %d\n",
		st.Count(http.MethodGet, perfexsim.RouteContact, 200), st.Count(http.MethodPut, perfexsim.RouteContact, 200),
		st.Count(http.MethodGet, perfexsim.RouteContact, 429), st.Count(http.MethodPut, perfexsim.RouteContact, 429))
	if scrapeErr != nil {
		fmt.Printf("worker metrics: %v\n", scrapeErr)
	} else {
		fmt.Printf("worker metrics: applied %.0f, superseded %.0f, retried %.0f, dead-lettered %.0f; coalesced %.0f, requests saved %.0f\n",
			worker.sum("perfex_worker_commands_total", `outcome="applied"`),
			worker.sum("perfex_worker_commands_total", `outcome="superseded"`),
			worker.sum("perfex_worker_commands_total", `outcome="retried"`),
			worker.sum("perfex_worker_commands_total", `outcome="dead_lettered"`),
			worker.sum("perfex_worker_coalesced_commands_total", ""),
			worker.sum("perfex_worker_requests_saved_total", ""))
	}
	lines := strings.Count(out, "\n")
	rl := strings.Count(out, "rate")
	fmt.Printf("worker log: %d lines at warn or above, %d mentioning the rate limit (%s)\n", lines, rl, logPath)
	return 0
}

// freeAddr is a loopback address no one listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// series are the samples of a Prometheus text exposition, by name with
// labels as written.
type series map[string]float64

func scrape(addr string) (series, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := series{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// sum adds the samples of name whose labels contain label ("" for all).
func (m series) sum(name, label string) float64 {
	total := 0.0
	for k, v := range m {
		base, labels, _ := strings.Cut(k, "{")
		if base == name && strings.Contains(labels, label) {
			total += v
		}
	}
	return total
}
