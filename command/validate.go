package command

import (
	"fmt"
	"unicode/utf8"
)

// Field limits follow the column sizes of Perfex's contacts table; a value
// longer than the column would be cut or refused by the database. MySQL
// counts VARCHAR lengths in characters, so these are characters too.
const (
	maxNameLen  = 191
	maxTitleLen = 100
	maxPhoneLen = 100
)

// maxIDLen is the longest command id, in bytes.
const maxIDLen = 256

// Validate checks a command built in Go the way Decode checks one received
// from the wire, and normalises its email to the bare address sent to
// Perfex. The error is a *ValidationError.
func (c *Command) Validate() error {
	if err := c.checkEnvelope(); err != nil {
		return err
	}
	return c.Data.validate()
}

func (c *Command) checkEnvelope() error {
	if err := checkType(c.Type); err != nil {
		return err
	}
	if err := checkID(c.ID); err != nil {
		return err
	}
	if c.ContactID <= 0 {
		return malformed("contact_id", "must be a positive integer, got %d", c.ContactID)
	}
	if c.OccurredAt != nil {
		if _, err := c.OccurredAt.MarshalJSON(); err != nil {
			return malformed("occurred_at", "cannot be written as RFC 3339: %v", err)
		}
	}
	return nil
}

func checkType(typ string) error {
	switch typ {
	case TypeContactUpdate:
		return nil
	case "":
		return malformed("type", "must not be empty")
	}
	return &ValidationError{
		Code:   CodeUnknownOperation,
		Field:  "type",
		Detail: fmt.Sprintf("%s is not an operation this worker knows", quoteClipped(typ)),
	}
}

// checkID keeps the id to visible ASCII: it travels as the Nats-Msg-Id
// header, whose values NATS defines as ASCII and which nats.go trims and
// rewrites (newlines become spaces), so any other id would be deduplicated
// under a different value than the body carries.
func checkID(id string) error {
	switch {
	case id == "":
		return malformed("id", "is required and must not be empty")
	case len(id) > maxIDLen:
		return malformed("id", "is %d bytes; at most %d are allowed", len(id), maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return malformed("id",
				"has the byte 0x%02x at %d; only visible ASCII characters are allowed", c, i)
		}
	}
	return nil
}

func (d *ContactData) validate() error {
	if len(d.Fields()) == 0 {
		return malformed("data", "must set at least one field")
	}
	if d.UserID != nil && *d.UserID <= 0 {
		return malformed("data.userid", "must be a positive integer, got %d", *d.UserID)
	}

	// The email is left to ValidateEmail, whose refusals are invalid_email.
	for _, f := range []struct {
		name  string
		v     *string
		max   int // in characters; 0 for no limit
		empty string
	}{
		{"data.firstname", d.FirstName, maxNameLen, "Perfex requires a first name"},
		{"data.lastname", d.LastName, maxNameLen, "Perfex requires a last name"},
		{"data.phonenumber", d.PhoneNumber, maxPhoneLen, ""},
		{"data.title", d.Title, maxTitleLen, ""},
		{"data.direction", d.Direction, 0, ""},
		{"data.password", d.Password, 0, "Perfex keeps the current password when sent an empty one"},
	} {
		if f.v == nil {
			continue
		}
		// json.Marshal would silently replace invalid bytes with U+FFFD.
		if !utf8.ValidString(*f.v) {
			return malformed(f.name, "is not valid UTF-8")
		}
		if f.empty != "" && *f.v == "" {
			return malformed(f.name, "must not be empty: %s", f.empty)
		}
		if n := utf8.RuneCountInString(*f.v); f.max > 0 && n > f.max {
			return malformed(f.name, "is %d characters; at most %d are allowed", n, f.max)
		}
	}

	if d.Direction != nil && *d.Direction != "" && *d.Direction != "ltr" && *d.Direction != "rtl" {
		return malformed("data.direction", "must be \"ltr\", \"rtl\" or empty, got %s",
			quoteClipped(*d.Direction))
	}
	if d.Permissions != nil {
		seen := make(map[int]bool, len(*d.Permissions))
		for i, p := range *d.Permissions {
			field := fmt.Sprintf("data.permissions[%d]", i)
			if p <= 0 {
				return malformed(field, "must be a positive permission id, got %d", p)
			}
			if seen[p] {
				return malformed(field, "repeats permission %d", p)
			}
			seen[p] = true
		}
	}
	if d.Email != nil {
		bare, err := ValidateEmail(*d.Email)
		if err != nil {
			return err
		}
		d.Email = &bare
	}
	return nil
}
