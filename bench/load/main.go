// Command load is perfex-worker's end-to-end load run (make bench). It
// starts JetStream and the Perfex simulator in this process, pre-loads a
// backlog of commands, and runs the real worker (cli.Main, as the binary
// does) and a lean reference consumer each in a child process of their
// own, so that their CPU time and peak RSS are measured alone. It prints
// one table; BENCHMARKS.md explains the columns.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/perfexworker/perfex-worker/internal/cli"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "worker":
			os.Exit(runWorker(os.Args[2:]))
		case "lean":
			runLean(os.Args[2:])
			return
		}
	}
	os.Exit(orchestrate(os.Args[1:]))
}

// runWorker is the worker child: perfex-worker's own command line, with
// an optional CPU profile around it. Arguments: [-cpuprofile FILE] run ...
func runWorker(args []string) int {
	if len(args) >= 2 && args[0] == "-cpuprofile" {
		f, err := os.Create(args[1])
		if err != nil {
			fatalf("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("%v", err)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
		args = args[2:]
	}
	return cli.Main(args, os.Stdout, os.Stderr)
}

type options struct {
	n           int
	contacts    int
	concurrency int
	latency     time.Duration
	pacedFor    time.Duration
	pacedRate   float64
	cpuprofile  string
	selfProfile string
	memory      string
	rateLimit   bool
	rateFor     time.Duration
	hot         int
	updates     int
	logs        string
	only        string
}

func orchestrate(args []string) int {
	var o options
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	fs.IntVar(&o.n, "n", 100000, "commands in each backlog run")
	fs.IntVar(&o.contacts, "contacts", 1000, "contacts the commands are spread over")
	fs.IntVar(&o.concurrency, "concurrency", 32, "--concurrency of the worker and in-flight limit of the lean reference")
	fs.DurationVar(&o.latency, "latency", 5*time.Millisecond, "simulator latency per request in the slow runs")
	fs.DurationVar(&o.pacedFor, "paced-for", 5*time.Second, "length of each half-load (latency) run; 0 skips them")
	fs.Float64Var(&o.pacedRate, "paced-rate", 0, "commands/s of the half-load runs; 0 for half of what the lean reference reached in the same configuration")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the worker's fast backlog run to this file")
	fs.StringVar(&o.selfProfile, "selfprofile", "", "write a CPU profile of this process (JetStream, the simulator, the bookkeeping) to this file")
	fs.StringVar(&o.memory, "memory", "", "instead: RSS with these backlogs pending, comma-separated (10000,1000000)")
	fs.BoolVar(&o.rateLimit, "ratelimit", false, "instead: the worker against a limit of 120 requests per minute")
	fs.DurationVar(&o.rateFor, "ratelimit-for", 150*time.Second, "how long the rate-limit run lasts at most")
	fs.IntVar(&o.hot, "hot", 4, "contacts the rate-limit run's commands go to")
	fs.IntVar(&o.updates, "updates", 50, "updates to each of those contacts in the rate-limit run")
	fs.StringVar(&o.logs, "logs", "", "directory for the children's stderr, created if need be (default: a new temporary directory, kept)")
	fs.StringVar(&o.only, "only", "", "run only the rows whose name contains this")
	_ = fs.Parse(args)

	dir, err := os.MkdirTemp("", "perfex-bench-")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(dir)
	// The children's logs outlive the run: failures point at them.
	if o.logs == "" {
		o.logs, err = os.MkdirTemp("", "perfex-bench-logs-")
	} else {
		err = os.MkdirAll(o.logs, 0o755)
	}
	if err != nil {
		fatalf("-logs: %v", err)
	}

	if o.selfProfile != "" {
		f, err := os.Create(o.selfProfile)
		if err != nil {
			fatalf("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("%v", err)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}

	printMachine()
	switch {
	case o.memory != "":
		return memoryRun(o, dir)
	case o.rateLimit:
		return rateLimitRun(o, dir)
	}
	return throughputRun(o, dir)
}

func printMachine() {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	fmt.Printf("machine: %s, %d CPUs, %s\n\n", model, numCPU(), goVersion())
}

// waitUntil polls cond every 10ms until it holds or d passes.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func pendingIs(s *stack, want uint64) func() bool {
	return func() bool {
		n, err := s.pending(context.Background())
		return err == nil && n == want
	}
}
