package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
	"github.com/perfexworker/perfex-worker/internal/dlq"
)

const secretPrefix = "Dlq-Test-Secret-"

type dlqFixture struct {
	t   *testing.T
	url string
	js  jetstream.JetStream
}

func newDLQFixture(t *testing.T) *dlqFixture {
	t.Helper()
	s := brokertest.StartServer(t)
	_, js := brokertest.Connect(t, s)
	if err := broker.Provision(t.Context(), js, broker.Settings{}); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	return &dlqFixture{t: t, url: s.ClientURL(), js: js}
}

type seed struct {
	contact int64
	reason  string
	status  int
	body    string
	headers map[string]string
}

// store publishes a dead letter as the worker's writer lays it out and
// returns its sequence.
func (f *dlqFixture) store(s seed) uint64 {
	f.t.Helper()
	subject := "perfex.cmd.contact.update." + strconv.FormatInt(s.contact, 10)
	msg := nats.NewMsg("perfex.dlq.contact.update." + strconv.FormatInt(s.contact, 10))
	if s.body == "" {
		s.body = fmt.Sprintf(`{"id":"cmd-%d-%s","type":"contact.update","contact_id":%d,"data":{"title":"T","password":"%s%d"}}`,
			s.contact, s.reason, s.contact, secretPrefix, s.contact)
	}
	msg.Data = []byte(s.body)
	var id struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(msg.Data, &id)
	msg.Header.Set(dlq.HeaderReason, s.reason)
	msg.Header.Set(dlq.HeaderDetail, "detail of "+s.reason)
	msg.Header.Set(dlq.HeaderSubject, subject)
	msg.Header.Set(dlq.HeaderStream, "PERFEX_COMMANDS")
	msg.Header.Set(dlq.HeaderSequence, "1")
	msg.Header.Set(dlq.HeaderCommandID, id.ID)
	msg.Header.Set(dlq.HeaderReplayCount, "0")
	if s.status > 0 {
		msg.Header.Set(dlq.HeaderStatus, strconv.Itoa(s.status))
	}
	for k, v := range s.headers {
		msg.Header.Set(k, v)
	}
	ack, err := f.js.PublishMsg(f.t.Context(), msg)
	if err != nil {
		f.t.Fatalf("storing a letter: %v", err)
	}
	return ack.Sequence
}

// run runs the command line in process against the fixture's server.
func (f *dlqFixture) run(args ...string) (stdout, stderr string, code int) {
	f.t.Helper()
	var out, errOut bytes.Buffer
	code = Main(append(args, "--nats-url", f.url), &out, &errOut)
	return out.String(), errOut.String(), code
}

func (f *dlqFixture) mustRun(args ...string) string {
	f.t.Helper()
	out, errOut, code := f.run(args...)
	if code != 0 {
		f.t.Fatalf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
	}
	return out
}

