package consumer

import "github.com/perfexworker/perfex-worker/internal/reason"

// Outcome kinds (CONTRACT.md, "Outcomes").
const (
	// Applied: Perfex holds the command's values; the message was acked.
	Applied = "applied"
	// Superseded: a newer command (by rank, see Outcome.Rank) already set
	// every field this one sets; nothing was sent and the message was
	// acked.
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
	// Rank is the command's place in its contact's order: StreamSeq, or
	// for a replay the sequence its Perfex-Original-Sequence header names.
	Rank uint64
	// Attempt is the server's delivery count.
	Attempt int
	// Reason is the dead-letter reason, the transient class for a retry,
	// or the hold's cause; empty when applied.
	Reason reason.Code
	// Skipped names the fields left alone because a newer command had set
	// them (wire names; every field when Kind is Superseded).
	Skipped []string
	// Coalesced is how many commands shared one read and one write with
	// this one, itself included; 0 when it was applied alone.
	Coalesced int
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
