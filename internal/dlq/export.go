package dlq

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
)

// Record is one dead letter as a line of `dlq export` and as the input of
// `dlq replay --from-file`. A replay takes the letter's identity
// (Sequence and StoredAt) and its body from the record; the subject,
// headers and replay count always come from the letter still stored, so a
// file cannot replay a letter twice or forge where it goes.
type Record struct {
	Sequence    uint64            `json:"sequence"`
	StoredAt    time.Time         `json:"stored_at"`
	Subject     string            `json:"subject"`
	ContactID   int64             `json:"contact_id,omitempty"`
	CommandID   string            `json:"command_id,omitempty"`
	Reason      string            `json:"reason"`
	Message     string            `json:"message,omitempty"`
	Detail      string            `json:"detail,omitempty"`
	Status      int               `json:"status,omitempty"`
	FieldErrors map[string]string `json:"field_errors,omitempty"`
	ReplayCount int               `json:"replay_count"`
	Deliveries  uint64            `json:"deliveries,omitempty"`
	FailedAt    time.Time         `json:"failed_at,omitzero"`
	Headers     nats.Header       `json:"headers,omitempty"`
	// Body is the command when it is JSON; BodyText holds any other
	// UTF-8 body and BodyBase64 any other body.
	Body       json.RawMessage `json:"body,omitempty"`
	BodyText   string          `json:"body_text,omitempty"`
	BodyBase64 string          `json:"body_base64,omitempty"`
	// SecretsMasked says passwords in the body read "***"; a replay from
	// the file puts the stored password back.
	SecretsMasked bool `json:"secrets_masked,omitempty"`
}

// NewRecord turns l into a record, with passwords masked unless reveal.
func NewRecord(l Letter, reveal bool) Record {
	r := Record{
		Sequence: l.Sequence, StoredAt: l.StoredAt, Subject: l.OriginalSubject,
		ContactID: ContactID(l.OriginalSubject), CommandID: l.CommandID,
		Reason: string(l.Reason), Message: l.Message, Detail: Mask(l.Detail),
		Status: l.Status, FieldErrors: l.FieldErrors, ReplayCount: l.ReplayCount,
		Deliveries: l.Deliveries, FailedAt: l.FailedAt, Headers: l.Headers,
		SecretsMasked: !reveal,
	}
	body := l.Body
	if !reveal {
		r.Headers = nats.Header{}
		for k, vs := range l.Headers {
			for _, v := range vs {
				r.Headers.Add(k, Mask(v))
			}
		}
		body = []byte(MaskBody(l.Body))
	}
	switch {
	case json.Valid(body) && len(bytes.TrimSpace(body)) > 0:
		r.Body = compact(body)
	case utf8.Valid(body):
		r.BodyText = string(body)
	default:
		r.BodyBase64 = base64.StdEncoding.EncodeToString(body)
	}
	return r
}

// ErrBadRecord is returned for a line that is not a usable record.
var ErrBadRecord = errors.New("not a dead-letter record")

// ParseRecord reads one line of an export and returns the record and its
// body bytes.
func ParseRecord(line []byte) (Record, []byte, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return Record{}, nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if r.Sequence == 0 {
		return Record{}, nil, fmt.Errorf("%w: no sequence", ErrBadRecord)
	}
	switch {
	case len(r.Body) > 0:
		return r, r.Body, nil
	case r.BodyText != "":
		return r, []byte(r.BodyText), nil
	case r.BodyBase64 != "":
		b, err := base64.StdEncoding.DecodeString(r.BodyBase64)
		if err != nil {
			return Record{}, nil, fmt.Errorf("%w: sequence %d: body_base64: %v", ErrBadRecord, r.Sequence, err)
		}
		return r, b, nil
	}
	return Record{}, nil, fmt.Errorf("%w: sequence %d has no body", ErrBadRecord, r.Sequence)
}
