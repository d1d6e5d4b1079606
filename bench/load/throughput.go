package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

func numCPU() int { return runtime.NumCPU() }

func goVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		return info.GoVersion
	}
	return runtime.Version()
}

// result is one row of the table.
type result struct {
	name      string
	n         int
	perSec    float64
	reqPerCmd float64
	p50, p99  time.Duration
	simOwn    time.Duration // the simulator's own time per command
	rate      float64       // the row's publishing rate; 0 for a pre-loaded backlog
	cpuPer1k  float64       // CPU seconds per 1k commands
	peakRSS   int64
	r429      int
	// boxBusy is the share of the machine's CPUs the worker (or lean)
	// and this process (JetStream, simulator) used together.
	boxBusy float64
}

// row describes one run.
type row struct {
	name    string
	lean    bool
	latency time.Duration
	// rate > 0 publishes at that rate while the child runs (half load);
	// 0 pre-loads a backlog of n.
	rate    float64
	profile string
}

// childArgs starts the worker or the lean reference against s.
func (o options) childArgs(s *stack, r row) []string {
	conc := strconv.Itoa(o.concurrency)
	if r.lean {
		return []string{"lean", "-nats-url", s.ns.ClientURL(), "-perfex-url", s.url,
			"-perfex-token", simToken, "-concurrency", conc}
	}
	args := []string{"worker"}
	if r.profile != "" {
		args = append(args, "-cpuprofile", r.profile)
	}
	return append(args, "run", "--nats-url", s.ns.ClientURL(), "--perfex-url", s.url,
		"--perfex-token", simToken, "--concurrency", conc, "--worker-id", "bench",
		"--log-level", "warn", "--metrics-addr=")
}

var runSeq int

func nextRun() string {
	runSeq++
	return "r" + strconv.Itoa(runSeq)
}

// measure runs one row on s and returns its figures.
func (o options) measure(s *stack, r row) (result, error) {
	ctx := context.Background()
	s.sim.SetFaults(perfexsim.Faults{Latency: r.latency})
	res := result{name: r.name, simOwn: 2 * r.latency, rate: r.rate}

	run := nextRun()
	l := load{run: run, n: o.n, contacts: o.contacts}
	var sent []int64
	if r.rate == 0 {
		t0 := time.Now()
		var err error
		sent, err = s.publishBacklog(ctx, l, 4096, nil)
		if err != nil {
			return res, err
		}
		fmt.Fprintf(os.Stderr, "%s: %d commands pre-loaded in %s\n", r.name, l.n, time.Since(t0).Round(time.Millisecond))
	} else {
		l.n = int(r.rate * o.pacedFor.Seconds())
	}
	res.n = l.n

	logPath := filepath.Join(o.logs, run+"-"+strings.ReplaceAll(r.name, " ", "_")+".log")
	c, err := startChild(logPath, o.childArgs(s, r)...)
	if err != nil {
		return res, err
	}
	defer func() {
		if _, err := c.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: child exited: %v (log %s)\n", r.name, err, logPath)
		}
	}()

	if r.rate > 0 {
		// Warm up: the child is bound and its connections are open
		// before the paced commands start.
		warm := load{run: run + "w", n: 2 * o.concurrency, contacts: o.contacts}
		s.track.reset(warm.run, warm.n)
		if _, err := s.publishBacklog(ctx, warm, warm.n, nil); err != nil {
			return res, err
		}
		if err := c.waitUntil(30*time.Second, func() bool { return s.track.count.Load() == int64(warm.n) }); err != nil {
			return res, fmt.Errorf("%s: warm-up not applied: %v (log %s)", r.name, err, logPath)
		}
	}
	s.track.reset(run, l.n)
	s.sim.ResetStats()

	var cpu0, self0 time.Duration
	if r.rate > 0 {
		cpu0, _ = c.cpu()
		self0 = selfCPU()
		go func() {
			var err error
			sent, err = s.publishPaced(ctx, l, r.rate)
			if err != nil {
				fatalf("%s: %v", r.name, err)
			}
		}()
	} else {
		// Startup (connecting, binding) is left out: the clock and the
		// CPU count start with the first command applied.
		if err := c.waitUntil(time.Minute, func() bool { return s.track.count.Load() > 0 }); err != nil {
			return res, fmt.Errorf("%s: nothing applied: %v (log %s)", r.name, err, logPath)
		}
		cpu0, _ = c.cpu()
		self0 = selfCPU()
	}

	limit := 10*time.Minute + time.Duration(l.n)*time.Millisecond
	waitErr := c.waitUntil(limit, func() bool { return s.track.count.Load() == int64(l.n) })
	cpu1, _ := c.cpu()
	self1 := selfCPU()
	_, peak, _ := c.memory()
	if waitErr != nil {
		return res, fmt.Errorf("%s: only %d of %d applied: %v (log %s)", r.name, s.track.count.Load(), l.n, waitErr, logPath)
	}
	if !waitUntil(30*time.Second, pendingIs(s, 0)) {
		return res, fmt.Errorf("%s: applied but not all acked", r.name)
	}

	applied := s.track.snapshot()
	first, last := s.track.first.Load(), s.track.last.Load()
	if r.rate > 0 {
		first = slices.Min(sent)
	}
	wall := time.Duration(last - first)
	st := s.sim.Stats()
	res.perSec = float64(l.n) / wall.Seconds()
	res.reqPerCmd = float64(st.Total()) / float64(l.n)
	res.cpuPer1k = (cpu1 - cpu0).Seconds() / float64(l.n) * 1000
	res.peakRSS = peak
	res.r429 = st.RateLimited
	res.boxBusy = (cpu1 - cpu0 + self1 - self0).Seconds() / wall.Seconds() / float64(numCPU())
	for sent == nil {
		time.Sleep(10 * time.Millisecond)
	}
	lat := make([]time.Duration, l.n)
	for i := range lat {
		lat[i] = time.Duration(applied[i] - sent[i])
	}
	slices.Sort(lat)
	res.p50 = lat[len(lat)/2]
	res.p99 = lat[len(lat)*99/100]
	return res, nil
}

