package consumer

import "github.com/perfexworker/perfex-worker/internal/reason"

// Outcome kinds (CONTRACT.md, "Outcomes").
const (
	// Applied: Perfex holds the command's values; the message was acked.
	Applied = "applied"
	// Superseded: a newer command already set every field.
	//
	// TODO: not reported yet. It needs a per-contact record of the newest
	// applied command (CONTRACT.md, "Outcomes"); until then a command
	// handed back for retry can be applied after a newer one for the same
	// contact that was behind it.
	Superseded = "superseded"
	// DeadLettered: stored in the dead-letter stream, then acked.
	DeadLettered = "dead_lettered"
	// Retried: this delivery ended with the message handed back to the
	// server for a later delivery.
	Retried = "retried"
	// Held: Perfex refused the worker itself; the message stays in hand
	// and reports another outcome after the worker resumes.
	Held = "held"
)

// Outcome is what happened to one delivery of a command.
type Outcome struct {
	// Kind is one of Applied, Superseded, DeadLettered, Retried, Held.
	Kind string
	// CommandID is the body's id, when it could be read.
	CommandID string
	// ContactID is the contact, 0 when unknown.
	ContactID int64
	// StreamSeq is the message's sequence in the command stream.
	StreamSeq uint64
	// Attempt is the server's delivery count.
	Attempt int
	// Reason is the dead-letter reason, the transient class for a retry,
	// or the hold's cause; empty when applied.
	Reason reason.Code
}

// Final reports whether the command is done: applied, superseded or
// dead-lettered. Retried and held commands come back.
func (o Outcome) Final() bool {
	switch o.Kind {
	case Applied, Superseded, DeadLettered:
		return true
	}
	return false
}

// Observer is told each outcome, synchronously from the worker that
// reached it, so metrics and summaries can count them without parsing
// logs. It must be quick and must not block.
type Observer func(Outcome)
