package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// Entry is what the caller knows about why a command is dead-lettered.
// Where it came from (subject, stream, sequence, deliveries) is read from
// the message itself.
type Entry struct {
	Reason reason.Code
	// Detail says what exactly was wrong, for an operator.
	Detail string
	// Status is Perfex's HTTP status, 0 when no request was made.
	Status int
	// FieldErrors are Perfex's per-field messages.
	FieldErrors map[string]string
	// Reply is an excerpt of Perfex's reply.
	Reply string
	// CommandID is the body's id, when it could be read.
	CommandID string
	// WorkerID identifies the worker storing the letter.
	WorkerID string
	// FailedAt is when the worker gave up; zero means now.
	FailedAt time.Time
}

// Option changes how a Writer works.
type Option func(*Writer)

// WithSecrets adds strings (such as the Perfex API token) that Mask
// removes from every header value.
func WithSecrets(secrets ...string) Option {
	return func(w *Writer) { w.secrets = append(w.secrets, secrets...) }
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option {
	return func(w *Writer) { w.now = now }
}

// Writer stores dead letters. It is safe for concurrent use.
type Writer struct {
	js      jetstream.JetStream
	names   broker.Names
	secrets []string
	now     func() time.Time
}

// NewWriter returns a Writer that stores into the dead-letter stream named
// by names.
func NewWriter(js jetstream.JetStream, names broker.Names, opts ...Option) *Writer {
	w := &Writer{js: js, names: names.WithDefaults(), now: time.Now}
	for _, opt := range opts {
		opt(w)
	}
	return w
}

// ErrNotCommandSubject is returned for a subject outside the command
// subjects, which has no dead-letter subject.
var ErrNotCommandSubject = errors.New("not a command subject")

// Subject maps a command subject to its dead-letter subject by replacing
// the cmd token after prefix with dlq: perfex.cmd.contact.update.12 becomes
// perfex.dlq.contact.update.12. The rest of the subject is kept as it is,
// whatever it holds.
func Subject(prefix, subject string) (string, error) {
	rest, ok := strings.CutPrefix(subject, prefix+".cmd.")
	if !ok || rest == "" {
		return "", fmt.Errorf("%w: %q is not under %q", ErrNotCommandSubject, subject, prefix+".cmd.>")
	}
	return prefix + ".dlq." + rest, nil
}

// MsgID is the dedupe id of the dead letter of the message stored at seq
// in stream. Storing the same command twice within the duplicates window
// (a worker that died between storing and acking) keeps one letter.
func MsgID(stream string, seq uint64) string {
	return "dlq:" + stream + ":" + strconv.FormatUint(seq, 10)
}

// Store publishes msg's body, byte for byte, with its application headers
// and the Perfex-DLQ-* headers describing entry, to the dead-letter stream,
// and waits for the server to confirm it. A duplicate (the letter was
// already stored) is success. Only after Store returns nil may the caller
// acknowledge msg.
func (w *Writer) Store(ctx context.Context, msg jetstream.Msg, entry Entry) error {
	out, meta, err := w.envelope(msg, entry)
	if err != nil {
		return fmt.Errorf("storing dead letter: %w", err)
	}
	ack, err := w.js.PublishMsg(ctx, out)
	if err != nil {
		return fmt.Errorf("storing dead letter of %s sequence %d: %w", meta.Stream, meta.Sequence.Stream, err)
	}
	if ack.Stream != w.names.DLQ {
		return fmt.Errorf("storing dead letter of %s sequence %d: stored in stream %q, not %q",
			meta.Stream, meta.Sequence.Stream, ack.Stream, w.names.DLQ)
	}
	return nil
}

// envelope builds the dead letter of msg: its body byte for byte, its
// application headers, the Perfex-DLQ-* headers describing entry, and the
// Nats-Msg-Id that makes storing it again a duplicate.
func (w *Writer) envelope(msg jetstream.Msg, entry Entry) (*nats.Msg, *jetstream.MsgMetadata, error) {
	meta, err := msg.Metadata()
	if err != nil {
		return nil, nil, fmt.Errorf("reading message metadata: %w", err)
	}
	subject, err := Subject(w.names.Prefix, msg.Subject())
	if err != nil {
		return nil, nil, err
	}
	out := nats.NewMsg(subject)
	out.Data = msg.Data()
	w.copyHeaders(out.Header, msg.Headers())
	w.setHeaders(out.Header, msg, meta, entry)
	out.Header.Set(jetstream.MsgIDHeader, MsgID(meta.Stream, meta.Sequence.Stream))
	return out, meta, nil
}

// copyHeaders copies the original's application headers, masking only the
// configured secrets. Nats-* headers are left out (a Nats-Msg-Id would
// dedupe inside the dead-letter stream, a Nats-Expected-* would make the
// publish fail), and so are Perfex-DLQ-* and the replay count, which the
// writer sets itself.
func (w *Writer) copyHeaders(dst, src nats.Header) {
	for key, values := range src {
		if isReserved(key) {
			continue
		}
		for _, v := range values {
			dst.Add(key, Mask(v, w.secrets...))
		}
	}
}

func isReserved(key string) bool {
	k := strings.ToLower(key)
	return strings.HasPrefix(k, "nats-") ||
		strings.HasPrefix(k, strings.ToLower(headerPrefix)) ||
		k == strings.ToLower(HeaderReplayCount)
}

func (w *Writer) setHeaders(h nats.Header, msg jetstream.Msg, meta *jetstream.MsgMetadata, e Entry) {
	short := func(s string) string { return headerValue(Mask(s, w.secrets...), maxShort) }
	set := func(key, value string) {
		if value != "" {
			h.Set(key, value)
		}
	}

	failedAt := e.FailedAt
	if failedAt.IsZero() {
		failedAt = w.now()
	}

	set(HeaderReason, short(string(e.Reason)))
	set(HeaderMessage, e.Reason.Message(reason.English))
	set(HeaderMessagePtBR, e.Reason.Message(reason.Portuguese))
	set(HeaderDetail, headerValue(Mask(e.Detail, w.secrets...), maxDetail))
	if e.Status > 0 {
		set(HeaderStatus, strconv.Itoa(e.Status))
	}
	set(HeaderFieldErrors, w.fieldErrors(e.FieldErrors))
	set(HeaderReply, headerValue(Mask(e.Reply, w.secrets...), maxReply))
	// Subjects hold no whitespace and are never cut: a replay publishes to
	// this one.
	set(HeaderSubject, msg.Subject())
	set(HeaderStream, meta.Stream)
	set(HeaderSequence, strconv.FormatUint(meta.Sequence.Stream, 10))
	set(HeaderDeliveries, strconv.FormatUint(meta.NumDelivered, 10))
	set(HeaderFailedAt, failedAt.UTC().Format(time.RFC3339))
	set(HeaderWorker, short(e.WorkerID))
	set(HeaderCommandID, short(e.CommandID))
	set(HeaderOriginalMsgID, short(msg.Headers().Get(jetstream.MsgIDHeader)))
	h.Set(HeaderReplayCount, replayCount(msg.Headers()))
}

// fieldErrors encodes errs as a compact JSON object within the header
// limit: each value is masked and shortened, and keys (in sorted order)
// that no longer fit are dropped, so the value is always valid JSON.
func (w *Writer) fieldErrors(errs map[string]string) string {
	if len(errs) == 0 {
		return ""
	}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	kept := map[string]string{}
	encoded := ""
	for _, k := range keys {
		key := headerValue(k, maxShort)
		kept[key] = headerValue(Mask(errs[k], w.secrets...), maxFieldValue)
		b, err := json.Marshal(kept)
		if err != nil || len(b) > maxFieldErrors {
			delete(kept, key)
			continue
		}
		encoded = string(b)
	}
	return encoded
}

// replayCount is the original's replay count when it is a valid one, else
// "0".
func replayCount(h nats.Header) string {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get(HeaderReplayCount)))
	if err != nil || n < 0 {
		return "0"
	}
	return strconv.Itoa(n)
}
