package dlq_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

const token = "tok-0123456789abcdef"

type fixture struct {
	js    jetstream.JetStream
	names broker.Names
	w     *dlq.Writer
	cons  jetstream.Consumer
	now   time.Time
}

func setup(t testing.TB) *fixture {
	t.Helper()
	s := brokertest.StartServer(t)
	_, js := brokertest.Connect(t, s)
	ctx := t.Context()

	settings := broker.Settings{AckWait: 5 * time.Second}
	if err := broker.Provision(ctx, js, settings); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	names := settings.WithDefaults().Names
	cons, err := js.Consumer(ctx, names.Commands, names.Durable)
	if err != nil {
		t.Fatalf("binding: %v", err)
	}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	w := dlq.NewWriter(js, names, dlq.WithSecrets(token), dlq.WithClock(func() time.Time { return now }))
	return &fixture{js: js, names: names, w: w, cons: cons, now: now}
}

// receive publishes one command and returns it as the worker receives it.
func (f *fixture) receive(t testing.TB, subject string, body []byte, header nats.Header) jetstream.Msg {
	t.Helper()
	msg := &nats.Msg{Subject: subject, Data: body, Header: header}
	if _, err := f.js.PublishMsg(t.Context(), msg); err != nil {
		t.Fatalf("publishing: %v", err)
	}
	batch, err := f.cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatalf("fetching: %v", err)
	}
	for m := range batch.Messages() {
		return m
	}
	t.Fatalf("no message fetched: %v", batch.Error())
	return nil
}

func (f *fixture) letters(t *testing.T) []dlq.Letter {
	t.Helper()
	stream, err := f.js.Stream(t.Context(), f.names.DLQ)
	if err != nil {
		t.Fatalf("looking up DLQ stream: %v", err)
	}
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatalf("DLQ stream info: %v", err)
	}
	var out []dlq.Letter
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		raw, err := stream.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatalf("getting DLQ sequence %d: %v", seq, err)
		}
		l, err := dlq.ParseLetter(raw)
		if err != nil {
			t.Fatalf("parsing DLQ sequence %d: %v", seq, err)
		}
		out = append(out, l)
	}
	return out
}

func TestStore(t *testing.T) {
	t.Parallel()
	f := setup(t)

	// Not JSON, not UTF-8, with a NUL and a CRLF: stored as it came.
	body := []byte("{\"id\":\"c1\",\"password\":\"s3cret\"}\r\n\x00\xff")
	header := nats.Header{}
	header.Set("Nats-Msg-Id", "c1")
	header.Set("Nats-Custom", "server-owned")
	header.Set("X-Trace", "abc")
	header.Set(dlq.HeaderReplayCount, "2")
	header.Set(dlq.HeaderReason, "stale")
	msg := f.receive(t, "perfex.cmd.contact.update.12", body, header)

	err := f.w.Store(t.Context(), msg, dlq.Entry{
		Reason:      reason.ValidationFailed,
		Detail:      "line one\r\nline two with " + token,
		Status:      422,
		FieldErrors: map[string]string{"email": "The Email field must\ncontain a valid email"},
		Reply:       `{"status":false,"password":"s3cret","message":"bad"}`,
		CommandID:   "c1",
		WorkerID:    "w-1",
	})
	if err != nil {
		t.Fatalf("Store: %v", err)
	}

	letters := f.letters(t)
	if len(letters) != 1 {
		t.Fatalf("got %d letters, want 1", len(letters))
	}
	l := letters[0]
	if !bytes.Equal(l.Body, body) {
		t.Errorf("body = %q, want %q", l.Body, body)
	}
	want := dlq.Letter{
		Sequence:         1,
		Subject:          "perfex.dlq.contact.update.12",
		StoredAt:         l.StoredAt,
		Body:             body,
		Headers:          nats.Header{"X-Trace": {"abc"}},
		Reason:           reason.ValidationFailed,
		Message:          "Invalid data",
		MessagePtBR:      "Dados inválidos",
		Detail:           "line one line two with ***",
		Status:           422,
		FieldErrors:      map[string]string{"email": "The Email field must contain a valid email"},
		Reply:            `{"status":false,"password":"***","message":"bad"}`,
		OriginalSubject:  "perfex.cmd.contact.update.12",
		OriginalStream:   f.names.Commands,
		OriginalSequence: 1,
		OriginalMsgID:    "c1",
		Deliveries:       1,
		FailedAt:         f.now,
		WorkerID:         "w-1",
		CommandID:        "c1",
		ReplayCount:      2,
	}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("letter (-want +got):\n%s", diff)
	}

	raw := f.rawHeaders(t, 1)
	if got := raw.Get("Nats-Msg-Id"); got != "dlq:"+f.names.Commands+":1" {
		t.Errorf("Nats-Msg-Id = %q, want the dead letter's own id", got)
	}
	// A direct get adds Nats-Stream, Nats-Sequence, Nats-Subject and
	// Nats-Time-Stamp to what was stored; nothing else Nats-* may be there.
	direct := map[string]bool{"Nats-Msg-Id": true, "Nats-Stream": true, "Nats-Sequence": true, "Nats-Subject": true, "Nats-Time-Stamp": true}
	for key := range raw {
		if strings.HasPrefix(key, "Nats-") && !direct[key] {
			t.Errorf("header %s was copied or added", key)
		}
	}
}

