// Package dlq stores commands that can never be applied in the dead-letter
// stream, and reads them back for operators' tools.
//
// A dead letter is the original message body, byte for byte, with the
// original application headers and Perfex-DLQ-* headers saying what went
// wrong, where the message came from and when. The package never logs and
// never acknowledges messages: the consumer decides what to do with the
// errors it returns.
package dlq

// Header names a dead letter carries. Values are single lines; see Letter
// for their types.
const (
	// HeaderReason is the stable reason code (reason.Code).
	HeaderReason = "Perfex-DLQ-Reason"
	// HeaderMessage is the reason's message in English.
	HeaderMessage = "Perfex-DLQ-Message"
	// HeaderMessagePtBR is the reason's message in Brazilian Portuguese.
	HeaderMessagePtBR = "Perfex-DLQ-Message-Pt-BR"
	// HeaderDetail says what exactly was wrong.
	HeaderDetail = "Perfex-DLQ-Detail"
	// HeaderStatus is the HTTP status Perfex answered; absent when no
	// request was made.
	HeaderStatus = "Perfex-DLQ-Status"
	// HeaderFieldErrors is Perfex's per-field errors as a compact JSON
	// object of strings.
	HeaderFieldErrors = "Perfex-DLQ-Field-Errors"
	// HeaderReply is an excerpt of Perfex's reply with secrets removed.
	HeaderReply = "Perfex-DLQ-Reply"
	// HeaderSubject is the subject the command was received on.
	HeaderSubject = "Perfex-DLQ-Subject"
	// HeaderStream is the command stream the command was stored in.
	HeaderStream = "Perfex-DLQ-Stream"
	// HeaderSequence is the command's sequence in that stream.
	HeaderSequence = "Perfex-DLQ-Sequence"
	// HeaderDeliveries is how many times the server had delivered the
	// command when it was dead-lettered.
	HeaderDeliveries = "Perfex-DLQ-Deliveries"
	// HeaderFailedAt is when the worker gave up, in RFC 3339.
	HeaderFailedAt = "Perfex-DLQ-Failed-At"
	// HeaderWorker is the id of the worker that stored the letter.
	HeaderWorker = "Perfex-DLQ-Worker"
	// HeaderCommandID is the body's command id, when it could be read.
	HeaderCommandID = "Perfex-DLQ-Command-Id"
	// HeaderOriginalMsgID is the original message's Nats-Msg-Id (the
	// publisher's dedupe id), which cannot be kept under its own name:
	// inside the dead-letter stream it would dedupe against other letters.
	HeaderOriginalMsgID = "Perfex-DLQ-Original-Msg-Id"
	// HeaderReplayCount is how many times the command has been replayed
	// from the dead-letter stream. Replays set it on the republished
	// message; the writer copies it from the original, "0" when absent.
	HeaderReplayCount = "Perfex-Replay-Count"
)

// headerPrefix starts every header the writer adds except the replay count.
const headerPrefix = "Perfex-DLQ-"

// Limits on header values, in bytes. A dead letter must stay well inside
// the server's maximum message size whatever Perfex answered.
const (
	maxDetail      = 1024
	maxReply       = 2048
	maxFieldErrors = 4096
	maxFieldValue  = 256
	maxShort       = 256
)
