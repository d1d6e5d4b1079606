package perfexsim

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// Permission ids of Perfex's client portal, as stored in the
// contact_permissions table.
const (
	PermInvoices  = 1
	PermEstimates = 2
	PermContracts = 3
	PermProposals = 4
	PermSupport   = 5
	PermProjects  = 6
)

// knownPermissions lists every permission id Perfex core knows. An update
// walks this list, so ids outside it are ignored.
var knownPermissions = []int{
	PermInvoices, PermEstimates, PermContracts, PermProposals, PermSupport, PermProjects,
}

// timeLayout is how MySQL DATETIME columns reach the client.
const timeLayout = "2006-01-02 15:04:05"

// Contact is the stored state of one contact: its row in the contacts table
// plus its rows in contact_permissions.
//
// Nullable text columns hold "" for NULL and nullable time columns the zero
// time, so the row read over HTTP carries null for them.
type Contact struct {
	ID        int64
	UserID    int64
	IsPrimary bool
	FirstName string
	LastName  string
	Email     string

	PhoneNumber string
	Title       string
	DateCreated time.Time

	// PasswordHash is the stored bcrypt hash ("$2y$08$..."), "" for NULL.
	PasswordHash string
	// Password is write-only: PutContact hashes it into PasswordHash when it
	// is not empty. Values read back from the simulator always leave it "".
	Password string

	NewPassKey              string
	NewPassKeyRequested     time.Time
	EmailVerifiedAt         time.Time
	EmailVerificationKey    string
	EmailVerificationSentAt time.Time
	LastIP                  string
	LastLogin               time.Time
	LastPasswordChange      time.Time

	Active       bool
	ProfileImage string
	// Direction is "", "ltr" or "rtl".
	Direction string

	InvoiceEmails    bool
	EstimateEmails   bool
	CreditNoteEmails bool
	ContractEmails   bool
	TaskEmails       bool
	ProjectEmails    bool
	TicketEmails     bool

	// Permissions are the contact's portal permission ids, sorted.
	Permissions []int
}

// clone returns a copy of c that shares no memory with it.
func (c Contact) clone() Contact {
	c.Permissions = slices.Clone(c.Permissions)
	return c
}

// sameStored reports whether c and o store the same row and the same
// permissions, which is what Perfex compares when it decides that an update
// changed nothing. The write-only Password plays no part.
func (c Contact) sameStored(o Contact) bool {
	if !slices.Equal(c.Permissions, o.Permissions) {
		return false
	}

	a, errA := json.Marshal(c.row())
	b, errB := json.Marshal(o.row())
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// contactRow is a contact as GET /contacts/{id} sends it: every value a
// string, as PHP hands MySQL columns over, and null for NULL columns.
type contactRow struct {
	ID                      string  `json:"id"`
	UserID                  string  `json:"userid"`
	IsPrimary               string  `json:"is_primary"`
	FirstName               string  `json:"firstname"`
	LastName                string  `json:"lastname"`
	Email                   string  `json:"email"`
	PhoneNumber             string  `json:"phonenumber"`
	Title                   *string `json:"title"`
	DateCreated             string  `json:"datecreated"`
	Password                *string `json:"password"`
	NewPassKey              *string `json:"new_pass_key"`
	NewPassKeyRequested     *string `json:"new_pass_key_requested"`
	EmailVerifiedAt         *string `json:"email_verified_at"`
	EmailVerificationKey    *string `json:"email_verification_key"`
	EmailVerificationSentAt *string `json:"email_verification_sent_at"`
	LastIP                  *string `json:"last_ip"`
	LastLogin               *string `json:"last_login"`
	LastPasswordChange      *string `json:"last_password_change"`
	Active                  string  `json:"active"`
	ProfileImage            *string `json:"profile_image"`
	Direction               string  `json:"direction"`
	InvoiceEmails           string  `json:"invoice_emails"`
	EstimateEmails          string  `json:"estimate_emails"`
	CreditNoteEmails        string  `json:"credit_note_emails"`
	ContractEmails          string  `json:"contract_emails"`
	TaskEmails              string  `json:"task_emails"`
	ProjectEmails           string  `json:"project_emails"`
	TicketEmails            string  `json:"ticket_emails"`
}

// row renders c the way the API sends it. Permissions are not part of it.
func (c Contact) row() contactRow {
	return contactRow{
		ID:                      strconv.FormatInt(c.ID, 10),
		UserID:                  strconv.FormatInt(c.UserID, 10),
		IsPrimary:               flag(c.IsPrimary),
		FirstName:               c.FirstName,
		LastName:                c.LastName,
		Email:                   c.Email,
		PhoneNumber:             c.PhoneNumber,
		Title:                   nullText(c.Title),
		DateCreated:             c.DateCreated.Format(timeLayout),
		Password:                nullText(c.PasswordHash),
		NewPassKey:              nullText(c.NewPassKey),
		NewPassKeyRequested:     nullTime(c.NewPassKeyRequested),
		EmailVerifiedAt:         nullTime(c.EmailVerifiedAt),
		EmailVerificationKey:    nullText(c.EmailVerificationKey),
		EmailVerificationSentAt: nullTime(c.EmailVerificationSentAt),
		LastIP:                  nullText(c.LastIP),
		LastLogin:               nullTime(c.LastLogin),
		LastPasswordChange:      nullTime(c.LastPasswordChange),
		Active:                  flag(c.Active),
		ProfileImage:            nullText(c.ProfileImage),
		Direction:               c.Direction,
		InvoiceEmails:           flag(c.InvoiceEmails),
		EstimateEmails:          flag(c.EstimateEmails),
		CreditNoteEmails:        flag(c.CreditNoteEmails),
		ContractEmails:          flag(c.ContractEmails),
		TaskEmails:              flag(c.TaskEmails),
		ProjectEmails:           flag(c.ProjectEmails),
		TicketEmails:            flag(c.TicketEmails),
	}
}

// flag renders a TINYINT column.
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// nullText renders a nullable text column.
func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nullTime renders a nullable DATETIME column.
func nullTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(timeLayout)
	return &s
}

// normalizePermissions keeps the known ids of perms, sorted and without
// duplicates, the way the table ends up holding them.
func normalizePermissions(perms []int) []int {
	out := make([]int, 0, len(perms))
	for _, p := range perms {
		if slices.Contains(knownPermissions, p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}

	slices.Sort(out)
	return out
}
