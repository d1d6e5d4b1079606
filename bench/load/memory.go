package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

// memoryRun measures the worker's RSS while it works through a large
// backlog, for each backlog size: the simulator answers slowly so that
// the backlog stays pending during the measurement.
func memoryRun(o options, dir string) int {
	s, err := startStack(filepath.Join(dir, "js"), o.contacts, 0, 0)
	if err != nil {
		fatalf("%v", err)
	}
	defer s.close()
	s.sim.SetFaults(perfexsim.Faults{Latency: o.latency})

	fmt.Println("| pending backlog | publish time | commands applied while measured | RSS after 10s | peak RSS | worker CPU s |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, f := range strings.Split(o.memory, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fatalf("-memory: bad size %q", f)
		}
		run := nextRun()
		t0 := time.Now()
		step := max(n/10, 1)
		if _, err := s.publishBacklog(context.Background(), load{run: run, n: n, contacts: o.contacts}, 4096, func(done int) {
			if done%step == 0 || done == n {
				fmt.Fprintf(os.Stderr, "memory %d: %d published (%s)\n", n, done, time.Since(t0).Round(time.Second))
			}
		}); err != nil {
			fatalf("%v", err)
		}
		pubTime := time.Since(t0)
		s.track.reset(run, n)

		c, err := startChild(filepath.Join(o.logs, run+"-memory.log"), o.childArgs(s, row{name: "memory"})...)
		if err != nil {
			fatalf("%v", err)
		}
		// The worker works through the backlog for 10 s; one that exits
		// before is a failed run, not a small RSS.
		if waitUntil(10*time.Second, c.exited) {
			fatalf("memory %d: %v", n, c.exitError())
		}
		rss, peak, _ := c.memory()
		cpu, _ := c.cpu()
		applied := s.track.count.Load()
		if _, err := c.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "memory: child exited: %v\n", err)
		}
		fmt.Printf("| %d | %s | %d | %.1f MB | %.1f MB | %.2f |\n", n, pubTime.Round(time.Second),
			applied, float64(rss)/(1<<20), float64(peak)/(1<<20), cpu.Seconds())

		st, err := s.js.Stream(context.Background(), s.names.Commands)
		if err == nil {
			err = st.Purge(context.Background())
		}
		if err != nil {
			fatalf("purging: %v", err)
		}
	}
	return 0
}