func (f *dlqFixture) dlqMsgs() uint64 {
	f.t.Helper()
	st, err := f.js.Stream(f.t.Context(), "PERFEX_DLQ")
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := st.Info(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	return info.State.Msgs
}

func (f *dlqFixture) commands() []*jetstream.RawStreamMsg {
	f.t.Helper()
	st, err := f.js.Stream(f.t.Context(), "PERFEX_COMMANDS")
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := st.Info(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(f.t.Context(), seq)
		if err == nil {
			out = append(out, m)
		}
	}
	return out
}

func sequences(t *testing.T, jsonl string) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, line := range strings.Split(strings.TrimSpace(jsonl), "\n") {
		if line == "" {
			continue
		}
		var r struct {
			Sequence uint64 `json:"sequence"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		seqs = append(seqs, r.Sequence)
	}
	return seqs
}

func TestDLQList(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t)
	f.store(seed{contact: 4, reason: "invalid_email"})                  // 1
	f.store(seed{contact: 5, reason: "validation_failed", status: 422}) // 2
	f.store(seed{contact: 4, reason: "not_found", status: 404})         // 3
	mid := time.Now()
	time.Sleep(20 * time.Millisecond)
	f.store(seed{contact: 6, reason: "validation_failed", status: 409}) // 4

	for _, tt := range []struct {
		name string
		args []string
		want []uint64
	}{
		{"all_newest_first", nil, []uint64{4, 3, 2, 1}},
		{"reason", []string{"--reason", "validation_failed"}, []uint64{4, 2}},
		{"reasons", []string{"--reason", "invalid_email,not_found"}, []uint64{3, 1}},
		{"contact", []string{"--contact", "4"}, []uint64{3, 1}},
		{"contacts", []string{"--contact", "5", "--contact", "6"}, []uint64{4, 2}},
		{"status", []string{"--status", "409,404"}, []uint64{4, 3}},
		{"command_id", []string{"--command-id", "cmd-5-validation_failed"}, []uint64{2}},
		{"since", []string{"--since", mid.UTC().Format(time.RFC3339Nano)}, []uint64{4}},
		{"until", []string{"--until", mid.UTC().Format(time.RFC3339Nano)}, []uint64{3, 2, 1}},
		{"since_duration", []string{"--since", "1h"}, []uint64{4, 3, 2, 1}},
		{"limit", []string{"--limit", "2"}, []uint64{4, 3}},
		{"combined", []string{"--contact", "4", "--status", "404"}, []uint64{3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := f.mustRun(append([]string{"dlq", "list", "-o", "jsonl"}, tt.args...)...)
			got := sequences(t, out)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("sequences = %v, want %v\n%s", got, tt.want, out)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		var rows []listRow
		if err := json.Unmarshal([]byte(f.mustRun("dlq", "list", "-o", "json", "--reason", "not_found")), &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].ContactID != 4 || rows[0].Status != 404 || rows[0].Error != "detail of not_found" {
			t.Errorf("rows = %+v", rows)
		}
	})
	t.Run("table", func(t *testing.T) {
		out := f.mustRun("dlq", "list")
		for _, want := range []string{"SEQ", "REASON", "validation_failed", "cmd-6-validation_failed", "detail of not_found"} {
			if !strings.Contains(out, want) {
				t.Errorf("table lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"--reason", "nope"}, {"--since", "yesterday"}, {"--limit", "-1"}, {"-o", "xml"}, {"--contact", "0"},
		} {
			if _, _, code := f.run(append([]string{"dlq", "list"}, args...)...); code != exitUsage {
				t.Errorf("%v: exit %d, want 2", args, code)
			}
		}
	})
}

func TestDLQSecretsNeverListed(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t)
	f.store(seed{contact: 4, reason: "invalid_email"})
	f.store(seed{contact: 5, reason: "malformed", body: `{"id":"x","data":{"password":` + `"` + secretPrefix + `raw"},"bad"`})
	f.store(seed{contact: 6, reason: "rejected", body: `{"id":"y","type":"contact.update","contact_id":6,"data":{"password":12345678}}`})

	for _, args := range [][]string{
		{"dlq", "list"}, {"dlq", "list", "-o", "json"}, {"dlq", "list", "-o", "jsonl"},
		{"dlq", "show", "1", "2", "3"}, {"dlq", "show", "1", "2", "3", "-o", "json"},
		{"dlq", "export", "--all"}, {"dlq", "replay", "--all", "--dry-run"}, {"dlq", "stats"},
	} {
		out, errOut, _ := f.run(args...)
		if strings.Contains(out+errOut, secretPrefix) || strings.Contains(out+errOut, "12345678") {
			t.Errorf("%v shows a password:\n%s%s", args, out, errOut)
		}
	}
	out := f.mustRun("dlq", "show", "1", "--reveal-secrets")
	if !strings.Contains(out, secretPrefix+"4") {
		t.Errorf("show --reveal-secrets does not show the password:\n%s", out)
	}
}

func TestDLQShow(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t)
	seq := f.store(seed{contact: 4, reason: "validation_failed", status: 422, headers: map[string]string{
		dlq.HeaderFieldErrors: `{"email":"The Email field must contain a valid email"}`,
		dlq.HeaderReply:       `{"status":false,"message":"bad"}`,
		"traceparent":         "00-abc-def-01",
	}})
	out := f.mustRun("dlq", "show", strconv.FormatUint(seq, 10))
	for _, want := range []string{"validation_failed: Invalid data / Dados inválidos", "HTTP status    422",
		"email: The Email field must contain a valid email", `{"status":false,"message":"bad"}`,
		"traceparent: 00-abc-def-01", `"password": "***"`, "replays        0"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code := f.run("dlq", "show", "99")
	if code != exitFailure || !strings.Contains(errOut, "sequence 99") {
		t.Errorf("show 99: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestDLQPurge(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t)
	for _, r := range []string{"malformed", "not_found", "malformed"} {
		f.store(seed{contact: 4, reason: r})
	}
	if _, errOut, code := f.run("dlq", "purge", "--reason", "malformed"); code != exitUsage || !strings.Contains(errOut, "--yes") {
		t.Errorf("purge without --yes off a terminal: exit %d, %s", code, errOut)
	}
	if _, _, code := f.run("dlq", "purge", "--yes"); code != exitUsage {
		t.Errorf("purge without a selection: exit %d", code)
	}
	out := f.mustRun("dlq", "purge", "--reason", "malformed", "--dry-run")
	if !strings.Contains(out, "would delete 2 letters") || f.dlqMsgs() != 3 {
		t.Errorf("dry run:\n%s", out)
	}
	out = f.mustRun("dlq", "purge", "--reason", "malformed", "--yes")
	if !strings.Contains(out, "1: deleted (malformed, contact 4") || !strings.Contains(out, "3: deleted") || f.dlqMsgs() != 1 {
		t.Errorf("purge:\n%s", out)
	}
	if _, _, code := f.run("dlq", "purge", "3", "--yes"); code != exitFailure {
		t.Errorf("purging a gone letter: exit %d, want 1", code)
	}
}

// TestDLQPurgeAsks is not parallel: it replaces the terminal detection.
func TestDLQPurgeAsks(t *testing.T) {
	f := newDLQFixture(t)
	f.store(seed{contact: 4, reason: "malformed"})
	oldTerm, oldIn := isTerminal, stdin
	t.Cleanup(func() { isTerminal, stdin = oldTerm, oldIn })
	isTerminal = func(any) bool { return true }

	stdin = strings.NewReader("n\n")
	if out := f.mustRun("dlq", "purge", "1"); !strings.Contains(out, "[y/N]") || !strings.Contains(out, "nothing deleted") || f.dlqMsgs() != 1 {
		t.Errorf("answer no:\n%s", out)
	}
	stdin = strings.NewReader("y\n")
	if out := f.mustRun("dlq", "purge", "1"); !strings.Contains(out, "1: deleted") || f.dlqMsgs() != 0 {
		t.Errorf("answer yes:\n%s", out)
	}
}

func TestDLQStats(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t)
	f.store(seed{contact: 4, reason: "malformed"})
	f.store(seed{contact: 4, reason: "validation_failed", status: 422})
	f.store(seed{contact: 5, reason: "validation_failed", status: 422})
	var st dlq.Stats
	if err := json.Unmarshal([]byte(f.mustRun("dlq", "stats", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Total != 3 || st.ByReason["validation_failed"] != 2 || st.ByStatus["422"] != 2 || st.ByStatus["none"] != 1 ||
		st.ByAge["<1h"] != 3 || st.Fill.MaxAge != broker.DefaultDLQMaxAge || len(st.Warnings) != 0 {
		t.Errorf("stats = %+v", st)
	}
	out := f.mustRun("dlq", "stats")
	if !strings.Contains(out, "PERFEX_DLQ: 3 dead letters") || !strings.Contains(out, "validation_failed       2") {
		t.Errorf("stats:\n%s", out)
	}
}

func TestDLQReplay(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t)
	a := f.store(seed{contact: 4, reason: "invalid_email", headers: map[string]string{"traceparent": "00-trace-01"},
		body: `{"id":"c-a","type":"contact.update","contact_id":4,"data":{"email":"bad@example","password":"` + secretPrefix + `a"}}`})
	b := f.store(seed{contact: 5, reason: "not_found", headers: map[string]string{dlq.HeaderReplayCount: "3"}})
	c := f.store(seed{contact: 6, reason: "not_found"})

	t.Run("dry_run", func(t *testing.T) {
		out := f.mustRun("dlq", "replay", strconv.FormatUint(a, 10), "--set", "data.email=ana@example.com", "--dry-run")
		if !strings.Contains(out, "Perfex-Replay-Edited: data.email") || !strings.Contains(out, `"password":"***"`) ||
			len(f.commands()) != 0 || f.dlqMsgs() != 3 {
			t.Errorf("dry run:\n%s", out)
		}
	})
	t.Run("invalid_edit_refused", func(t *testing.T) {
		out, _, code := f.run("dlq", "replay", strconv.FormatUint(a, 10), "--set", "data.email=still bad")
		if code != exitFailure || !strings.Contains(out, "refused: the edited command is invalid: invalid_email") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("max_replays", func(t *testing.T) {
		out, _, code := f.run("dlq", "replay", strconv.FormatUint(b, 10))
		if code != exitFailure || !strings.Contains(out, "replayed 3 times already") || f.dlqMsgs() != 3 {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("edit_and_send", func(t *testing.T) {
		out := f.mustRun("dlq", "replay", strconv.FormatUint(a, 10), "--set", "data.email=ana@example.com", "--rate", "100/s")
		if !strings.Contains(out, "sent to perfex.cmd.contact.update.4") {
			t.Errorf("replay:\n%s", out)
		}
		cmds := f.commands()
		if len(cmds) != 1 {
			t.Fatalf("command stream holds %d messages, want 1", len(cmds))
		}
		m := cmds[0]
		for k, want := range map[string]string{
			"traceparent": "00-trace-01", dlq.HeaderReplayCount: "1", dlq.HeaderReplayEdited: "data.email",
			dlq.HeaderReplayOf: "PERFEX_DLQ:" + strconv.FormatUint(a, 10),
		} {
			if got := m.Header.Get(k); got != want {
				t.Errorf("header %s = %q, want %q", k, got, want)
			}
		}
		if !strings.HasPrefix(m.Header.Get(jetstream.MsgIDHeader), "replay:PERFEX_DLQ:1:") {
			t.Errorf("Nats-Msg-Id = %q", m.Header.Get(jetstream.MsgIDHeader))
		}
		if !strings.Contains(string(m.Data), `"email":"ana@example.com"`) || !strings.Contains(string(m.Data), secretPrefix+"a") {
			t.Errorf("body = %s", m.Data)
		}
		if f.dlqMsgs() != 2 {
			t.Errorf("the letter was not removed")
		}
	})
	t.Run("force", func(t *testing.T) {
		out := f.mustRun("dlq", "replay", strconv.FormatUint(b, 10), "--force")
		if !strings.Contains(out, "replay 4") {
			t.Errorf("replay --force:\n%s", out)
		}
	})
	t.Run("by_filter", func(t *testing.T) {
		f.mustRun("dlq", "replay", "--contact", "6")
		if f.dlqMsgs() != 0 || len(f.commands()) != 3 {
			t.Errorf("letters %d, commands %d", f.dlqMsgs(), len(f.commands()))
		}
		_ = c
	})
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{
			{}, {"1", "--all"}, {"--all", "--rate", "fast"}, {"1", "--set", "data.nickname=x"},
			{"1", "--set", "id=x"}, {"--all", "--max-replays", "0"}, {"1", "--from-file", "x"},
		} {
			if _, _, code := f.run(append([]string{"dlq", "replay"}, args...)...); code != exitUsage {
				t.Errorf("%v: exit %d, want 2", args, code)
			}
		}
	})
}

func TestDLQExportAndReplayFromFile(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t)
	f.store(seed{contact: 4, reason: "invalid_email",
		body: `{"id":"c-4","type":"contact.update","contact_id":4,"data":{"email":"bad@example","password":"` + secretPrefix + `4"}}`})
	f.store(seed{contact: 5, reason: "not_found"})
	f.store(seed{contact: 7, reason: "rejected", body: `{"id":"c-7","type":"contact.update","contact_id":7,"data":{"title":"X"}}`})

	dir := t.TempDir()
	file := filepath.Join(dir, "export.jsonl")
	f.mustRun("dlq", "export", "--all", "--out", file)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), secretPrefix) {
		t.Fatalf("the export holds a password:\n%s", data)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 {
		t.Fatalf("export has %d lines:\n%s", len(lines), data)
	}
	// A bulk fix as jq would do it: the email of the first, the second as
	// exported (password masked), the third with an invalid edit.
	lines[0] = strings.Replace(lines[0], `bad@example"`, `good@example.com"`, 1)
	lines[2] = strings.Replace(lines[2], `"title":"X"`, `"title":7`, 1)
	fixed := filepath.Join(dir, "fixed.jsonl")
	if err := os.WriteFile(fixed, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out, _, code := f.run("dlq", "replay", "--from-file", fixed)
	if code != exitFailure || !strings.Contains(out, "1: sent") || !strings.Contains(out, "2: sent") ||
		!strings.Contains(out, "3: refused: the edited command is invalid: malformed: data.title") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	cmds := f.commands()
	if len(cmds) != 2 {
		t.Fatalf("commands = %d, want 2", len(cmds))
	}
	if body := string(cmds[0].Data); !strings.Contains(body, "good@example.com") || !strings.Contains(body, secretPrefix+"4") {
		t.Errorf("first body = %s (want the fixed email and the stored password back)", body)
	}
	if cmds[0].Header.Get(dlq.HeaderReplayEdited) != "data.email" || cmds[1].Header.Get(dlq.HeaderReplayEdited) != "" {
		t.Errorf("edited headers = %q, %q", cmds[0].Header.Get(dlq.HeaderReplayEdited), cmds[1].Header.Get(dlq.HeaderReplayEdited))
	}
	if !strings.Contains(string(cmds[1].Data), secretPrefix+"5") {
		t.Errorf("an unedited record did not send the stored bytes: %s", cmds[1].Data)
	}

	// The same file again: replayed letters are gone, nothing is sent.
	out, _, code = f.run("dlq", "replay", "--from-file", fixed)
	if code != exitFailure || !strings.Contains(out, "1: not replayed: the letter is no longer") || len(f.commands()) != 2 {
		t.Errorf("second run: exit %d:\n%s", code, out)
	}
}

// TestDLQReplayAfterCrash stores a replay as a killed run would have left
// it (published, letter not removed) and checks that a re-run removes the
// letter without sending it again.
func TestDLQReplayAfterCrash(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t)
	seq := f.store(seed{contact: 4, reason: "not_found"})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := dlq.NewBrowser(ctx, f.js, broker.Names{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := dlq.NewReplayer(ctx, f.js, b, dlq.ReplayConfig{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.Get(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := r.Prepare(l, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.js.PublishMsg(ctx, rp.Msg); err != nil {
		t.Fatal(err)
	}

	out := f.mustRun("dlq", "replay", "--all")
	if !strings.Contains(out, "already sent by an earlier run") || !strings.Contains(out, "checked against the stored message") ||
		len(f.commands()) != 1 || f.dlqMsgs() != 0 {
		t.Errorf("re-run:\n%s", out)
	}
}
