//go:build chaos

package chaos

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

// sent is one published command as the stream stored it.
type sent struct {
	// seq is the stream sequence from the PubAck: the command's rank.
	seq     uint64
	id      string
	contact int64
	// data is what a valid command sets; zero for an invalid one.
	data    command.ContactData
	invalid bool
}

// model is what Perfex and the clock must hold once every command is done.
type model struct {
	contacts map[int64]perfexsim.Contact
	// writer holds, per contact and field (wire name), the sequence of the
	// last command that sets the field: the one whose value must stay.
	writer map[int64]map[string]uint64
}

// buildModel applies the valid commands to the initial contacts in stream
// order, a later command winning each field it names. Invalid commands
// change nothing.
func buildModel(t *testing.T, initial map[int64]perfexsim.Contact, cmds []sent) model {
	t.Helper()
	ordered := slices.SortedFunc(slices.Values(cmds), func(a, b sent) int { return cmp.Compare(a.seq, b.seq) })
	for i := 1; i < len(ordered); i++ {
		if ordered[i].seq == ordered[i-1].seq {
			t.Fatalf("commands %s and %s share stream sequence %d", ordered[i-1].id, ordered[i].id, ordered[i].seq)
		}
	}

	m := model{contacts: maps.Clone(initial), writer: map[int64]map[string]uint64{}}
	for _, c := range ordered {
		if c.invalid {
			continue
		}
		ct := m.contacts[c.contact]
		applyModel(&ct, c.data)
		m.contacts[c.contact] = ct

		w := m.writer[c.contact]
		if w == nil {
			w = map[string]uint64{}
			m.writer[c.contact] = w
		}
		for _, f := range c.data.Fields() {
			w[f] = c.seq
		}
	}
	return m
}

// lastFor names the fields whose final value comes from c: a command that
// sets one can never be superseded.
func (m model) lastFor(c sent) []string {
	var out []string
	for _, f := range c.data.Fields() {
		if m.writer[c.contact][f] == c.seq {
			out = append(out, f)
		}
	}
	return out
}

// randomData sets one to three random fields of contact id. The text
// values name the command (n), so a value that should have lost shows
// which command wrote it.
func randomData(rng *rand.Rand, id int64, n int) command.ContactData {
	var d command.ContactData
	tag := "c" + strconv.Itoa(n)
	for range 1 + rng.IntN(3) {
		switch rng.IntN(9) {
		case 0:
			d.FirstName = command.String("First " + tag)
		case 1:
			d.LastName = command.String("Last " + tag)
		case 2:
			d.Title = command.String("Title " + tag)
		case 3:
			d.PhoneNumber = command.String(fmt.Sprintf("+55 11 %08d", n))
		case 4:
			d.Email = command.String(fmt.Sprintf("caos.%d.%s@example.com", id, tag))
		case 5:
			d.Direction = command.String([]string{"", "ltr", "rtl"}[rng.IntN(3)])
		case 6:
			var p []int
			for perm := 1; perm <= 6; perm++ {
				if rng.IntN(2) == 0 {
					p = append(p, perm)
				}
			}
			if p == nil {
				p = []int{}
			}
			d.Permissions = &p
		default:
			b := rng.IntN(2) == 0
			flags := []**bool{&d.InvoiceEmails, &d.EstimateEmails, &d.CreditNoteEmails, &d.ContractEmails,
				&d.TaskEmails, &d.ProjectEmails, &d.TicketEmails}
			*flags[rng.IntN(len(flags))] = &b
		}
	}
	return d
}

// applyModel is what Perfex should hold after d.
func applyModel(c *perfexsim.Contact, d command.ContactData) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.FirstName, d.FirstName)
	set(&c.LastName, d.LastName)
	set(&c.Title, d.Title)
	set(&c.PhoneNumber, d.PhoneNumber)
	set(&c.Email, d.Email)
	set(&c.Direction, d.Direction)
	setB(&c.InvoiceEmails, d.InvoiceEmails)
	setB(&c.EstimateEmails, d.EstimateEmails)
	setB(&c.CreditNoteEmails, d.CreditNoteEmails)
	setB(&c.ContractEmails, d.ContractEmails)
	setB(&c.TaskEmails, d.TaskEmails)
	setB(&c.ProjectEmails, d.ProjectEmails)
	setB(&c.TicketEmails, d.TicketEmails)
	if d.Permissions != nil {
		c.Permissions = slices.Sorted(slices.Values(*d.Permissions))
	}
}

// diffContact names every field in which got differs from want.
func diffContact(want, got perfexsim.Contact) string {
	var out []string
	cmp := func(name string, w, g any) {
		if fmt.Sprint(w) != fmt.Sprint(g) {
			out = append(out, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	cmp("firstname", want.FirstName, got.FirstName)
	cmp("lastname", want.LastName, got.LastName)
	cmp("title", want.Title, got.Title)
	cmp("phonenumber", want.PhoneNumber, got.PhoneNumber)
	cmp("email", want.Email, got.Email)
	cmp("direction", want.Direction, got.Direction)
	cmp("invoice_emails", want.InvoiceEmails, got.InvoiceEmails)
	cmp("estimate_emails", want.EstimateEmails, got.EstimateEmails)
	cmp("credit_note_emails", want.CreditNoteEmails, got.CreditNoteEmails)
	cmp("contract_emails", want.ContractEmails, got.ContractEmails)
	cmp("task_emails", want.TaskEmails, got.TaskEmails)
	cmp("project_emails", want.ProjectEmails, got.ProjectEmails)
	cmp("ticket_emails", want.TicketEmails, got.TicketEmails)
	cmp("permissions", want.Permissions, got.Permissions)
	cmp("userid", want.UserID, got.UserID)
	cmp("active", want.Active, got.Active)
	cmp("is_primary", want.IsPrimary, got.IsPrimary)
	return strings.Join(out, "; ")
}

func validBody(id string, contact int64, d command.ContactData) []byte {
	b, err := json.Marshal(struct {
		ID        string              `json:"id"`
		Type      string              `json:"type"`
		ContactID int64               `json:"contact_id"`
		Data      command.ContactData `json:"data"`
	}{id, "contact.update", contact, d})
	if err != nil {
		panic(err)
	}
	return b
}

// invalidBody is a command the worker must dead-letter without a request:
// malformed, an unknown field, or an email the policy refuses.
func invalidBody(rng *rand.Rand, id string, contact int64) []byte {
	switch rng.IntN(3) {
	case 0:
		return fmt.Appendf(nil, `{"id":%q,"type":"contact.update","contact_id":%d,"data":{"title":5}}`, id, contact)
	case 1:
		return fmt.Appendf(nil, `{"id":%q,"type":"contact.update","contact_id":%d,"data":{"nickname":"x"}}`, id, contact)
	default:
		return fmt.Appendf(nil, `{"id":%q,"type":"contact.update","contact_id":%d,"data":{"email":"Ana <ana@example.com>"}}`, id, contact)
	}
}
