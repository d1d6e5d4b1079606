package crm

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/perfexworker/perfex-worker/command"
)

// storedPut is the PUT that writes contact 12 back unchanged, with its
// permissions from permissionRows.
func storedPut() map[string]any {
	return map[string]any{
		"firstname":          "Ana",
		"lastname":           "Souza",
		"email":              "ana.souza@example.com",
		"title":              "Gerente",
		"phonenumber":        "+55 11 90000-0000",
		"direction":          "",
		"userid":             "3",
		"active":             "1",
		"is_primary":         "on",
		"invoice_emails":     "invoice_emails",
		"estimate_emails":    "estimate_emails",
		"credit_note_emails": "credit_note_emails",
		"project_emails":     "project_emails",
		"ticket_emails":      "ticket_emails",
		"permissions":        []any{"1", "5"},
	}
}

func TestMergeSendsFullSet(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		data command.ContactData
		edit func(want map[string]any)
	}{
		{"title_keeps_the_rest", command.ContactData{Title: ptr("Diretora")}, func(w map[string]any) {
			w["title"] = "Diretora"
		}},
		{"is_primary_false_omits_the_key", command.ContactData{IsPrimary: ptr(false)}, func(w map[string]any) {
			delete(w, "is_primary")
		}},
		{"is_primary_true_is_on", command.ContactData{IsPrimary: ptr(true)}, func(map[string]any) {}},
		{"flags_by_presence", command.ContactData{InvoiceEmails: ptr(false), TaskEmails: ptr(true)}, func(w map[string]any) {
			delete(w, "invoice_emails")
			w["task_emails"] = "task_emails"
		}},
		{"inactive_is_zero", command.ContactData{Active: ptr(false)}, func(w map[string]any) {
			w["active"] = "0"
		}},
		{"move_to_customer", command.ContactData{UserID: ptr(int64(456))}, func(w map[string]any) {
			w["userid"] = "456"
		}},
		{"permissions_replace", command.ContactData{Permissions: &[]int{6, 2, 6}}, func(w map[string]any) {
			w["permissions"] = []any{"2", "6"}
		}},
		{"permissions_removed", command.ContactData{Permissions: &[]int{}}, func(w map[string]any) {
			w["permissions"] = []any{}
		}},
		{"password_from_the_command", command.ContactData{Password: ptr(testPassword)}, func(w map[string]any) {
			w["password"] = testPassword
		}},
		{"every_field", command.ContactData{
			UserID: ptr(int64(4)), FirstName: ptr("Bia"), LastName: ptr("Lima"),
			Email: ptr("bia@example.com"), PhoneNumber: ptr("+1"), Title: ptr("CTO"),
			Direction: ptr("rtl"), IsPrimary: ptr(false), Active: ptr(false),
			InvoiceEmails: ptr(false), EstimateEmails: ptr(false), CreditNoteEmails: ptr(false),
			ContractEmails: ptr(true), TaskEmails: ptr(true), ProjectEmails: ptr(false),
			TicketEmails: ptr(false), Permissions: &[]int{3},
		}, func(w map[string]any) {
			clear(w)
			for k, v := range map[string]any{
				"firstname": "Bia", "lastname": "Lima", "email": "bia@example.com",
				"title": "CTO", "phonenumber": "+1", "direction": "rtl", "userid": "4",
				"active": "0", "contract_emails": "contract_emails", "task_emails": "task_emails",
				"permissions": []any{"3"},
			} {
				w[k] = v
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t).standard()

			if _, err := newTestClient(t, f).Update(context.Background(), 12, tt.data); err != nil {
				t.Fatal(err)
			}
			want := storedPut()
			tt.edit(want)
			if diff := cmp.Diff(want, f.lastPut(t)); diff != "" {
				t.Errorf("PUT body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMergeNeverSendsStoredHash(t *testing.T) {
	t.Parallel()
	f := newFake(t).standard()

	if _, err := newTestClient(t, f).Update(context.Background(), 12, titleOnly); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.requests() {
		if bytes.Contains(r.body, []byte("$2y$")) || bytes.Contains(r.body, []byte(`"password"`)) {
			t.Errorf("%s %s sends a password: %s", r.method, r.path, r.body)
		}
	}
}

func TestMergeTokenOnlyInHeader(t *testing.T) {
	t.Parallel()
	f := newFake(t).standard()

	if _, err := newTestClient(t, f).Update(context.Background(), 12, command.ContactData{Password: ptr(testPassword)}); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.requests() {
		if strings.Contains(r.path+"?"+r.rawQuery, testToken) || bytes.Contains(r.body, []byte(testToken)) {
			t.Errorf("%s %s carries the token outside the authtoken header", r.method, r.path)
		}
		if strings.Contains(r.path+"?"+r.rawQuery, "s3cret") {
			t.Errorf("%s %s carries the password in the URL", r.method, r.path)
		}
	}
}

func TestMergePermissionsSource(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name      string
		source    string
		data      command.ContactData
		wantPerms any // nil: no permissions key
		wantTable bool
	}{
		{"customtable_reads_the_table", PermissionsCustomTable, titleOnly, []any{"1", "5"}, true},
		{"customtable_command_wins", PermissionsCustomTable,
			command.ContactData{Permissions: &[]int{4}}, []any{"4"}, false},
		// Perfex then removes every portal permission of the contact; this
		// is what PermissionsCommand means.
		{"command_without_permissions", PermissionsCommand, titleOnly, nil, false},
		{"command_with_permissions", PermissionsCommand,
			command.ContactData{Permissions: &[]int{5, 1}}, []any{"1", "5"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t).standard()
			c := newTestClient(t, f, func(c *Config) { c.PermissionsSource = tt.source })

			res, err := c.Update(context.Background(), 12, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			put := f.lastPut(t)
			got, present := put["permissions"]
			if tt.wantPerms == nil && present {
				t.Errorf("permissions sent: %v", got)
			}
			if diff := cmp.Diff(tt.wantPerms, got); tt.wantPerms != nil && diff != "" {
				t.Errorf("permissions (-want +got):\n%s", diff)
			}
			readTable := false
			for _, r := range f.requests() {
				readTable = readTable || r.path == "/api"+permsPath
			}
			if readTable != tt.wantTable {
				t.Errorf("table read = %v, want %v", readTable, tt.wantTable)
			}
			if want := map[bool]int{true: 3, false: 2}[tt.wantTable]; res.Requests != want {
				t.Errorf("Requests = %d, want %d", res.Requests, want)
			}
		})
	}
}

func TestMergeUnit(t *testing.T) {
	t.Parallel()
	stored, err := parseContact([]byte(storedRow))
	if err != nil {
		t.Fatal(err)
	}

	m := merge(stored, []int{5, 1}, command.ContactData{Email: ptr("new@example.com"), ProjectEmails: ptr(false)})
	raw, err := json.Marshal(m.body())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := storedPut()
	want["email"] = "new@example.com"
	delete(want, "project_emails")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	if field, ok := holds(stored, command.ContactData{Email: ptr("ANA.SOUZA@example.com"), Title: ptr("Gerente")}); !ok {
		t.Errorf("holds: differs in %s", field)
	}
	if field, ok := holds(stored, command.ContactData{ContractEmails: ptr(true)}); ok || field != "contract_emails" {
		t.Errorf("holds = %q, %v; want contract_emails, false", field, ok)
	}
}

func TestMergeUnknownContactColumns(t *testing.T) {
	t.Parallel()
	// A future Perfex adds columns; nulls stand for empty values.
	row := strings.Replace(storedRow, `"title":"Gerente"`, `"title":null,"pronouns":"she/her","custom":{"a":[1,2]}`, 1)
	f := newFake(t).standard().on("GET "+contact12, jsonReply(http.StatusOK, row))

	if _, err := newTestClient(t, f).Update(context.Background(), 12, command.ContactData{LastName: ptr("Lima")}); err != nil {
		t.Fatal(err)
	}
	put := f.lastPut(t)
	if put["title"] != "" || put["lastname"] != "Lima" {
		t.Errorf("title = %q, lastname = %q", put["title"], put["lastname"])
	}
}
