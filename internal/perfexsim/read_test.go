package perfexsim

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGetContactRow(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})

	a := f.get(t, 1)

	if a.status != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}

	row := a.json(t)
	wantKeys := []string{
		"active", "contract_emails", "credit_note_emails", "datecreated", "direction",
		"email", "email_verification_key", "email_verification_sent_at", "email_verified_at",
		"estimate_emails", "firstname", "id", "invoice_emails", "is_primary", "last_ip",
		"last_login", "last_password_change", "lastname", "new_pass_key",
		"new_pass_key_requested", "password", "phonenumber", "profile_image",
		"project_emails", "task_emails", "ticket_emails", "title", "userid",
	}
	gotKeys := slices.Sorted(func(yield func(string) bool) {
		for k := range row {
			if !yield(k) {
				return
			}
		}
	})
	if diff := cmp.Diff(wantKeys, gotKeys); diff != "" {
		t.Errorf("row keys (-want +got):\n%s", diff)
	}

	for k, v := range row {
		if _, ok := v.(string); !ok && v != nil {
			t.Errorf("%s = %#v, want a string or null", k, v)
		}
	}

	want := map[string]any{
		"id": "1", "userid": "1", "is_primary": "1", "firstname": "Ana", "lastname": "Souza",
		"email": "ana.souza@example.com.br", "active": "1", "direction": "",
		"invoice_emails": "1", "contract_emails": "0", "new_pass_key": nil,
	}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s = %#v, want %#v", k, row[k], v)
		}
	}

	hash, _ := row["password"].(string)
	if !strings.HasPrefix(hash, "$2y$08$") || strings.Contains(string(a.body), SeedPassword(1)) {
		t.Errorf("password = %q, want a bcrypt hash and never the plain password", hash)
	}
}

func TestGetContactMissing(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})

	for _, tc := range []struct{ name, path string }{
		{"absent", "/contacts/9999"},
		{"zero", "/contacts/0"},
		{"not_a_number", "/contacts/abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			a := f.do(t, request{method: http.MethodGet, path: tc.path})

			if a.status != http.StatusNotFound {
				t.Fatalf("status = %d, want 404", a.status)
			}
			want := `{"status":false,"message":"No data were found"}`
			if string(a.body) != want {
				t.Errorf("body = %s, want %s", a.body, want)
			}
		})
	}
}

func TestPermissionsTable(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name       string
		opts       Options
		wantStatus int
		wantBody   string
	}{
		{"allowed", Options{Seed: true}, http.StatusOK, ""},
		{"empty", Options{}, http.StatusNotFound,
			`{"status":false,"message":"No data were found"}`},
		{"forbidden", Options{Seed: true, PermissionsTable: PermissionsForbidden},
			http.StatusForbidden, `{"status":false,"message":"Access to this table is not allowed"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, tc.opts)

			a := f.do(t, request{method: http.MethodGet, path: "/thirdparty/customtable/contact_permissions"})

			if a.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", a.status, tc.wantStatus, a.body)
			}
			if tc.wantBody != "" && string(a.body) != tc.wantBody {
				t.Errorf("body = %s, want %s", a.body, tc.wantBody)
			}
		})
	}
}

func TestPermissionsTableRows(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{})
	f.sim.PutContact(Contact{ID: 12, UserID: 3, FirstName: "Ana", LastName: "Souza",
		Email: "ana@example.com", Permissions: []int{5, 2}})
	f.sim.PutContact(Contact{ID: 13, UserID: 3, FirstName: "Bia", LastName: "Lima",
		Email: "bia@example.com", Permissions: []int{1}})

	rows := func() string {
		a := f.do(t, request{method: http.MethodGet, path: "/thirdparty/customtable/contact_permissions"})
		return string(a.body)
	}

	want := `[{"id":"1","permission_id":"2","userid":"12"},` +
		`{"id":"2","permission_id":"5","userid":"12"},` +
		`{"id":"3","permission_id":"1","userid":"13"}]`
	if got := rows(); got != want {
		t.Fatalf("rows = %s, want %s", got, want)
	}

	// Removing one permission and adding another keeps the surviving row.
	c := f.mustContact(t, 12)
	c.Permissions = []int{5, 6}
	if a := f.put(t, 12, fullBody(c)); a.status != http.StatusOK {
		t.Fatalf("PUT status = %d: %s", a.status, a.body)
	}

	want = `[{"id":"2","permission_id":"5","userid":"12"},` +
		`{"id":"3","permission_id":"1","userid":"13"},` +
		`{"id":"4","permission_id":"6","userid":"12"}]`
	if got := rows(); got != want {
		t.Errorf("rows after update = %s, want %s", got, want)
	}

	// The mode can change while the simulator runs.
	f.sim.SetPermissionsTable(PermissionsForbidden)
	a := f.do(t, request{method: http.MethodGet, path: "/thirdparty/customtable/contact_permissions"})
	if a.status != http.StatusForbidden {
		t.Errorf("status after SetPermissionsTable = %d, want 403", a.status)
	}
}

func TestUnknownPathIsHTML404(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})

	for _, tc := range []struct{ name, path string }{
		{"unknown_resource", "/api/customers/1"},
		{"contacts_without_id", "/api/contacts"},
		{"nested", "/api/contacts/1/notes"},
		{"outside_api", "/index.php"},
		{"root", "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			a := f.do(t, request{method: http.MethodGet, rootPath: tc.path})

			if a.status != http.StatusNotFound {
				t.Fatalf("status = %d, want 404", a.status)
			}
			if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type = %q, want text/html", ct)
			}
			if a.header.Get("X-RateLimit-Reset") == "" {
				t.Error("HTML page without X-RateLimit-Reset")
			}
		})
	}
}

func TestUnknownMethod(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})

	a := f.do(t, request{method: http.MethodDelete, path: contactPath(1)})

	if a.status != http.StatusMethodNotAllowed {
		t.Fatalf("status = %d, want 405", a.status)
	}
	if _, ok := f.sim.Contact(1); !ok {
		t.Error("DELETE removed the contact")
	}
}