func throughputRun(o options, dir string) int {
	s, err := startStack(filepath.Join(dir, "js"), o.contacts, 0, 0)
	if err != nil {
		fatalf("%v", err)
	}
	defer s.close()

	var results []result
	run := func(r row) result {
		if o.only != "" && !strings.Contains(r.name, o.only) {
			return result{}
		}
		res, err := o.measure(s, r)
		if err != nil {
			fatalf("%v", err)
		}
		fmt.Fprintf(os.Stderr, "%s: %.0f commands/s\n", r.name, res.perSec)
		results = append(results, res)
		return res
	}

	wFast := run(row{name: "worker fast", profile: o.cpuprofile})
	lFast := run(row{name: "lean fast", lean: true})
	wSlow := run(row{name: "worker 5ms", latency: o.latency})
	lSlow := run(row{name: "lean 5ms", lean: true, latency: o.latency})
	if o.pacedFor > 0 {
		// Half load is half of what the lean reference reached on this
		// machine with the same simulator: the theoretical rate is out of
		// reach here (BENCHMARKS.md). -paced-rate sets it instead.
		half := func(lean result) float64 {
			if o.pacedRate > 0 {
				return o.pacedRate
			}
			return lean.perSec / 2
		}
		if rate := half(lSlow); rate > 0 {
			run(row{name: "worker 5ms half-load", latency: o.latency, rate: rate})
			run(row{name: "lean 5ms half-load", lean: true, latency: o.latency, rate: rate})
		}
		if rate := half(lFast); rate > 0 {
			run(row{name: "worker fast half-load", rate: rate})
			run(row{name: "lean fast half-load", lean: true, rate: rate})
		}
	}

	printTable(results)
	fmt.Println()
	ratio := func(name string, w, l result) {
		if w.perSec > 0 && l.perSec > 0 {
			fmt.Printf("worker/lean %-5s throughput %.2f   CPU per command %.2f\n", name, w.perSec/l.perSec, w.cpuPer1k/l.cpuPer1k)
		}
	}
	ratio("fast", wFast, lFast)
	ratio("5ms", wSlow, lSlow)
	if wSlow.perSec > 0 {
		theory := float64(o.concurrency) / (2 * o.latency).Seconds()
		fmt.Printf("worker 5ms vs theoretical %.0f commands/s (%d in flight, 2 requests of %s): %.2f\n",
			theory, o.concurrency, o.latency, wSlow.perSec/theory)
	}
	return 0
}

func printTable(rs []result) {
	fmt.Println("| run | commands | commands/s | Perfex requests/command | p50 latency | p99 latency | p99 beyond simulator | CPU s/1k commands | peak RSS MB | 429s | machine CPU busy |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rs {
		// Latency beyond the simulator means something only when the
		// child kept up; otherwise it is time spent waiting in a backlog.
		beyond := fmtDur(r.p99 - r.simOwn)
		if r.rate == 0 || r.perSec < 0.95*r.rate {
			beyond = "(backlog)"
		}
		fmt.Printf("| %s | %d | %.0f | %.2f | %s | %s | %s | %.3f | %.1f | %d | %.0f%% |\n",
			r.name, r.n, r.perSec, r.reqPerCmd, fmtDur(r.p50), fmtDur(r.p99), beyond,
			r.cpuPer1k, float64(r.peakRSS)/(1<<20), r.r429, 100*r.boxBusy)
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	default:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
}
