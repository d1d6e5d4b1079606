package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// dlqCommand returns `perfex-worker dlq args...` pointed at the stack.
func (s *stack) dlqCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, append([]string{"dlq"}, args...)...)
	cmd.Env = append(os.Environ(), "NATS_URL="+s.nats.URL())
	return cmd
}

// dlq runs `perfex-worker dlq args...` and returns its output and exit
// status.
func (s *stack) dlq(args ...string) (string, int) {
	s.t.Helper()
	out, err := s.dlqCommand(args...).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		s.t.Fatalf("running dlq %v: %v", args, err)
	}
	return string(out), 0
}

// commands reads every message the command stream holds.
func (s *stack) commands() []*jetstream.RawStreamMsg {
	s.t.Helper()
	ctx := context.Background()
	st, err := s.js.Stream(ctx, "PERFEX_COMMANDS")
	if err != nil {
		s.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// finals returns the command's final outcomes, in order.
func (s *stack) finals(id string) []consumer.Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []consumer.Outcome
	for _, o := range s.outcomes[id] {
		if o.Final() {
			out = append(out, o)
		}
	}
	return out
}

// TestDLQReplayInsideDedupeWindow dead-letters a command, fixes it with
// --set and replays it seconds later, well inside the duplicates window
// of the original command id: the replay is stored (it has its own id),
// keeps traceparent, and is applied.
func TestDLQReplayInsideDedupeWindow(t *testing.T) {
	s := newStack(t, stackOptions{})
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	c := update(4, map[string]any{"email": "diego.almeida@example", "password": "Replay-Secret-1"})
	s.publish(c, "traceparent", tp)
	if o := s.waitFinal(c.id()); o.Kind != consumer.DeadLettered || o.Reason != reason.InvalidEmail {
		t.Fatalf("first outcome = %+v", o)
	}
	l, ok := s.letterFor(c.id())
	if !ok {
		t.Fatal("no dead letter")
	}
	s.stopWorker()

	out, code := s.dlq("replay", strconv.FormatUint(l.Sequence, 10), "--set", "data.email=diego.almeida@example.com.br")
	if code != 0 || !strings.Contains(out, "sent to perfex.cmd.contact.update.4") {
		t.Fatalf("replay: exit %d\n%s", code, out)
	}
	cmds := s.commands()
	if len(cmds) != 1 {
		t.Fatalf("the command stream holds %d messages, want the replay", len(cmds))
	}
	h := cmds[0].Header
	if h.Get("traceparent") != tp || h.Get(dlq.HeaderReplayCount) != "1" || h.Get(dlq.HeaderReplayEdited) != "data.email" {
		t.Errorf("replayed headers = %v", h)
	}
	if id := h.Get(jetstream.MsgIDHeader); id == c.id() || !strings.HasPrefix(id, "replay:PERFEX_DLQ:") {
		t.Errorf("replay Nats-Msg-Id = %q, want a replay id, not the command id", id)
	}
	if len(s.letters()) != 0 {
		t.Error("the letter was not removed")
	}

	s.startWorker(0)
	eventually(t, "the replay to be applied", func() bool {
		f := s.finals(c.id())
		return len(f) == 2 && f[1].Kind == consumer.Applied
	})
	if got := s.contact(4).Email; got != "diego.almeida@example.com.br" {
		t.Errorf("contact 4 email = %q", got)
	}
}

// TestDLQReplayCountUntilLimit replays a command that keeps failing: its
// dead letters show replay count 1, then 2, and then the replay is refused.
func TestDLQReplayCountUntilLimit(t *testing.T) {
	s := newStack(t, stackOptions{})
	c := update(9999, map[string]any{"title": "Ghost"})
	s.publish(c, "traceparent", "00-aaaabbbbccccddddeeeeffff00001111-2222333344445555-01")

	for want := 0; ; want++ {
		var l dlq.Letter
		eventually(t, "a dead letter with replay count "+strconv.Itoa(want), func() bool {
			var ok bool
			l, ok = s.letterFor(c.id())
			return ok && l.ReplayCount == want
		})
		if l.Reason != reason.NotFound || l.Headers.Get("traceparent") == "" {
			t.Fatalf("letter = %+v", l)
		}
		out, code := s.dlq("replay", strconv.FormatUint(l.Sequence, 10), "--max-replays", "2")
		if want == 2 {
			if code != 1 || !strings.Contains(out, "replayed 2 times already") {
				t.Fatalf("replay at the limit: exit %d\n%s", code, out)
			}
			break
		}
		if code != 0 {
			t.Fatalf("replay %d: exit %d\n%s", want+1, code, out)
		}
	}
	if n := len(s.letters()); n != 1 {
		t.Errorf("dead letters = %d, want the refused one", n)
	}
}

// TestDLQInterruptedReplay kills a replay of many letters with SIGKILL,
// runs it again, and checks that every letter was sent exactly once in all.
func TestDLQInterruptedReplay(t *testing.T) {
	s := newStack(t, stackOptions{noWorker: true})
	const n = 300
	want := map[string]bool{}
	for i := range n {
		contact := int64(i%20 + 1)
		c := update(contact, map[string]any{"title": "Replay " + strconv.Itoa(i)})
		seq := s.storeLetter(c)
		want["PERFEX_DLQ:"+strconv.FormatUint(seq, 10)] = true
	}

	first := s.dlqCommand("replay", "--all", "--rate", "300/s")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first replay to send some letters", func() bool { return s.pending() >= 40 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if sent := s.pending(); sent >= n {
		t.Fatalf("the replay finished (%d sent) before it was killed: the test proves nothing", sent)
	}

	out, code := s.dlq("replay", "--all")
	if code != 0 {
		t.Fatalf("re-run: exit %d\n%s", code, out)
	}
	seen := map[string]int{}
	for _, m := range s.commands() {
		seen[m.Header.Get(dlq.HeaderReplayOf)]++
	}
	for of := range want {
		if seen[of] != 1 {
			t.Errorf("letter %s sent %d times, want once", of, seen[of])
		}
	}
	if len(seen) != n {
		t.Errorf("the command stream holds replays of %d letters, want %d", len(seen), n)
	}
	if left := len(s.letters()); left != 0 {
		t.Errorf("%d letters left in the dead-letter stream", left)
	}
}

