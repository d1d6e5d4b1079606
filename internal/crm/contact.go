package crm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/jsonscan"
)

// numFlags is the number of notification flags (command.NotificationFlags).
const numFlags = 7

// contact is what the client needs of a stored contact row. The row's
// password hash is deliberately not read: it must never be sent back.
type contact struct {
	ID          int64
	UserID      int64
	FirstName   string
	LastName    string
	Email       string
	Title       string
	PhoneNumber string
	Direction   string
	Active      bool
	IsPrimary   bool
	// Flags are the notification flags in command.NotificationFlags order.
	Flags [numFlags]bool
}

// requiredColumns must be in a stored row, null allowed: writing the row
// back without knowing one of them would reset it. id and userid may be
// missing; a missing userid is then not sent, which leaves it unchanged.
var requiredColumns = append([]string{
	"firstname", "lastname", "email", "title", "phonenumber", "direction",
	"active", "is_primary",
}, command.NotificationFlags...)

// rowError says which column of a stored row could not be read. It never
// quotes the value, which is personal data.
type rowError struct {
	column  string
	problem string
}

func (e *rowError) Error() string {
	return fmt.Sprintf("column %q %s", e.column, e.problem)
}

// parseContact reads the row of GET /contacts/{id}: the first JSON object
// of body, unknown columns ignored, values as strings, numbers, booleans or
// null (docs/perfex-wire.md, "Stored contact").
func parseContact(body []byte) (contact, error) {
	if members, ok := rowMembers(trimBody(body), make([]rowMember, 0, 32)); ok {
		return parseRow(func(col string) (json.RawMessage, bool) {
			raw := column(members, col)
			return raw, raw != nil
		})
	}
	return parseContactStrict(body)
}

// parseContactStrict is parseContact without the fast path.
func parseContactStrict(body []byte) (contact, error) {
	var row map[string]json.RawMessage
	if err := decodeFirst(body, &row); err != nil {
		return contact{}, err
	}
	return parseRow(func(col string) (json.RawMessage, bool) {
		raw, ok := row[col]
		return raw, ok
	})
}

// parseRow reads the columns of a row that get looks up.
func parseRow(get func(col string) (json.RawMessage, bool)) (contact, error) {
	for _, col := range requiredColumns {
		if _, ok := get(col); !ok {
			return contact{}, &rowError{col, "is missing"}
		}
	}
	value := func(col string) json.RawMessage {
		raw, _ := get(col)
		return raw
	}

	var c contact
	var err error
	id := func(col string, dst *int64) {
		if err == nil {
			*dst, err = parseID(col, value(col))
		}
	}
	text := func(col string, dst *string) {
		if err == nil {
			*dst, err = parseText(col, value(col))
		}
	}
	flag := func(col string, dst *bool) {
		if err == nil {
			*dst, err = parseFlag(col, value(col))
		}
	}

	id("id", &c.ID)
	id("userid", &c.UserID)
	text("firstname", &c.FirstName)
	text("lastname", &c.LastName)
	text("email", &c.Email)
	text("title", &c.Title)
	text("phonenumber", &c.PhoneNumber)
	text("direction", &c.Direction)
	flag("active", &c.Active)
	flag("is_primary", &c.IsPrimary)
	for i, name := range command.NotificationFlags {
		flag(name, &c.Flags[i])
	}
	return c, err
}

// parseText reads a text column: a string, or a number or boolean that
// PHP printed as one; null is empty.
func parseText(col string, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", nil
	case raw[0] == '"':
		if s, ok := jsonscan.PlainString(raw); ok {
			return s, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", &rowError{col, "is not a valid string"}
		}
		return s, nil
	case string(raw) == "true":
		return "1", nil
	case string(raw) == "false":
		return "", nil
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		return string(raw), nil
	}
	return "", &rowError{col, "is not text"}
}

// parseID reads an id column: digits in a string or a number; null and
// "" are 0.
func parseID(col string, raw json.RawMessage) (int64, error) {
	s, err := parseText(col, raw)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f <= math.MaxInt64/2 && f == math.Trunc(f) {
		return int64(f), nil
	}
	return 0, &rowError{col, "is not an id"}
}

// parseFlag reads a flag column. "1", 1 and true are true; "0", 0,
// false, "" and null are false (docs/perfex-wire.md). Other numbers are
// true when not zero; "on"/"yes" and "off"/"no" are accepted as well.
func parseFlag(col string, raw json.RawMessage) (bool, error) {
	s, err := parseText(col, raw)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "0", "false", "off", "no":
		return false, nil
	case "1", "true", "on", "yes":
		return true, nil
	}
	if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && !math.IsNaN(f) {
		return f != 0, nil
	}
	return false, &rowError{col, "is not a flag"}
}
