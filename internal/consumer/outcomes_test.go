package consumer

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

func TestAppliedIsAcked(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ids := []string{f.publish(1, "a"), f.publish(2, "b"), f.publish(3, "c")}

	f.start()

	f.eventually("three applied", func() bool { return f.rec.count(Applied) == 3 })
	f.eventually("command stream empty", func() bool { return f.streamMsgs(f.names.Commands) == 0 })
	final := f.rec.final()
	for _, id := range ids {
		if o := final[id]; o.Kind != Applied || o.Attempt != 1 || o.StreamSeq == 0 || o.ContactID == 0 {
			t.Errorf("outcome of %s = %+v", id, o)
		}
	}
	if n := f.streamMsgs(f.names.DLQ); n != 0 {
		t.Errorf("%d dead letters", n)
	}
}

func TestPermanentIsDeadLettered(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.applier.script(func(_ context.Context, contact int64, _ string, _ int) error {
		if contact == 9 {
			return &crm.PermanentError{
				Reason: reason.ValidationFailed, Status: 422, Message: "The Email field must be unique",
				FieldErrors: map[string]string{"email": "must be unique"},
				Excerpt:     `{"status":false,"password":"hunter22"}`,
			}
		}
		return nil
	}, nil)
	id := f.publish(9, "bad")
	f.publish(10, "good")

	f.start()

	f.eventually("dead-lettered", func() bool { return f.rec.final()[id].Kind == DeadLettered })
	f.eventually("command stream empty", func() bool { return f.streamMsgs(f.names.Commands) == 0 })
	letters := f.letters()
	if len(letters) != 1 {
		t.Fatalf("%d dead letters, want 1", len(letters))
	}
	l := letters[0]
	if l.Reason != reason.ValidationFailed || l.Status != 422 || l.CommandID != id ||
		l.Detail != "The Email field must be unique" || l.WorkerID != "test-worker" ||
		l.Subject != "perfex.dlq.contact.update.9" || l.Deliveries != 1 {
		t.Errorf("letter = %+v", l)
	}
	if diff := gocmp.Diff(map[string]string{"email": "must be unique"}, l.FieldErrors); diff != "" {
		t.Errorf("field errors (-want +got):\n%s", diff)
	}
	if strings.Contains(l.Reply, "hunter22") {
		t.Errorf("reply excerpt leaks a password: %q", l.Reply)
	}
	if got := f.rec.final()[id].Reason; got != reason.ValidationFailed {
		t.Errorf("observed reason %q", got)
	}
}

func TestInvalidCommandsAreDeadLetteredWithoutRequest(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name    string
		subject string
		body    string
		want    reason.Code
		id      string
	}{
		{"malformed", "perfex.cmd.contact.update.5", `{"id":"m1","type":"contact.update",`, reason.Malformed, ""},
		{"subject_mismatch", "perfex.cmd.contact.update.abc",
			`{"id":"m2","type":"contact.update","contact_id":5,"data":{"title":"x"}}`, reason.Malformed, "m2"},
		{"unknown_operation", "perfex.cmd.contact.update.5",
			`{"id":"m3","type":"contact.delete","contact_id":5,"data":{"title":"x"}}`, reason.UnknownOperation, "m3"},
		{"invalid_email", "perfex.cmd.contact.update.5",
			`{"id":"m4","type":"contact.update","contact_id":5,"data":{"email":"not-an-email"}}`, reason.InvalidEmail, "m4"},
	}
	for _, tt := range tests {
		f.publishRaw(tt.subject, []byte(tt.body), "")
	}

	f.start()

	f.eventually("four dead letters", func() bool { return f.rec.count(DeadLettered) == len(tests) })
	f.eventually("command stream empty", func() bool { return f.streamMsgs(f.names.Commands) == 0 })
	letters := f.letters()
	if len(letters) != len(tests) {
		t.Fatalf("%d letters, want %d", len(letters), len(tests))
	}
	// Commands on different subjects run in parallel: find each letter by
	// its original sequence, which follows publishing order.
	slices.SortFunc(letters, func(a, b dlq.Letter) int { return cmp.Compare(a.OriginalSequence, b.OriginalSequence) })
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := letters[i]
			if l.Reason != tt.want || l.Status != 0 || l.CommandID != tt.id || l.OriginalSubject != tt.subject ||
				string(l.Body) != tt.body || l.Detail == "" {
				t.Errorf("letter = %+v", l)
			}
		})
	}
	if n := f.applier.totalCalls(); n != 0 {
		t.Errorf("applier called %d times for invalid commands", n)
	}
}

