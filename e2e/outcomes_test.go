package e2e

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// TestOutcomes publishes one command per row of the contract's outcome and
// dead-letter tables and checks what became of each, end to end.
func TestOutcomes(t *testing.T) {
	s := newStack(t, stackOptions{})

	poison := int64(29)
	s.sim.SetFaults(perfexsim.Faults{Rate: 1, Contacts: []int64{poison}, Kinds: []perfexsim.FaultKind{perfexsim.FaultHTML503}})

	for _, tc := range []struct {
		name   string
		cmd    cmd
		kind   string
		reason reason.Code
		status int
	}{
		{"applied", update(1, map[string]any{"title": "Diretora"}), consumer.Applied, "", 0},
		{"applied_nothing_changed", update(2, map[string]any{"title": "Analista de Compras"}), consumer.Applied, "", 0},
		{"malformed_wrong_type", update(3, map[string]any{"title": 42}), consumer.DeadLettered, reason.Malformed, 0},
		{"malformed_unknown_field", update(3, map[string]any{"nickname": "Cami"}), consumer.DeadLettered, reason.Malformed, 0},
		{"malformed_empty_data", update(3, map[string]any{}), consumer.DeadLettered, reason.Malformed, 0},
		{"unknown_operation", func() cmd { c := update(3, map[string]any{"title": "x"}); c["type"] = "contact.delete"; return c }(),
			consumer.DeadLettered, reason.UnknownOperation, 0},
		{"invalid_email", update(4, map[string]any{"email": "Diego <diego@example.com.br>"}), consumer.DeadLettered, reason.InvalidEmail, 0},
		{"not_found", update(9999, map[string]any{"title": "Ghost"}), consumer.DeadLettered, reason.NotFound, 404},
		{"validation_failed_duplicate_email", update(5, map[string]any{"email": "ana.souza@example.com.br"}), consumer.DeadLettered, reason.ValidationFailed, 409},
		{"validation_failed_unknown_customer", update(6, map[string]any{"userid": 99}), consumer.DeadLettered, reason.ValidationFailed, 422},
		{"conflict", update(16, map[string]any{"title": "Gerente"}), consumer.DeadLettered, reason.Conflict, 409},
		{"rejected", update(17, map[string]any{"title": "Gerente"}), consumer.DeadLettered, reason.Rejected, 200},
		{"max_deliveries", update(poison, map[string]any{"title": "Senior Analyst"}), consumer.DeadLettered, reason.MaxDeliveries, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq := s.publish(tc.cmd, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
			o := s.waitFinal(tc.cmd.id())
			if o.Kind != tc.kind || o.Reason != tc.reason {
				t.Fatalf("outcome = %s/%s, want %s/%s", o.Kind, o.Reason, tc.kind, tc.reason)
			}

			l, stored := s.letterFor(tc.cmd.id())
			if tc.kind != consumer.DeadLettered {
				if stored {
					t.Fatalf("an applied command was dead-lettered: %+v", l)
				}
				return
			}
			if !stored {
				t.Fatal("no dead letter stored")
			}
			if l.Reason != tc.reason || l.Status != tc.status {
				t.Errorf("letter reason/status = %s/%d, want %s/%d", l.Reason, l.Status, tc.reason, tc.status)
			}
			if l.OriginalSequence != seq || l.OriginalStream != "PERFEX_COMMANDS" {
				t.Errorf("letter points at %s/%d, want PERFEX_COMMANDS/%d", l.OriginalStream, l.OriginalSequence, seq)
			}
			if l.Message != tc.reason.Message(reason.English) || l.MessagePtBR != tc.reason.Message(reason.Portuguese) {
				t.Errorf("messages = %q / %q", l.Message, l.MessagePtBR)
			}
			if l.Headers.Get("traceparent") == "" {
				t.Error("the application header traceparent was not kept")
			}
			if l.Detail == "" || l.WorkerID != "e2e" || l.FailedAt.IsZero() || l.Deliveries == 0 {
				t.Errorf("letter lacks detail, worker, time or deliveries: %+v", l)
			}
		})
	}

	eventually(t, "an empty command stream", func() bool { return s.pending() == 0 })
	if got := len(s.letters()); got != 11 {
		t.Errorf("dead letters = %d, want 11 (one per dead-lettered row)", got)
	}
	if got := s.contact(1).Title; got != "Diretora" {
		t.Errorf("contact 1 title = %q", got)
	}
}

