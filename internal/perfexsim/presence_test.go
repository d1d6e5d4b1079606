package perfexsim

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPresenceRules checks that flags count by presence and permissions by
// membership, the traps a partial update falls into.
func TestPresenceRules(t *testing.T) {
	t.Parallel()

	minimal := func(c Contact) map[string]any {
		return map[string]any{"firstname": c.FirstName, "lastname": c.LastName, "email": c.Email}
	}

	for _, tc := range []struct {
		name  string
		id    int64
		body  func(c Contact) map[string]any
		check func(t *testing.T, before, after Contact, s *Sim)
	}{
		{
			name: "without_is_primary_demotes", id: 1,
			body: func(c Contact) map[string]any { return without(fullBody(c), "is_primary") },
			check: func(t *testing.T, _, after Contact, _ *Sim) {
				if after.IsPrimary {
					t.Error("still primary")
				}
			},
		},
		{
			name: "is_primary_false_promotes", id: 2,
			body: func(c Contact) map[string]any { return with(fullBody(c), "is_primary", false) },
			check: func(t *testing.T, _, after Contact, s *Sim) {
				if !after.IsPrimary {
					t.Error("not promoted")
				}
				if c, _ := s.Contact(1); c.IsPrimary {
					t.Error("contact 1 is still primary on the same customer")
				}
				if c, _ := s.Contact(7); !c.IsPrimary {
					t.Error("another customer's primary was demoted")
				}
			},
		},
		{
			name: "is_primary_zero_promotes", id: 3,
			body: func(c Contact) map[string]any { return with(fullBody(c), "is_primary", "0") },
			check: func(t *testing.T, _, after Contact, _ *Sim) {
				if !after.IsPrimary {
					t.Error("not promoted")
				}
			},
		},
		{
			name: "is_primary_null_counts_as_absent", id: 1,
			body: func(c Contact) map[string]any { return with(fullBody(c), "is_primary", nil) },
			check: func(t *testing.T, _, after Contact, _ *Sim) {
				if after.IsPrimary {
					t.Error("null kept the contact primary")
				}
			},
		},
		{
			name: "flag_with_zero_value_is_set", id: 10,
			body: func(c Contact) map[string]any { return with(fullBody(c), "contract_emails", "0") },
			check: func(t *testing.T, _, after Contact, _ *Sim) {
				if !after.ContractEmails {
					t.Error("contract_emails not set")
				}
			},
		},
		{
			name: "minimal_body_clears_flags_and_permissions", id: 7,
			body: minimal,
			check: func(t *testing.T, before, after Contact, _ *Sim) {
				want := before.clone()
				want.IsPrimary = false
				want.InvoiceEmails, want.EstimateEmails, want.CreditNoteEmails = false, false, false
				want.ContractEmails, want.TaskEmails, want.ProjectEmails = false, false, false
				want.TicketEmails = false
				want.Permissions = []int{}
				if diff := cmp.Diff(want, after); diff != "" {
					t.Errorf("contact (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "permissions_replaced", id: 1,
			body: func(c Contact) map[string]any { return with(fullBody(c), "permissions", []string{"5", "1"}) },
			check: func(t *testing.T, _, after Contact, _ *Sim) {
				if diff := cmp.Diff([]int{1, 5}, after.Permissions); diff != "" {
					t.Errorf("permissions (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "permissions_numbers_and_unknown_ids", id: 1,
			body: func(c Contact) map[string]any {
				return with(fullBody(c), "permissions", []any{2, "9", "x", "2"})
			},
			check: func(t *testing.T, _, after Contact, _ *Sim) {
				if diff := cmp.Diff([]int{2}, after.Permissions); diff != "" {
					t.Errorf("permissions (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "permissions_empty_array_removes_all", id: 1,
			body: func(c Contact) map[string]any { return with(fullBody(c), "permissions", []string{}) },
			check: func(t *testing.T, _, after Contact, _ *Sim) {
				if len(after.Permissions) != 0 {
					t.Errorf("permissions = %v, want none", after.Permissions)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, Options{Seed: true})
			before := f.mustContact(t, tc.id)

			a := f.put(t, tc.id, tc.body(before))

			if a.status != http.StatusOK {
				t.Fatalf("status = %d, want 200: %s", a.status, a.body)
			}
			tc.check(t, before, f.mustContact(t, tc.id), f.sim)
		})
	}
}

func TestPasswordUpdate(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true, PasswordCost: 4})
	before := f.mustContact(t, 2)

	a := f.put(t, 2, with(fullBody(before), "password", "nova-senha-123"))

	if a.status != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", a.status, a.body)
	}
	after := f.mustContact(t, 2)
	if !f.sim.PasswordMatches(2, "nova-senha-123") || f.sim.PasswordMatches(2, SeedPassword(2)) {
		t.Error("the new password is not the stored one")
	}
	if after.LastPasswordChange.IsZero() || after.Password != "" {
		t.Errorf("LastPasswordChange = %v, Password = %q", after.LastPasswordChange, after.Password)
	}
	if row := f.get(t, 2); strings.Contains(string(row.body), "nova-senha-123") {
		t.Error("GET sent the plain password")
	}

	// The same password again changes nothing.
	a = f.put(t, 2, with(fullBody(after), "password", "nova-senha-123"))
	if a.status != http.StatusNotFound {
		t.Errorf("same password: status = %d, want 404: %s", a.status, a.body)
	}

	// An empty password keeps the stored one.
	a = f.put(t, 2, with(fullBody(after), "password", ""))
	if a.status != http.StatusNotFound || !f.sim.PasswordMatches(2, "nova-senha-123") {
		t.Errorf("empty password: status = %d, want 404 and the password kept", a.status)
	}
}

func TestMoveToCustomer(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})

	a := f.put(t, 3, with(fullBody(f.mustContact(t, 3)), "userid", 7, "is_primary", "on"))

	if a.status != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", a.status, a.body)
	}
	if c := f.mustContact(t, 3); c.UserID != 7 || !c.IsPrimary {
		t.Errorf("userid = %d, primary = %v; want 7, true", c.UserID, c.IsPrimary)
	}
	if c := f.mustContact(t, 1); !c.IsPrimary {
		t.Error("the old customer's primary was demoted")
	}
}

func TestOwnEmailIsNotADuplicate(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})

	a := f.put(t, 9, with(fullBody(f.mustContact(t, 9)), "email", "chloe.bennett@example.com"))

	if a.status != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", a.status, a.body)
	}
	if c := f.mustContact(t, 9); c.Email != "chloe.bennett@example.com" {
		t.Errorf("email = %q", c.Email)
	}
}

