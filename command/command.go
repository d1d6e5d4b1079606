// Package command is the public face of perfex-worker for Go backends: it
// builds, validates, encodes and publishes the commands the worker applies
// to Perfex CRM. The wire format is described in CONTRACT.md and, for
// publishers in other languages, in schema/command.schema.json.
package command

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/perfexworker/perfex-worker/internal/reason"
)

// TypeContactUpdate is the only operation the worker knows today.
const TypeContactUpdate = "contact.update"

// MaxSize is the largest body, in bytes, the worker accepts.
const MaxSize = 64 << 10

// DefaultPrefix is the subject prefix used unless configured otherwise.
const DefaultPrefix = "perfex"

// Codes carried by a *ValidationError. They are the dead-letter reasons the
// worker would give the same command.
const (
	CodeMalformed        = string(reason.Malformed)
	CodeUnknownOperation = string(reason.UnknownOperation)
	CodeInvalidEmail     = string(reason.InvalidEmail)
)

// Command is one instruction to the worker.
type Command struct {
	ID         string      `json:"id"`
	Type       string      `json:"type"`
	ContactID  int64       `json:"contact_id"`
	OccurredAt *time.Time  `json:"occurred_at,omitempty"`
	Data       ContactData `json:"data"`
}

// ContactData holds the fields a contact update sets. A nil field is left
// unchanged in Perfex.
type ContactData struct {
	UserID      *int64  `json:"userid,omitempty"`
	FirstName   *string `json:"firstname,omitempty"`
	LastName    *string `json:"lastname,omitempty"`
	Email       *string `json:"email,omitempty"`
	PhoneNumber *string `json:"phonenumber,omitempty"`
	Title       *string `json:"title,omitempty"`
	Direction   *string `json:"direction,omitempty"`
	IsPrimary   *bool   `json:"is_primary,omitempty"`
	// Password is the client-portal password. It is a secret: it is sent to
	// Perfex and never logged or listed.
	Password *string `json:"password,omitempty"`
	Active   *bool   `json:"active,omitempty"`

	InvoiceEmails    *bool `json:"invoice_emails,omitempty"`
	EstimateEmails   *bool `json:"estimate_emails,omitempty"`
	CreditNoteEmails *bool `json:"credit_note_emails,omitempty"`
	ContractEmails   *bool `json:"contract_emails,omitempty"`
	TaskEmails       *bool `json:"task_emails,omitempty"`
	ProjectEmails    *bool `json:"project_emails,omitempty"`
	TicketEmails     *bool `json:"ticket_emails,omitempty"`

	// Permissions replaces the contact's portal permissions when non-nil.
	// An empty, non-nil slice removes them all.
	Permissions *[]int `json:"permissions,omitempty"`
}

// NotificationFlags names the seven notification flags in Perfex's order.
var NotificationFlags = []string{
	"invoice_emails", "estimate_emails", "credit_note_emails",
	"contract_emails", "task_emails", "project_emails", "ticket_emails",
}

// Flags returns pointers to the notification flags keyed by their wire
// names, so callers can iterate over them.
func (d *ContactData) Flags() map[string]**bool {
	return map[string]**bool{
		"invoice_emails":     &d.InvoiceEmails,
		"estimate_emails":    &d.EstimateEmails,
		"credit_note_emails": &d.CreditNoteEmails,
		"contract_emails":    &d.ContractEmails,
		"task_emails":        &d.TaskEmails,
		"project_emails":     &d.ProjectEmails,
		"ticket_emails":      &d.TicketEmails,
	}
}

// Fields returns the wire names of the fields d sets, in a stable order.
func (d ContactData) Fields() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(d.UserID != nil, "userid")
	add(d.FirstName != nil, "firstname")
	add(d.LastName != nil, "lastname")
	add(d.Email != nil, "email")
	add(d.PhoneNumber != nil, "phonenumber")
	add(d.Title != nil, "title")
	add(d.Direction != nil, "direction")
	add(d.IsPrimary != nil, "is_primary")
	add(d.Password != nil, "password")
	add(d.Active != nil, "active")
	flags := d.Flags()
	for _, name := range NotificationFlags {
		add(*flags[name] != nil, name)
	}
	add(d.Permissions != nil, "permissions")
	return out
}

// Subject returns the subject a contact update for contactID is published
// on, under prefix (DefaultPrefix when empty).
func Subject(prefix string, contactID int64) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + ".cmd.contact.update." + strconv.FormatInt(contactID, 10)
}

// ValidationError says why a command can never be applied. Code is one of
// the Code constants; Field names the offending field when there is one.
type ValidationError struct {
	Code   string
	Field  string
	Detail string
}

// Error returns the code, the field and the detail, separated by colons.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func malformed(field, format string, args ...any) *ValidationError {
	return &ValidationError{Code: CodeMalformed, Field: field, Detail: fmt.Sprintf(format, args...)}
}
