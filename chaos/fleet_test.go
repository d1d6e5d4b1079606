//go:build chaos

package chaos

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fleet runs the worker processes; a process that exits by itself (for
// example because NATS was down when it started) is started again. Each
// process logs at debug level to worker-<i>.log in logDir, appending to
// what earlier processes in its slot wrote: the outcomes are read from
// there.
type fleet struct {
	t       *testing.T
	natsURL string
	simURL  string
	logDir  string

	mu     sync.Mutex
	procs  map[int]*exec.Cmd
	exited map[int]chan struct{}
	closed bool

	kills, terms, starts atomic.Int64
}

func (f *fleet) start(i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	if f.procs == nil {
		f.procs, f.exited = map[int]*exec.Cmd{}, map[int]chan struct{}{}
	}
	// --max-deliveries is high because the server's delivery count, which
	// it limits, counts every delivery that a killed or stopped process
	// held: with a kill about every 3 s among three processes, each one
	// lives some 9 s, and a command for a hot contact, queued in a process
	// behind that contact's other commands, is held through dozens of
	// deaths (up to 32 deliveries in a run). At 30, a few valid commands
	// per run reached the limit by deaths alone, and random faults on that
	// last delivery (three in a row while Perfex answered others)
	// dead-lettered them. A command that really keeps failing is
	// dead-lettered at the limit all the same (e2e, TestPoison...).
	cmd := exec.Command(binary, "run", "--log-level", "debug", "--log-format", "json", "--metrics-addr=",
		"--concurrency", "8", "--max-deliveries", "100", "--ack-wait", "5s",
		"--retry-initial", "50ms", "--retry-max", "1s", "--drain-timeout", "3s",
		"--perfex-timeout", "1s", "--perfex-recovery-ramp", "3s", "--worker-id", "chaos-"+strconv.Itoa(i))
	cmd.Env = append(os.Environ(), "NATS_URL="+f.natsURL, "PERFEX_API_URL="+f.simURL, "PERFEX_API_TOKEN="+token)
	logf, err := os.OpenFile(filepath.Join(f.logDir, fmt.Sprintf("worker-%d.log", i)),
		os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		f.t.Errorf("starting worker %d: %v", i, err)
		return
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		f.t.Errorf("starting worker %d: %v", i, err)
		return
	}
	f.starts.Add(1)
	done := make(chan struct{})
	f.procs[i], f.exited[i] = cmd, done
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
		f.mu.Lock()
		mine := f.procs[i] == cmd
		closed := f.closed
		f.mu.Unlock()
		if mine && !closed {
			time.Sleep(500 * time.Millisecond)
			f.mu.Lock()
			again := f.procs[i] == cmd
			f.mu.Unlock()
			if again {
				f.start(i)
			}
		}
	}()
}

// workerLogDir returns the directory the workers log to: dir, created if
// need be, or a temporary one. Outcomes are read back from every log in
// it, so a directory that holds an earlier run's logs is refused.
func workerLogDir(t *testing.T, dir string) string {
	t.Helper()
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("-log-dir: %v", err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "worker-*.log"))
	if err != nil || len(old) > 0 {
		t.Fatalf("-log-dir %s already holds worker logs (%d); the outcomes would mix with an earlier run's: give an empty directory", dir, len(old))
	}
	return dir
}

// killAtRandom kills (SIGKILL, or now and then SIGTERM) a random worker
// about every mean, and starts it again, until stop closes.
func (f *fleet) killAtRandom(rng *rand.Rand, mean time.Duration, stop <-chan struct{}) {
	for {
		d := time.Duration(rng.Int64N(int64(2 * mean)))
		select {
		case <-stop:
			return
		case <-time.After(d):
		}
		f.mu.Lock()
		ids := make([]int, 0, len(f.procs))
		for i, cmd := range f.procs {
			if cmd != nil { // nil: its restart failed, and the test with it
				ids = append(ids, i)
			}
		}
		if len(ids) == 0 {
			f.mu.Unlock()
			continue
		}
		sort.Ints(ids)
		i := ids[rng.IntN(len(ids))]
		cmd, done := f.procs[i], f.exited[i]
		f.procs[i] = nil // the watcher does not restart it: we do
		f.mu.Unlock()

		sig := syscall.SIGKILL
		if rng.IntN(4) == 0 {
			sig = syscall.SIGTERM
			f.terms.Add(1)
		} else {
			f.kills.Add(1)
		}
		_ = cmd.Process.Signal(sig)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		f.start(i)
	}
}

func (f *fleet) stopAll() {
	f.mu.Lock()
	f.closed = true
	procs := make(map[int]*exec.Cmd, len(f.procs))
	for i, c := range f.procs {
		procs[i] = c
	}
	exited := f.exited
	f.mu.Unlock()
	for i, c := range procs {
		if c == nil {
			continue
		}
		_ = c.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited[i]:
		case <-time.After(30 * time.Second):
			_ = c.Process.Kill()
		}
	}
}
