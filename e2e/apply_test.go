package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// TestMergeKeepsUnnamedFields: Perfex resets is_primary, the notification
// flags and the portal permissions a PUT leaves out; a title change must
// keep them all.
func TestMergeKeepsUnnamedFields(t *testing.T) {
	s := newStack(t, stackOptions{})

	before := s.contact(1) // primary, several flags, permissions 1-6
	if !before.IsPrimary || len(before.Permissions) == 0 || !before.InvoiceEmails {
		t.Fatalf("seed contact 1 is not a useful fixture: %+v", before)
	}

	c := update(1, map[string]any{"title": "Sócia-diretora"})
	s.publish(c)
	if o := s.waitFinal(c.id()); o.Kind != consumer.Applied {
		t.Fatalf("outcome = %+v", o)
	}

	after := s.contact(1)
	if after.Title != "Sócia-diretora" {
		t.Errorf("title = %q", after.Title)
	}
	after.Title = before.Title
	after.LastPasswordChange = before.LastPasswordChange
	if !after.IsPrimary || !slices.Equal(after.Permissions, before.Permissions) ||
		after.InvoiceEmails != before.InvoiceEmails || after.EstimateEmails != before.EstimateEmails ||
		after.CreditNoteEmails != before.CreditNoteEmails || after.ContractEmails != before.ContractEmails ||
		after.TaskEmails != before.TaskEmails || after.ProjectEmails != before.ProjectEmails ||
		after.TicketEmails != before.TicketEmails || after.Email != before.Email ||
		after.PasswordHash != before.PasswordHash || after.Active != before.Active {
		t.Errorf("fields the command did not name changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestIsPrimaryFalseUnsets: Perfex reads "is_primary": false as true
// (presence); the worker must leave the key out.
func TestIsPrimaryFalseUnsets(t *testing.T) {
	s := newStack(t, stackOptions{})

	c := update(1, map[string]any{"is_primary": false, "ticket_emails": false, "permissions": []int{2}})
	s.publish(c)
	if o := s.waitFinal(c.id()); o.Kind != consumer.Applied {
		t.Fatalf("outcome = %+v", o)
	}
	got := s.contact(1)
	if got.IsPrimary || got.TicketEmails || !slices.Equal(got.Permissions, []int{2}) {
		t.Errorf("contact 1 = primary %v, ticket_emails %v, permissions %v; want false, false, [2]",
			got.IsPrimary, got.TicketEmails, got.Permissions)
	}

	c = update(2, map[string]any{"is_primary": true})
	s.publish(c)
	s.waitFinal(c.id())
	if !s.contact(2).IsPrimary {
		t.Error("contact 2 was not made primary")
	}
}

// TestPasswordIsSet: the portal password reaches Perfex, the stored hash
// is never sent back.
func TestPasswordIsSet(t *testing.T) {
	s := newStack(t, stackOptions{})

	c := update(3, map[string]any{"password": "Portal-Pass-E2E-42"})
	s.publish(c)
	s.waitFinal(c.id())
	if !s.sim.PasswordMatches(3, "Portal-Pass-E2E-42") {
		t.Error("the new password was not stored")
	}

	before := s.contact(3).PasswordHash
	c = update(3, map[string]any{"title": "Diretora"})
	s.publish(c)
	s.waitFinal(c.id())
	if s.contact(3).PasswordHash != before {
		t.Error("an update without password changed the stored password")
	}
}

// TestRedeliveredCommandIsApplied: the PUT lands but the connection drops
// before the answer, so the worker tries again; Perfex then answers
// "nothing changed", which is applied, not a dead letter.
func TestRedeliveredCommandIsApplied(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.sim.SetFaults(perfexsim.Faults{Rate: 1, Max: 1, Methods: []string{"PUT"}, Kinds: []perfexsim.FaultKind{perfexsim.FaultResetAfterApply}})

	c := update(8, map[string]any{"title": "Head of Procurement"})
	s.publish(c)
	o := s.waitFinal(c.id())
	if o.Kind != consumer.Applied {
		t.Fatalf("outcome = %+v, want applied", o)
	}
	if _, ok := s.letterFor(c.id()); ok {
		t.Error("the command was dead-lettered")
	}
	if s.sim.Stats().Faults[perfexsim.FaultResetAfterApply] != 1 {
		t.Error("the fault did not fire: the test proves nothing")
	}
	if got := s.contact(8).Title; got != "Head of Procurement" {
		t.Errorf("title = %q", got)
	}
}

// TestHeldOnBadToken: a revoked token holds the worker: no dead letter,
// the command waits, and it is applied once the token works again.
func TestHeldOnBadToken(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.sim.SetFaults(perfexsim.Faults{Rate: 1, Kinds: []perfexsim.FaultKind{perfexsim.FaultBadToken}})

	c := update(9, map[string]any{"title": "CFO"})
	s.publish(c)
	eventually(t, "the worker to be held", func() bool { return s.cons.Status().Held })
	if s.cons.Ready() {
		t.Error("a held worker reports ready")
	}
	if st := s.cons.Status(); st.HeldReason != reason.Authentication {
		t.Errorf("held reason = %s, want authentication", st.HeldReason)
	}

	time.Sleep(300 * time.Millisecond) // let a few probes fail
	if _, ok := s.final(c.id()); ok {
		t.Fatal("a command reached a final outcome while the worker was held")
	}

	s.sim.SetFaults(perfexsim.Faults{})
	if o := s.waitFinal(c.id()); o.Kind != consumer.Applied {
		t.Fatalf("outcome after the token works again = %+v", o)
	}
	if len(s.letters()) != 0 {
		t.Error("a dead letter was stored while held")
	}
	if n := strings.Count(s.logs.String(), `"held`); n == 0 {
		t.Error("the hold was not logged")
	}
}

// TestHeldOnWrongEndpoint: an HTML 404 means the URL is wrong, not that
// the contact is missing.
func TestHeldOnWrongEndpoint(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.sim.SetFaults(perfexsim.Faults{Rate: 1, Kinds: []perfexsim.FaultKind{perfexsim.FaultHTML404}})

	c := update(10, map[string]any{"title": "CTO"})
	s.publish(c)
	eventually(t, "the worker to be held", func() bool { return s.cons.Status().Held })
	if st := s.cons.Status(); st.HeldReason != reason.WrongEndpoint {
		t.Errorf("held reason = %s, want wrong_endpoint", st.HeldReason)
	}

	s.sim.SetFaults(perfexsim.Faults{})
	if o := s.waitFinal(c.id()); o.Kind != consumer.Applied {
		t.Fatalf("outcome = %+v", o)
	}
}

// TestOutageUsesNoAttempts: with Perfex down, commands wait well past
// their attempt limit and are applied when it comes back.
func TestOutageUsesNoAttempts(t *testing.T) {
	s := newStack(t, stackOptions{maxDeliver: 2})
	if err := s.sim.SetDown(true); err != nil {
		t.Fatal(err)
	}

	var cmds []cmd
	for id := int64(1); id <= 5; id++ {
		c := update(id, map[string]any{"title": "Outage survivor"})
		cmds = append(cmds, c)
		s.publish(c)
	}
	eventually(t, "the outage to be noticed", func() bool { return s.cons.Status().Outage })
	time.Sleep(time.Second) // many retry intervals: nothing may give up

	for _, c := range cmds {
		if o, ok := s.final(c.id()); ok {
			t.Fatalf("command %s ended %s during the outage", c.id(), o.Kind)
		}
	}

	if err := s.sim.SetDown(false); err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if o := s.waitFinal(c.id()); o.Kind != consumer.Applied {
			t.Errorf("command %s = %+v after the outage", c.id(), o)
		}
	}
	if len(s.letters()) != 0 {
		t.Error("commands were dead-lettered because of an outage")
	}
}

// TestPermissionsTableForbiddenHolds: without the permissions table the
// worker would wipe permissions, so it holds instead.
func TestPermissionsTableForbiddenHolds(t *testing.T) {
	s := newStack(t, stackOptions{permissions: perfexsim.PermissionsForbidden})

	c := update(11, map[string]any{"title": "Coordinator"})
	s.publish(c)
	eventually(t, "the worker to be held", func() bool { return s.cons.Status().Held })
	perms := s.contact(11).Permissions

	s.sim.SetPermissionsTable(perfexsim.PermissionsAllowed)
	if o := s.waitFinal(c.id()); o.Kind != consumer.Applied {
		t.Fatalf("outcome = %+v", o)
	}
	if got := s.contact(11).Permissions; !slices.Equal(got, perms) {
		t.Errorf("permissions %v became %v", perms, got)
	}
}
