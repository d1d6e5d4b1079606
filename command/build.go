package command

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/oklog/ulid/v2"
)

// NewContactUpdate returns a contact update for contactID that sets the
// fields of data, with a new unique id. Set OccurredAt on the result to
// record when the change happened at the source.
//
// The id is what makes re-sending safe: publish the same Command value
// again (after a timeout, say) and the stream's duplicate window drops the
// copy.
func NewContactUpdate(contactID int64, data ContactData) Command {
	return Command{
		ID:        newID(),
		Type:      TypeContactUpdate,
		ContactID: contactID,
		Data:      data,
	}
}

// newID returns a ULID: unique, and sortable by creation time, which makes
// ids in logs and dead-letter listings easy to place.
func newID() string {
	return ulid.Make().String()
}

// Marshal validates c and returns its wire form, the JSON body a publisher
// sends. The email in the body is the normalised one (see ValidateEmail);
// c itself is not changed. The error is a *ValidationError when c is not a
// command the worker would accept.
func (c Command) Marshal() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("command: encoding %s: %w", c.ID, err)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))

	if len(body) > MaxSize {
		return nil, malformed("", "body would be %d bytes, over the %d byte limit", len(body), MaxSize)
	}
	return body, nil
}

// String returns a pointer to s, for the optional fields of ContactData.
func String(s string) *string { return &s }

// Bool returns a pointer to b, for the optional fields of ContactData.
func Bool(b bool) *bool { return &b }

// Int64 returns a pointer to i, for ContactData.UserID.
func Int64(i int64) *int64 { return &i }

// Ints returns a pointer to a slice holding ids, for
// ContactData.Permissions. Ints() with no ids is a pointer to an empty
// slice, which removes every permission.
func Ints(ids ...int) *[]int {
	out := make([]int, len(ids))
	copy(out, ids)
	return &out
}
