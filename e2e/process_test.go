package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/perfexworker/perfex-worker/internal/perfexsim"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// binary is the perfex-worker binary built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "perfex-worker-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "perfex-worker")
	build := exec.Command("go", "build", "-race", "-o", binary, "../worker")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building perfex-worker:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// worker is a perfex-worker run process.
type worker struct {
	cmd  *exec.Cmd
	logs *syncBuffer
}

func (s *stack) spawn(t *testing.T, extra ...string) *worker {
	t.Helper()
	w := &worker{logs: &syncBuffer{}}
	args := append([]string{"run", "--log-level", "debug", "--ack-wait", "5s",
		"--retry-initial", "20ms", "--retry-max", "200ms", "--drain-timeout", "5s",
		"--metrics-addr", "127.0.0.1:0"}, extra...)
	w.cmd = exec.Command(binary, args...)
	w.cmd.Env = append(os.Environ(),
		"NATS_URL="+s.nats.URL(), "PERFEX_API_URL="+s.url, "PERFEX_API_TOKEN="+token)
	w.cmd.Stdout, w.cmd.Stderr = w.logs, w.logs
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("starting perfex-worker: %v", err)
	}
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			_ = w.cmd.Process.Kill()
			_ = w.cmd.Wait()
		}
	})
	return w
}

// TestKilledWorkerLosesNothing kills a worker process with SIGKILL in the
// middle of a batch, starts another, and checks that every valid command
// was applied and every invalid one dead-lettered exactly once.
func TestKilledWorkerLosesNothing(t *testing.T) {
	s := newStack(t, stackOptions{noWorker: true})
	s.sim.SetFaults(perfexsim.Faults{Latency: 20 * time.Millisecond})

	const valid, invalid = 200, 10
	titles := map[int64]string{}
	for i := range valid {
		id := s.sim.PutContact(perfexsim.Contact{
			UserID: 7, FirstName: "Carga", LastName: fmt.Sprintf("Teste %d", i),
			Email: fmt.Sprintf("carga.%d@example.com.br", i), Active: true,
		})
		titles[id] = fmt.Sprintf("Title %d", i)
	}
	for id, title := range titles {
		s.publish(update(id, map[string]any{"title": title, "password": "Kill-Test-Secret-" + title[6:]}))
	}
	var bad []uint64
	for i := range invalid {
		bad = append(bad, s.publish(update(1, map[string]any{"title": i})))
	}

	first := s.spawn(t)
	eventually(t, "the first worker to apply some commands", func() bool { return s.sim.Stats().Applied >= 40 })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	appliedAtKill := s.sim.Stats().Applied
	if appliedAtKill >= valid {
		t.Fatalf("the worker finished (%d applied) before it was killed: the test proves nothing", appliedAtKill)
	}

	second := s.spawn(t)
	eventually(t, "an empty command stream", func() bool { return s.pending() == 0 })

	for id, title := range titles {
		if got := s.contact(id).Title; got != title {
			t.Errorf("contact %d title = %q, want %q", id, got, title)
		}
	}
	letters := s.letters()
	if len(letters) != invalid {
		t.Errorf("dead letters = %d, want %d", len(letters), invalid)
	}
	seen := map[uint64]int{}
	for _, l := range letters {
		seen[l.OriginalSequence]++
		if l.Reason != reason.Malformed {
			t.Errorf("letter %d reason = %s", l.Sequence, l.Reason)
		}
	}
	for _, seq := range bad {
		if seen[seq] != 1 {
			t.Errorf("command %d dead-lettered %d times, want once", seq, seen[seq])
		}
	}

	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("the worker did not exit cleanly on SIGTERM: %v\n%s", err, tail(second.logs.String()))
	}
	for _, w := range []*worker{first, second} {
		assertNoSecrets(t, w.logs.String(), "Kill-Test-Secret-")
	}
}

// TestSecretsNeverLogged runs commands with passwords through every path
// (applied, dead-lettered by the worker and by Perfex, retried) with debug
// logging, and searches the logs and dead letters for the secrets.
func TestSecretsNeverLogged(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.sim.SetFaults(perfexsim.Faults{Rate: 0.3, Seed: 7, Kinds: []perfexsim.FaultKind{
		perfexsim.FaultStatus500, perfexsim.FaultHTML502, perfexsim.FaultReset, perfexsim.FaultTrailingWarning}})

	const secret = "Secret-Portal-Pw-"
	var cmds []cmd
	for i, data := range []map[string]any{
		{"password": secret + "1"},
		{"password": secret + "2", "email": "not an email"},
		{"password": secret + "3", "userid": 99},
		{"password": secret + "4", "title": 5},
		{"password": secret + "5", "email": "ana.souza@example.com.br"},
	} {
		c := update(int64(i+2), data)
		cmds = append(cmds, c)
		s.publish(c)
	}
	for _, c := range cmds {
		s.waitFinal(c.id())
	}

	logs := s.logs.String()
	if !strings.Contains(logs, cmds[0].id()) {
		t.Fatal("the logs do not mention the commands: the search proves nothing")
	}
	assertNoSecrets(t, logs, secret)
	for _, l := range s.letters() {
		var hdr bytes.Buffer
		for k, v := range l.Headers {
			fmt.Fprintf(&hdr, "%s: %v\n", k, v)
		}
		fmt.Fprintf(&hdr, "%s %s %s %v", l.Detail, l.Reply, l.Message, l.FieldErrors)
		assertNoSecrets(t, hdr.String(), secret)
	}
}

func assertNoSecrets(t *testing.T, out, passwordPrefix string) {
	t.Helper()
	if strings.Contains(out, token) {
		t.Errorf("the API token appears in the output:\n%s", tail(out))
	}
	if strings.Contains(out, passwordPrefix) {
		t.Errorf("a contact password appears in the output:\n%s", tail(out))
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}