// storeLetter stores c as a not_found dead letter, as the worker lays it
// out, and returns the letter's sequence.
func (s *stack) storeLetter(c cmd) uint64 {
	s.t.Helper()
	contact := strconv.FormatInt(c["contact_id"].(int64), 10)
	body, _ := json.Marshal(c)
	msg := nats.NewMsg("perfex.dlq.contact.update." + contact)
	msg.Data = body
	msg.Header.Set(dlq.HeaderReason, string(reason.NotFound))
	msg.Header.Set(dlq.HeaderSubject, "perfex.cmd.contact.update."+contact)
	msg.Header.Set(dlq.HeaderStream, "PERFEX_COMMANDS")
	msg.Header.Set(dlq.HeaderSequence, "1")
	msg.Header.Set(dlq.HeaderCommandID, c.id())
	msg.Header.Set(dlq.HeaderReplayCount, "0")
	ack, err := s.js.PublishMsg(context.Background(), msg)
	if err != nil {
		s.t.Fatalf("storing a letter: %v", err)
	}
	return ack.Sequence
}

// TestDLQReplayOfAnOldLetterIsSuperseded: a dead letter replayed after a
// newer command set the same field must not bring the old value back; the
// dry run says so first.
func TestDLQReplayOfAnOldLetterIsSuperseded(t *testing.T) {
	s := newStack(t, stackOptions{})

	old := update(16, map[string]any{"title": "Old title"}) // 16 is locked: conflict
	s.publish(old)
	if o := s.waitFinal(old.id()); o.Reason != reason.Conflict {
		t.Fatalf("the old command ended %+v, want a conflict dead letter", o)
	}
	l, ok := s.letterFor(old.id())
	if !ok {
		t.Fatal("no dead letter")
	}

	s.sim.Unlock(16)
	newer := update(16, map[string]any{"title": "New title"})
	s.publish(newer)
	if o := s.waitFinal(newer.id()); o.Kind != consumer.Applied {
		t.Fatalf("the newer command ended %+v", o)
	}

	seq := strconv.FormatUint(l.Sequence, 10)
	out, status := s.dlq("replay", seq, "--dry-run")
	if status != 0 || !strings.Contains(out, "superseded fields: title (all") {
		t.Fatalf("dry run (status %d) does not name the superseded field:\n%s", status, out)
	}

	if out, status = s.dlq("replay", seq); status != 0 {
		t.Fatalf("replay exited %d:\n%s", status, out)
	}
	eventually(t, "the replay to be settled", func() bool { return s.pending() == 0 && len(s.letters()) == 0 })
	if got := s.contact(16).Title; got != "New title" {
		t.Errorf("title = %q after replaying an older command, want %q", got, "New title")
	}
}
