package dlq_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// BenchmarkEnvelope measures building one dead letter (a 422 with field
// errors and a reply excerpt, every value masked) from a received
// command, without publishing it.
func BenchmarkEnvelope(b *testing.B) {
	f := setup(b)
	body := []byte(`{"id":"cmd-1","operation":"contact.update","contact_id":42,` +
		`"data":{"email":"ana@example.com","password":"s3cret-pass","title":"Buyer"}}`)
	msg := f.receive(b, "perfex.cmd.contact.update.42", body,
		nats.Header{"Nats-Msg-Id": {"cmd-1"}, "traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})
	entry := dlq.Entry{
		Reason: reason.ValidationFailed, Status: 422,
		Detail:      "Perfex refused the update (authtoken " + token + ")",
		FieldErrors: map[string]string{"email": "The Email field must contain a valid email address.", "userid": "No such customer"},
		Reply:       `{"status":false,"error":"validation_failed","message":"Validation failed"}`,
		CommandID:   "cmd-1", WorkerID: "bench",
	}
	b.ReportAllocs()
	for b.Loop() {
		out, err := f.w.Envelope(msg, entry)
		if err != nil {
			b.Fatal(err)
		}
		if out.Header.Get(dlq.HeaderReason) == "" {
			b.Fatal("no reason header")
		}
	}
}