// TestDeadLetterKeepsFieldErrors checks that Perfex's per-field errors and
// a secret-free excerpt of its reply travel with a validation failure.
func TestDeadLetterKeepsFieldErrors(t *testing.T) {
	s := newStack(t, stackOptions{})

	c := update(6, map[string]any{"userid": 99, "password": "Field-Err-Secret-1"})
	s.publish(c)
	s.waitFinal(c.id())

	l, ok := s.letterFor(c.id())
	if !ok {
		t.Fatal("no dead letter")
	}
	if l.FieldErrors["userid"] == "" {
		t.Errorf("field errors = %v, want one for userid", l.FieldErrors)
	}
	if l.Reply == "" {
		t.Error("no reply excerpt")
	}
	for _, v := range []string{l.Reply, l.Detail, strings.Join(mapValues(l.FieldErrors), " ")} {
		if strings.Contains(v, "Field-Err-Secret-1") || strings.Contains(v, token) {
			t.Errorf("a secret reached the dead letter's headers: %q", v)
		}
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestMalformedBodies covers what a publisher outside Go can get wrong:
// not JSON, a subject that disagrees with the body, an oversized body.
func TestMalformedBodies(t *testing.T) {
	s := newStack(t, stackOptions{})

	for _, tc := range []struct {
		name    string
		subject string
		body    string
	}{
		{"not_json", "perfex.cmd.contact.update.3", "title=Director"},
		{"subject_disagrees", "perfex.cmd.contact.update.4", `{"id":"m-subject","type":"contact.update","contact_id":3,"data":{"title":"x"}}`},
		{"over_64_kib", "perfex.cmd.contact.update.3", `{"id":"m-big","type":"contact.update","contact_id":3,"data":{"title":"` + strings.Repeat("a", 70<<10) + `"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq := s.publishRaw(tc.subject, []byte(tc.body), "raw-"+tc.name)
			var found bool
			eventually(t, "the dead letter", func() bool {
				for _, l := range s.letters() {
					if l.OriginalSequence == seq {
						found = true
						if l.Reason != reason.Malformed {
							t.Errorf("reason = %s, want malformed", l.Reason)
						}
						if string(l.Body) != tc.body {
							t.Error("the dead letter's body is not the original, byte for byte")
						}
					}
				}
				return found
			})
		})
	}
}

// TestTraceparentReachesPerfex: the publisher's W3C trace context travels
// from the command's headers into every request made for it.
func TestTraceparentReachesPerfex(t *testing.T) {
	s := newStack(t, stackOptions{})

	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	c := update(12, map[string]any{"title": "Traced"})
	s.publish(c, "traceparent", tp)
	if o := s.waitFinal(c.id()); o.Kind != consumer.Applied {
		t.Fatalf("outcome = %+v", o)
	}
	if n := s.sim.Stats().Traceparents[tp]; n < 2 {
		t.Errorf("Perfex saw the traceparent on %d requests, want the GET and the PUT", n)
	}
	if !strings.Contains(s.logs.String(), "0af7651916cd43dd8448eb211c80319c") {
		t.Error("the trace id is not in the command's log lines")
	}
}

// TestOversizedCommandRefusedAtPublish: a body far over the 64 KiB limit
// is refused by the stream, so the publisher sees it at once and no worker
// is left with a message too large to store as a dead letter.
func TestOversizedCommandRefusedAtPublish(t *testing.T) {
	s := newStack(t, stackOptions{noWorker: true})

	body := `{"id":"huge","type":"contact.update","contact_id":3,"data":{"title":"` + strings.Repeat("a", 200<<10) + `"}}`
	msg := nats.NewMsg("perfex.cmd.contact.update.3")
	msg.Data = []byte(body)
	if _, err := s.js.PublishMsg(t.Context(), msg); err == nil {
		t.Fatal("a 200 KiB command was stored")
	}
	if n := s.pending(); n != 0 {
		t.Errorf("the command stream holds %d messages", n)
	}
}
