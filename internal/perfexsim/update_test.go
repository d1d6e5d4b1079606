package perfexsim

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUpdateAnswers covers every row of the update table of
// docs/perfex-wire.md.
func TestUpdateAnswers(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name        string
		flavor      Flavor
		id          int64
		body        func(c Contact) any
		contentType string
		wantStatus  int
		wantBody    string
	}{
		{
			name: "updated", id: 2,
			body:       func(c Contact) any { return with(fullBody(c), "title", "Gerente de Compras") },
			wantStatus: http.StatusOK,
			wantBody:   `{"status":true,"message":"Contact Updated Successfully."}`,
		},
		{
			name: "read_only_refused", id: 17,
			body:       func(c Contact) any { return with(fullBody(c), "title", "Outra") },
			wantStatus: http.StatusOK,
			wantBody:   `{"status":false,"message":"Contact Update Fail."}`,
		},
		{
			name: "nothing_changed", id: 2,
			body:       func(c Contact) any { return fullBody(c) },
			wantStatus: http.StatusNotFound,
			wantBody:   `{"status":false,"message":"Client Update Fail."}`,
		},
		{
			name: "no_such_contact", id: 9999,
			body: func(Contact) any {
				return map[string]any{"firstname": "A", "lastname": "B", "email": "a.b@example.com"}
			},
			wantStatus: http.StatusConflict,
			wantBody:   `{"status":false,"message":"Contact not found"}`,
		},
		{
			name: "duplicate_email", id: 2,
			body:       func(c Contact) any { return with(fullBody(c), "email", "ana.souza@example.com.br") },
			wantStatus: http.StatusConflict,
			wantBody: `{"status":false,"message":"Email already exists",` +
				`"error":{"email":"This Email is already in use"}}`,
		},
		{
			name: "duplicate_email_legacy", flavor: FlavorLegacy, id: 2,
			body:       func(c Contact) any { return with(fullBody(c), "email", "ANA.SOUZA@example.com.br") },
			wantStatus: http.StatusConflict,
			wantBody: `{"status":false,"message":"Email already exists",` +
				`"error":{"email":"This Email is already in use"}}`,
		},
		{
			name: "invalid_v3", id: 2,
			body:       func(c Contact) any { return with(fullBody(c), "email", "not-an-address") },
			wantStatus: http.StatusUnprocessableEntity,
			wantBody: `{"status":false,"error":"validation_failed","message":"Validation failed",` +
				`"errors":{"email":"The Email field must contain a valid email address."}}`,
		},
		{
			name: "invalid_legacy", flavor: FlavorLegacy, id: 2,
			body:       func(c Contact) any { return with(fullBody(c), "email", "not-an-address") },
			wantStatus: http.StatusBadRequest,
			wantBody:   `{"status":false,"message":"The Email field must contain a valid email address."}`,
		},
		{
			name: "locked", id: 16,
			body:       func(c Contact) any { return with(fullBody(c), "title", "Outro") },
			wantStatus: http.StatusConflict,
			wantBody:   `{"status":false,"message":"Record was modified by another user"}`,
		},
		{
			name: "multipart_refused", id: 2, contentType: "multipart/form-data; boundary=x",
			body: func(Contact) any {
				return "--x\r\nContent-Disposition: form-data; name=\"firstname\"\r\n\r\nBia\r\n--x--\r\n"
			},
			wantStatus: http.StatusNotAcceptable,
			wantBody:   `{"status":false,"message":"Not Acceptable"}`,
		},
		{
			name: "urlencoded_refused", id: 2, contentType: "application/x-www-form-urlencoded",
			body:       func(Contact) any { return "firstname=Bia&lastname=Lima&email=bia%40example.com" },
			wantStatus: http.StatusNotAcceptable,
			wantBody:   `{"status":false,"message":"Not Acceptable"}`,
		},
		{
			name: "empty_json_object_refused", id: 2,
			body:       func(Contact) any { return map[string]any{} },
			wantStatus: http.StatusNotAcceptable,
			wantBody:   `{"status":false,"message":"Not Acceptable"}`,
		},
		{
			name: "invalid_json_refused", id: 2,
			body:       func(Contact) any { return `{"firstname":` },
			wantStatus: http.StatusNotAcceptable,
			wantBody:   `{"status":false,"message":"Not Acceptable"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, Options{Seed: true, Flavor: tc.flavor})
			before, _ := f.sim.Contact(tc.id)

			a := f.do(t, request{method: http.MethodPut, path: contactPath(tc.id),
				body: tc.body(before), contentType: tc.contentType})

			if a.status != tc.wantStatus || string(a.body) != tc.wantBody {
				t.Fatalf("got %d %s\nwant %d %s", a.status, a.body, tc.wantStatus, tc.wantBody)
			}
			if a.header.Get("X-RateLimit-Remaining") == "" {
				t.Error("answer without X-RateLimit-Remaining")
			}

			after, _ := f.sim.Contact(tc.id)
			changed := !after.sameStored(before)
			if wantChange := tc.wantStatus == http.StatusOK && tc.name == "updated"; changed != wantChange {
				t.Errorf("contact changed = %v, want %v", changed, wantChange)
			}
			if got, want := f.sim.Stats().Applied, btoi(changed); got != want {
				t.Errorf("Stats.Applied = %d, want %d", got, want)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestUpdateValidation(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name       string
		change     func(map[string]any) map[string]any
		wantErrors map[string]string
	}{
		{"missing_firstname", func(b map[string]any) map[string]any { return without(b, "firstname") },
			map[string]string{"firstname": "The First Name field is required."}},
		{"blank_lastname", func(b map[string]any) map[string]any { return with(b, "lastname", "  ") },
			map[string]string{"lastname": "The Last Name field is required."}},
		{"missing_email", func(b map[string]any) map[string]any { return without(b, "email") },
			map[string]string{"email": "The Email field is required."}},
		{"null_email", func(b map[string]any) map[string]any { return with(b, "email", nil) },
			map[string]string{"email": "The Email field is required."}},
		{"bad_email", func(b map[string]any) map[string]any { return with(b, "email", "a@b") },
			map[string]string{"email": "The Email field must contain a valid email address."}},
		{"bad_direction", func(b map[string]any) map[string]any { return with(b, "direction", "up") },
			map[string]string{"direction": "The Direction field must be one of: ltr,rtl."}},
		{"unknown_customer", func(b map[string]any) map[string]any { return with(b, "userid", "99") },
			map[string]string{"userid": msgNoSuchCustomer}},
		{"bad_active", func(b map[string]any) map[string]any { return with(b, "active", "yes") },
			map[string]string{"active": "The Active field must be 1 or 0."}},
		{"permissions_not_array", func(b map[string]any) map[string]any { return with(b, "permissions", "1") },
			map[string]string{"permissions": "The Permissions field must be an array of permission ids."}},
		{"several", func(b map[string]any) map[string]any {
			return with(without(b, "firstname"), "email", "x", "userid", "0")
		}, map[string]string{
			"firstname": "The First Name field is required.",
			"email":     "The Email field must contain a valid email address.",
			"userid":    msgNoSuchCustomer,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, Options{Seed: true})
			before := f.mustContact(t, 3)

			a := f.put(t, 3, tc.change(with(fullBody(before), "title", "Nova")))

			if a.status != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422: %s", a.status, a.body)
			}
			got := map[string]string{}
			for k, v := range a.json(t)["errors"].(map[string]any) {
				got[k] = v.(string)
			}
			if diff := cmp.Diff(tc.wantErrors, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if after := f.mustContact(t, 3); !after.sameStored(before) {
				t.Error("an invalid update changed the contact")
			}
		})
	}
}

func TestUpdateLegacyReportsFirstError(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true, Flavor: FlavorLegacy})

	body := with(without(fullBody(f.mustContact(t, 3)), "lastname"), "email", "x")
	a := f.put(t, 3, body)

	want := `{"status":false,"message":"The Last Name field is required."}`
	if a.status != http.StatusBadRequest || string(a.body) != want {
		t.Errorf("got %d %s, want 400 %s", a.status, a.body, want)
	}
}
