package perfexsim

import "testing"

func TestValidEmail(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name string
		addr string
		want bool
	}{
		{"plain", "ana.souza@example.com.br", true},
		{"plus_tag", "ana+crm@example.com", true},
		{"capitals", "Chloe.Bennett@Example.COM", true},
		{"hyphenated_domain", "x@mail-01.example.com", true},
		{"no_at", "ana.example.com", false},
		{"two_ats", "a@b@example.com", false},
		{"single_label_domain", "a@localhost", false},
		{"numeric_tld", "a@example.123", false},
		{"empty_local", "@example.com", false},
		{"leading_dot", ".a@example.com", false},
		{"double_dot", "a..b@example.com", false},
		{"space", "a b@example.com", false},
		{"display_name", "Ana <ana@example.com>", false},
		{"non_ascii", "joão@example.com.br", false},
		{"hyphen_edge", "a@-example.com", false},
		{"empty_label", "a@example..com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			if got := validEmail(tc.addr); got != tc.want {
				t.Errorf("validEmail(%q) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}

func TestMatchRoute(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name, path string
		want       route
	}{
		{"contact", "/api/contacts/12", route{name: RouteContact, id: 12}},
		{"contact_trailing_slash", "/api/contacts/12/", route{name: RouteContact, id: 12}},
		{"contact_not_a_number", "/api/contacts/x1", route{name: RouteContact}},
		{"contact_negative", "/api/contacts/-3", route{name: RouteContact}},
		{"permissions", RoutePermissions, route{name: RoutePermissions}},
		{"contacts_list", "/api/contacts", route{name: RouteOther}},
		{"nested", "/api/contacts/1/x", route{name: RouteOther}},
		{"no_api_prefix", "/contacts/1", route{name: RouteOther}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			if got := matchRoute(tc.path); got != tc.want {
				t.Errorf("matchRoute(%q) = %+v, want %+v", tc.path, got, tc.want)
			}
		})
	}
}

// FuzzReadUpdate checks that no body makes the form reader panic.
func FuzzReadUpdate(f *testing.F) {
	f.Add([]byte(`{"firstname":"Ana","lastname":"Souza","email":"a@example.com","permissions":["1",2]}`))
	f.Add([]byte(`{"is_primary":false,"userid":[1],"active":{"x":1}}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`null`))

	f.Fuzz(func(t *testing.T, body []byte) {
		form, ok := decodeForm(body)
		if !ok {
			return
		}

		u := readUpdate(form)
		if len(u.errs) == 0 && (u.firstName == "" || u.lastName == "" || !validEmail(u.email)) {
			t.Errorf("no errors for %s", body)
		}
	})
}
