package crm

import (
	"slices"
	"strconv"
	"strings"

	"github.com/perfexworker/perfex-worker/command"
)

// contactBody is the JSON of PUT /contacts/{id}. Perfex reads it like a
// form: is_primary and the notification flags are true when present,
// whatever their value, so false is spelled by leaving the key out.
type contactBody struct {
	FirstName   string `json:"firstname"`
	LastName    string `json:"lastname"`
	Email       string `json:"email"`
	Title       string `json:"title"`
	PhoneNumber string `json:"phonenumber"`
	Direction   string `json:"direction"`
	UserID      string `json:"userid,omitempty"`
	Active      string `json:"active"`
	IsPrimary   string `json:"is_primary,omitempty"`

	InvoiceEmails    string `json:"invoice_emails,omitempty"`
	EstimateEmails   string `json:"estimate_emails,omitempty"`
	CreditNoteEmails string `json:"credit_note_emails,omitempty"`
	ContractEmails   string `json:"contract_emails,omitempty"`
	TaskEmails       string `json:"task_emails,omitempty"`
	ProjectEmails    string `json:"project_emails,omitempty"`
	TicketEmails     string `json:"ticket_emails,omitempty"`

	// Permissions is nil to leave the key out, which makes Perfex remove
	// every portal permission; an empty list does the same, explicitly.
	Permissions *[]string `json:"permissions,omitempty"`

	// Password is sent only when the command sets one; the stored value
	// is a hash and is never read.
	Password string `json:"password,omitempty"`
}

// flagFields returns the flag fields in command.NotificationFlags order.
func (b *contactBody) flagFields() [numFlags]*string {
	return [numFlags]*string{
		&b.InvoiceEmails, &b.EstimateEmails, &b.CreditNoteEmails,
		&b.ContractEmails, &b.TaskEmails, &b.ProjectEmails, &b.TicketEmails,
	}
}

// merged is the complete state the client writes: the stored contact with
// the command's fields on top.
type merged struct {
	contact
	// Permissions is nil when they are not sent (PermissionsCommand and a
	// command without permissions).
	Permissions []int
	Password    string
}

// merge lays the command's fields over the stored contact. stored
// permissions are the contact's current ones, or nil when unknown; the
// command's permissions, when set, replace them.
func merge(stored contact, storedPerms []int, d command.ContactData) merged {
	m := merged{contact: stored, Permissions: storedPerms}
	setString(&m.FirstName, d.FirstName)
	setString(&m.LastName, d.LastName)
	setString(&m.Email, d.Email)
	setString(&m.Title, d.Title)
	setString(&m.PhoneNumber, d.PhoneNumber)
	setString(&m.Direction, d.Direction)
	setString(&m.Password, d.Password)
	setBool(&m.Active, d.Active)
	setBool(&m.IsPrimary, d.IsPrimary)
	if d.UserID != nil {
		m.UserID = *d.UserID
	}

	flags := d.Flags()
	for i, name := range command.NotificationFlags {
		setBool(&m.Flags[i], *flags[name])
	}
	if d.Permissions != nil {
		m.Permissions = normalisePermissions(*d.Permissions)
	} else if m.Permissions != nil {
		m.Permissions = normalisePermissions(m.Permissions)
	}
	return m
}

// body encodes m the way Perfex reads a PUT.
func (m merged) body() contactBody {
	b := contactBody{
		FirstName:   m.FirstName,
		LastName:    m.LastName,
		Email:       m.Email,
		Title:       m.Title,
		PhoneNumber: m.PhoneNumber,
		Direction:   m.Direction,
		Active:      "0",
		Password:    m.Password,
	}
	if m.UserID > 0 {
		b.UserID = strconv.FormatInt(m.UserID, 10)
	}
	if m.Active {
		b.Active = "1"
	}
	if m.IsPrimary {
		b.IsPrimary = "on"
	}
	fields := b.flagFields()
	for i, name := range command.NotificationFlags {
		if m.Flags[i] {
			*fields[i] = name
		}
	}
	if m.Permissions != nil {
		ids := make([]string, len(m.Permissions))
		for i, p := range m.Permissions {
			ids[i] = strconv.Itoa(p)
		}
		b.Permissions = &ids
	}
	return b
}

// holds reports whether the stored contact has every value d sets except
// the password, which only exists as a hash. When it does not, it names
// the first field that differs (never its value).
func holds(c contact, d command.ContactData) (string, bool) {
	eq := func(p *string, v string) bool { return p == nil || *p == v }
	eqBool := func(p *bool, v bool) bool { return p == nil || *p == v }
	switch {
	case d.UserID != nil && *d.UserID != c.UserID:
		return "userid", false
	case !eq(d.FirstName, c.FirstName):
		return "firstname", false
	case !eq(d.LastName, c.LastName):
		return "lastname", false
	// MySQL compares emails without regard to case, so Perfex can answer
	// "nothing changed" to a change of case only.
	case d.Email != nil && !strings.EqualFold(*d.Email, c.Email):
		return "email", false
	case !eq(d.Title, c.Title):
		return "title", false
	case !eq(d.PhoneNumber, c.PhoneNumber):
		return "phonenumber", false
	case !eq(d.Direction, c.Direction):
		return "direction", false
	case !eqBool(d.Active, c.Active):
		return "active", false
	case !eqBool(d.IsPrimary, c.IsPrimary):
		return "is_primary", false
	}
	flags := d.Flags()
	for i, name := range command.NotificationFlags {
		if !eqBool(*flags[name], c.Flags[i]) {
			return name, false
		}
	}
	return "", true
}

// normalisePermissions sorts ids and drops repeats, so that two lists of
// the same permissions compare equal and the PUT is stable.
func normalisePermissions(ids []int) []int {
	out := slices.Clone(ids)
	if out == nil {
		out = []int{}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func setString(dst *string, src *string) {
	if src != nil {
		*dst = *src
	}
}

func setBool(dst *bool, src *bool) {
	if src != nil {
		*dst = *src
	}
}