func TestTransientIsRetriedThenApplied(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// Two tries per delivery (LocalRetries 1): the first delivery fails
	// both, the second succeeds.
	f.applier.script(func(_ context.Context, _ int64, _ string, call int) error {
		if call <= 2 {
			return transient(503)
		}
		return nil
	}, nil)
	id := f.publish(4, "x")

	f.start()

	f.eventually("applied", func() bool { return f.rec.final()[id].Kind == Applied })
	got := f.rec.outcomes()
	want := []Outcome{
		{Kind: Retried, CommandID: id, ContactID: 4, StreamSeq: 1, Rank: 1, Attempt: 1, Reason: reason.Connection},
		{Kind: Applied, CommandID: id, ContactID: 4, StreamSeq: 1, Rank: 1, Attempt: 2},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	f.eventually("command stream empty", func() bool { return f.streamMsgs(f.names.Commands) == 0 })
}

func TestTransientAtLimitIsDeadLetteredWhilePerfexAnswers(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.cfg.MaxDeliver = 2
	f.applier.script(func(_ context.Context, contact int64, _ string, _ int) error {
		if contact == 1 {
			return transient(502)
		}
		return nil
	}, nil)
	id := f.publish(1, "stuck")
	for c := int64(2); c < 6; c++ {
		f.publish(c, "fine")
	}

	f.start()

	f.eventually("dead-lettered", func() bool { return f.rec.final()[id].Kind == DeadLettered })
	if o := f.rec.final()[id]; o.Reason != reason.MaxDeliveries || o.Attempt != 2 {
		t.Errorf("outcome = %+v", o)
	}
	letters := f.letters()
	if len(letters) != 1 || letters[0].Reason != reason.MaxDeliveries || letters[0].Status != 502 ||
		!strings.Contains(letters[0].Detail, "delivery 2") || letters[0].Deliveries != 2 {
		t.Fatalf("letters = %+v", letters)
	}
	if f.rec.count(Applied) != 4 {
		t.Errorf("%d applied, want 4", f.rec.count(Applied))
	}
	f.eventually("command stream empty", func() bool { return f.streamMsgs(f.names.Commands) == 0 })
}

func TestDeadLetterStoreFailureIsNotAcked(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.cfg.RetryMax = 200 * time.Millisecond
	f.applier.script(func(context.Context, int64, string, int) error {
		return &crm.PermanentError{Reason: reason.NotFound, Status: 404, Message: "No data were found"}
	}, nil)
	if err := f.js.DeleteStream(t.Context(), f.names.DLQ); err != nil {
		t.Fatal(err)
	}
	id := f.publish(7, "x")

	f.start()

	f.eventually("handed back", func() bool { return f.rec.count(Retried) >= 1 })
	if f.rec.count(DeadLettered) != 0 {
		t.Fatal("reported dead-lettered without a dead-letter stream")
	}
	if n := f.streamMsgs(f.names.Commands); n != 1 {
		t.Fatalf("%d messages in the command stream, want the command kept", n)
	}
	if o := f.rec.outcomes()[0]; o.Reason != reason.NotFound {
		t.Errorf("retry reason %q", o.Reason)
	}

	if err := broker.Provision(t.Context(), f.js, f.settings); err != nil {
		t.Fatal(err)
	}
	f.eventually("dead-lettered", func() bool { return f.rec.final()[id].Kind == DeadLettered })
	f.eventually("command stream empty", func() bool { return f.streamMsgs(f.names.Commands) == 0 })
	if n := len(f.letters()); n != 1 {
		t.Errorf("%d letters", n)
	}
}
