package consumer

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/perfexworker/perfex-worker/command"
)

func TestOnlyFieldsKeepsEveryField(t *testing.T) {
	t.Parallel()
	all := command.ContactData{
		UserID: command.Int64(4), FirstName: command.String("a"), LastName: command.String("b"),
		Email: command.String("c@example.com"), PhoneNumber: command.String("1"), Title: command.String("t"),
		Direction: command.String("rtl"), IsPrimary: command.Bool(true), Password: command.String("p"),
		Active: command.Bool(false), InvoiceEmails: command.Bool(true), EstimateEmails: command.Bool(true),
		CreditNoteEmails: command.Bool(true), ContractEmails: command.Bool(false), TaskEmails: command.Bool(true),
		ProjectEmails: command.Bool(false), TicketEmails: command.Bool(true), Permissions: command.Ints(1, 2),
	}
	if diff := cmp.Diff(all, onlyFields(all, all.Fields())); diff != "" {
		t.Errorf("onlyFields(all fields) (-want +got):\n%s", diff)
	}

	got := onlyFields(all, []string{"title", "ticket_emails"})
	if diff := cmp.Diff([]string{"title", "ticket_emails"}, got.Fields()); diff != "" {
		t.Errorf("fields kept (-want +got):\n%s", diff)
	}
}
