package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Decode parses and validates a command received on subject. It is strict:
// unknown fields, null values, wrong types, trailing data, a body over
// MaxSize, or a subject that disagrees with the body are malformed; an
// unknown type is an unknown operation; a bad data.email is an invalid
// email. Every error is a *ValidationError naming the problem. Pass an
// empty subject to skip the subject check (for example when publishing).
//
// On success the returned command's email, if any, is the bare address that
// will reach Perfex (see ValidateEmail).
func Decode(subject string, body []byte) (Command, error) {
	if len(body) > MaxSize {
		return Command{}, malformed("", "body is %d bytes, over the %d byte limit", len(body), MaxSize)
	}
	if !utf8.Valid(body) {
		return Command{}, malformed("", "body is not valid UTF-8")
	}

	var top map[string]json.RawMessage
	if err := decodeStrict(body, &top); err != nil {
		return Command{}, malformed("", "body is not a JSON object: %s", jsonProblem(err))
	}
	for key, raw := range top {
		switch key {
		case "id", "type", "contact_id", "occurred_at", "data":
		default:
			return Command{}, malformed(key, "unknown field")
		}
		if isNull(raw) {
			return Command{}, malformed(key, "must not be null")
		}
	}

	var cmd Command
	if err := decodeField(top, "id", &cmd.ID); err != nil {
		return Command{}, err
	}
	if err := decodeField(top, "type", &cmd.Type); err != nil {
		return Command{}, err
	}
	if err := decodeField(top, "contact_id", &cmd.ContactID); err != nil {
		return Command{}, err
	}
	if raw, ok := top["occurred_at"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Command{}, malformed("occurred_at", "must be an RFC 3339 timestamp string")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Command{}, malformed("occurred_at", "must be an RFC 3339 timestamp: %q", s)
		}
		cmd.OccurredAt = &t
	}

	if err := cmd.checkEnvelope(); err != nil {
		return Command{}, err
	}
	if subject != "" {
		if err := checkSubject(subject, cmd.ContactID); err != nil {
			return Command{}, err
		}
	}

	raw, ok := top["data"]
	if !ok {
		return Command{}, malformed("data", "is required")
	}
	data, err := decodeData(raw)
	if err != nil {
		return Command{}, err
	}
	cmd.Data = data

	if err := cmd.Data.validate(); err != nil {
		return Command{}, err
	}
	return cmd, nil
}

// Validate checks a command built in Go the way Decode checks one received
// from the wire, and normalises its email to the bare address.
func (c *Command) Validate() error {
	if err := c.checkEnvelope(); err != nil {
		return err
	}
	return c.Data.validate()
}

func (c *Command) checkEnvelope() error {
	switch {
	case strings.TrimSpace(c.ID) == "":
		return malformed("id", "is required and must not be blank")
	case len(c.ID) > 256:
		return malformed("id", "is longer than 256 bytes")
	case c.Type == "":
		return malformed("type", "is required")
	case c.ContactID <= 0:
		return malformed("contact_id", "must be a positive integer, got %d", c.ContactID)
	case c.Type != TypeContactUpdate:
		return &ValidationError{Code: CodeUnknownOperation, Field: "type", Detail: fmt.Sprintf("%q is not an operation this worker knows", c.Type)}
	}
	return nil
}

func checkSubject(subject string, contactID int64) error {
	i := strings.LastIndexByte(subject, '.')
	tail := subject[i+1:]
	if !strings.Contains(subject, ".cmd.contact.update.") {
		return malformed("", "subject %q is not a contact update subject", subject)
	}
	id, err := strconv.ParseInt(tail, 10, 64)
	if err != nil || id != contactID {
		return malformed("contact_id", "subject %q names contact %q but the body says %d", subject, tail, contactID)
	}
	return nil
}

// dataFields is every key data may carry.
var dataFields = map[string]bool{
	"userid": true, "firstname": true, "lastname": true, "email": true,
	"phonenumber": true, "title": true, "direction": true, "is_primary": true,
	"password": true, "active": true, "permissions": true,
	"invoice_emails": true, "estimate_emails": true, "credit_note_emails": true,
	"contract_emails": true, "task_emails": true, "project_emails": true,
	"ticket_emails": true,
}

func decodeData(raw json.RawMessage) (ContactData, error) {
	var fields map[string]json.RawMessage
	if err := decodeStrict(raw, &fields); err != nil {
		return ContactData{}, malformed("data", "must be a JSON object: %s", jsonProblem(err))
	}
	if len(fields) == 0 {
		return ContactData{}, malformed("data", "must set at least one field")
	}
	for key, v := range fields {
		if !dataFields[key] {
			return ContactData{}, malformed("data."+key, "unknown field")
		}
		if isNull(v) {
			return ContactData{}, malformed("data."+key, "must not be null")
		}
	}

	var d ContactData
	if err := decodeStrict(raw, &d); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return ContactData{}, malformed("data."+te.Field, "must be %s, got a JSON %s", goTypeName(te.Type.Kind().String()), te.Value)
		}
		return ContactData{}, malformed("data", "%s", jsonProblem(err))
	}
	return d, nil
}

func decodeField(top map[string]json.RawMessage, key string, dst any) error {
	raw, ok := top[key]
	if !ok {
		return malformed(key, "is required")
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return malformed(key, "must be %s, got a JSON %s", goTypeName(te.Type.Kind().String()), te.Value)
		}
		return malformed(key, "%s", jsonProblem(err))
	}
	return nil
}

// decodeStrict decodes one JSON value with unknown fields refused and
// nothing allowed after it.
func decodeStrict(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func goTypeName(kind string) string {
	switch kind {
	case "int64", "int":
		return "an integer"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array of integers"
	default:
		return kind
	}
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	if errors.Is(err, io.EOF) {
		return "empty body"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
