package dlq

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/reason"
)

// Letter is a dead letter read back from the dead-letter stream.
type Letter struct {
	// Sequence is the letter's sequence in the dead-letter stream.
	Sequence uint64
	// Subject is the letter's subject in the dead-letter stream.
	Subject string
	// StoredAt is when the dead-letter stream stored the letter.
	StoredAt time.Time
	// Body is the original message body, byte for byte. It may hold a
	// password: show it only through a masking function.
	Body []byte
	// Headers are the original application headers: everything but the
	// Nats-* headers, the Perfex-DLQ-* headers and the replay count. A
	// replay publishes these.
	Headers nats.Header

	Reason      reason.Code
	Message     string
	MessagePtBR string
	Detail      string
	// Status is Perfex's HTTP status, 0 when no request was made.
	Status      int
	FieldErrors map[string]string
	Reply       string

	OriginalSubject  string
	OriginalStream   string
	OriginalSequence uint64
	// OriginalMsgID is the publisher's Nats-Msg-Id, when there was one.
	OriginalMsgID string
	Deliveries    uint64
	FailedAt      time.Time
	WorkerID      string
	CommandID     string
	ReplayCount   int
}

// ErrNotALetter is returned by ParseLetter for a message that lacks the
// headers every dead letter has.
var ErrNotALetter = errors.New("not a dead letter")

// ParseLetter reads a message fetched from the dead-letter stream (with
// Stream.GetMsg or a direct get). Reason, subject, stream and sequence are
// required; any header present must parse.
func ParseLetter(m *jetstream.RawStreamMsg) (Letter, error) {
	if m == nil {
		return Letter{}, fmt.Errorf("%w: no message", ErrNotALetter)
	}
	h := m.Header
	l := Letter{
		Sequence:        m.Sequence,
		Subject:         m.Subject,
		StoredAt:        m.Time,
		Body:            m.Data,
		Headers:         nats.Header{},
		Reason:          reason.Code(h.Get(HeaderReason)),
		Message:         h.Get(HeaderMessage),
		MessagePtBR:     h.Get(HeaderMessagePtBR),
		Detail:          h.Get(HeaderDetail),
		Reply:           h.Get(HeaderReply),
		OriginalSubject: h.Get(HeaderSubject),
		OriginalStream:  h.Get(HeaderStream),
		OriginalMsgID:   h.Get(HeaderOriginalMsgID),
		WorkerID:        h.Get(HeaderWorker),
		CommandID:       h.Get(HeaderCommandID),
	}
	for key, values := range h {
		if !isReserved(key) {
			l.Headers[key] = append([]string(nil), values...)
		}
	}

	var missing []string
	for _, f := range []struct{ name, value string }{
		{HeaderReason, string(l.Reason)},
		{HeaderSubject, l.OriginalSubject},
		{HeaderStream, l.OriginalStream},
		{HeaderSequence, h.Get(HeaderSequence)},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return Letter{}, fmt.Errorf("%w: sequence %d lacks %v", ErrNotALetter, m.Sequence, missing)
	}

	var errs []error
	parseUint := func(key string, dst *uint64) {
		if v := h.Get(key); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a count", key, v))
			}
			*dst = n
		}
	}
	parseUint(HeaderSequence, &l.OriginalSequence)
	parseUint(HeaderDeliveries, &l.Deliveries)

	if v := h.Get(HeaderStatus); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not an HTTP status", HeaderStatus, v))
		}
		l.Status = n
	}
	if v := h.Get(HeaderReplayCount); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a count", HeaderReplayCount, v))
		}
		l.ReplayCount = n
	}
	if v := h.Get(HeaderFailedAt); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not an RFC 3339 time", HeaderFailedAt, v))
		}
		l.FailedAt = t
	}
	if v := h.Get(HeaderFieldErrors); v != "" {
		if err := json.Unmarshal([]byte(v), &l.FieldErrors); err != nil {
			errs = append(errs, fmt.Errorf("%s: not a JSON object of strings: %w", HeaderFieldErrors, err))
		}
	}

	if err := errors.Join(errs...); err != nil {
		return Letter{}, fmt.Errorf("dead letter at sequence %d: %w", m.Sequence, err)
	}
	return l, nil
}