func (f *fixture) rawHeaders(t *testing.T, seq uint64) nats.Header {
	t.Helper()
	stream, err := f.js.Stream(t.Context(), f.names.DLQ)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := stream.GetMsg(t.Context(), seq)
	if err != nil {
		t.Fatal(err)
	}
	return raw.Header
}

func TestStoreTwiceKeepsOne(t *testing.T) {
	t.Parallel()
	f := setup(t)
	msg := f.receive(t, "perfex.cmd.contact.update.7", []byte(`{}`), nil)
	entry := dlq.Entry{Reason: reason.NotFound, Status: 404}

	for i := range 2 {
		if err := f.w.Store(t.Context(), msg, entry); err != nil {
			t.Fatalf("Store #%d: %v", i+1, err)
		}
	}

	letters := f.letters(t)
	if len(letters) != 1 {
		t.Fatalf("got %d letters after storing twice, want 1", len(letters))
	}
	if letters[0].ReplayCount != 0 || letters[0].Status != 404 {
		t.Errorf("letter = %+v", letters[0])
	}
}

func TestStoreMalformedSubject(t *testing.T) {
	t.Parallel()
	f := setup(t)
	msg := f.receive(t, "perfex.cmd.contact.update.abc", []byte(`not json`), nil)

	err := f.w.Store(t.Context(), msg, dlq.Entry{Reason: reason.Malformed, Detail: "body is not a JSON object"})
	if err != nil {
		t.Fatalf("Store: %v", err)
	}

	l := f.letters(t)[0]
	if l.Subject != "perfex.dlq.contact.update.abc" || l.Status != 0 || l.CommandID != "" {
		t.Errorf("letter subject %q status %d command id %q", l.Subject, l.Status, l.CommandID)
	}
	if _, ok := f.rawHeaders(t, 1)[dlq.HeaderStatus]; ok {
		t.Errorf("%s present for a command that made no request", dlq.HeaderStatus)
	}
}

func TestStoreFailsWithoutStream(t *testing.T) {
	t.Parallel()
	f := setup(t)
	msg := f.receive(t, "perfex.cmd.contact.update.3", []byte(`{}`), nil)
	if err := f.js.DeleteStream(t.Context(), f.names.DLQ); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := f.w.Store(ctx, msg, dlq.Entry{Reason: reason.NotFound}); err == nil {
		t.Fatal("Store succeeded with no dead-letter stream")
	}
}

func TestSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, prefix, in, want string
		wantErr                bool
	}{
		{"update", "perfex", "perfex.cmd.contact.update.12", "perfex.dlq.contact.update.12", false},
		{"malformed_id", "perfex", "perfex.cmd.contact.update.abc", "perfex.dlq.contact.update.abc", false},
		{"dotted_prefix", "acme.crm", "acme.crm.cmd.x", "acme.crm.dlq.x", false},
		{"cmd_later_kept", "perfex", "perfex.cmd.cmd.1", "perfex.dlq.cmd.1", false},
		{"other_prefix", "perfex", "other.cmd.contact.update.1", "", true},
		{"bare", "perfex", "perfex.cmd.", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dlq.Subject(tt.prefix, tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Subject(%q, %q) = %q, %v", tt.prefix, tt.in, got, err)
			}
			if err != nil && !errors.Is(err, dlq.ErrNotCommandSubject) {
				t.Errorf("error %v is not ErrNotCommandSubject", err)
			}
		})
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"json", `{"password":"p\"w","x":1}`, `{"password":"***","x":1}`},
		{"json_spaces_case", `{"Password" : "abc"}`, `{"Password" : "***"}`},
		{"json_cut", `{"firstname":"A","password":"s3cr`, `{"firstname":"A","password":"***"`},
		{"authtoken", `{"authtoken":"xyz"}`, `{"authtoken":"***"}`},
		{"form", `email=a@b.c&password=hunter2&x=1`, `email=a@b.c&password=***&x=1`},
		{"secret", "token " + token + " leaked", "token *** leaked"},
		{"short_secret_ignored", "abc", "abc"},
		{"plain", "nothing here", "nothing here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dlq.Mask(tt.in, token, "abc"); got != tt.want {
				t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseLetterRejectsOtherMessages(t *testing.T) {
	t.Parallel()
	raw := &jetstream.RawStreamMsg{Subject: "perfex.dlq.x", Sequence: 4, Header: nats.Header{"X": {"y"}}}
	if _, err := dlq.ParseLetter(raw); !errors.Is(err, dlq.ErrNotALetter) {
		t.Errorf("ParseLetter = %v, want ErrNotALetter", err)
	}

	raw.Header = nats.Header{
		dlq.HeaderReason: {"not_found"}, dlq.HeaderSubject: {"perfex.cmd.x"},
		dlq.HeaderStream: {"S"}, dlq.HeaderSequence: {"x1"},
	}
	if _, err := dlq.ParseLetter(raw); err == nil || !strings.Contains(err.Error(), dlq.HeaderSequence) {
		t.Errorf("ParseLetter with a bad sequence = %v", err)
	}
}