func TestDeletedContact(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})
	body := fullBody(f.mustContact(t, 4))

	if !f.sim.DeleteContact(4) {
		t.Fatal("DeleteContact(4) = false")
	}

	if a := f.put(t, 4, body); a.status != http.StatusConflict {
		t.Errorf("PUT status = %d, want 409", a.status)
	}
	if a := f.get(t, 4); a.status != http.StatusNotFound {
		t.Errorf("GET status = %d, want 404", a.status)
	}
}

// TestEmailFreedAndTaken follows an address through the uniqueness index:
// freed when its contact moves to another or is deleted, taken (without
// regard to case) by whoever holds it now.
func TestEmailFreedAndTaken(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})
	first := f.mustContact(t, 2).Email

	if a := f.put(t, 2, with(fullBody(f.mustContact(t, 2)), "email", "moved.away@example.com")); a.status != http.StatusOK {
		t.Fatalf("moving contact 2 away: status %d: %s", a.status, a.body)
	}
	if a := f.put(t, 9, with(fullBody(f.mustContact(t, 9)), "email", strings.ToUpper(first))); a.status != http.StatusOK {
		t.Fatalf("taking the freed address: status %d: %s", a.status, a.body)
	}
	if a := f.put(t, 3, with(fullBody(f.mustContact(t, 3)), "email", "Moved.Away@Example.com")); a.status != http.StatusConflict {
		t.Errorf("taking contact 2's new address: status %d, want 409: %s", a.status, a.body)
	}
	if !f.sim.DeleteContact(2) {
		t.Fatal("DeleteContact(2) = false")
	}
	if a := f.put(t, 3, with(fullBody(f.mustContact(t, 3)), "email", "moved.away@example.com")); a.status != http.StatusOK {
		t.Errorf("taking a deleted contact's address: status %d: %s", a.status, a.body)
	}
}
