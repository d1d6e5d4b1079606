package command

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestValidateEmailAccepts(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "ana.souza@example.com", "ana.souza@example.com"},
		{"plus_addressing", "ana+crm@x.com", "ana+crm@x.com"},
		{"every_atext_character", "a!#$%&'*+-/=?^_`{|}~z@example.com", "a!#$%&'*+-/=?^_`{|}~z@example.com"},
		{"digits_everywhere", "123@1example.com.br", "123@1example.com.br"},
		{"hyphen_inside_label", "ana@my-host.example-1.com", "ana@my-host.example-1.com"},
		{"double_hyphen_inside_ascii_label", "ana@ab--cd.com", "ana@ab--cd.com"},
		{"case_kept", "Ana.Souza@Example.COM", "Ana.Souza@Example.COM"},
		{"one_letter_labels", "a@b.co", "a@b.co"},
		{"tld_with_digit_after_letter", "ana@example.c0m", "ana@example.c0m"},
		{"idn_domain", "ana@exemplo-ação.com.br", "ana@xn--exemplo-ao-n5a1c.com.br"},
		{"idn_domain_upper_case", "ana@EXEMPLO-AÇÃO.com.br", "ana@xn--exemplo-ao-n5a1c.com.br"},
		{"idn_keeps_ascii_label_case", "ana@ação.COM.br", "ana@xn--ao-siap.COM.br"},
		{"idn_tld", "ana@example.xn--p1ai", "ana@example.xn--p1ai"},
		{"idn_unicode_tld", "ana@пример.рф", "ana@xn--e1afmkfd.xn--p1ai"},
		{"idn_sharp_s_nontransitional", "ana@straße.de", "ana@xn--strae-oqa.de"},
		{"idn_rtl", "ana@עברית.com", "ana@xn--5dbqzzl.com"},
		{"a_label_given", "ana@xn--ao-siap.com", "ana@xn--ao-siap.com"},
		{"a_label_upper_case_kept", "ana@XN--AO-SIAP.com", "ana@XN--AO-SIAP.com"},
		{"local_part_64_bytes", strings.Repeat("a", 64) + "@x.com", strings.Repeat("a", 64) + "@x.com"},
		{"label_63_bytes", "a@" + strings.Repeat("b", 63) + ".com", "a@" + strings.Repeat("b", 63) + ".com"},
		{"total_254_bytes", longAddress(254), longAddress(254)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := ValidateEmail(tt.in)
			if err != nil {
				t.Fatalf("ValidateEmail(%q) = %v, want %q", tt.in, err, tt.want)
			}
			if got != tt.want {
				t.Errorf("ValidateEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidateEmailRefuses(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		in     string
		detail string // a part of the detail that names the problem
	}{
		{"empty", "", "is empty"},
		{"invalid_utf8", "ana@ex\xffample.com", "not valid UTF-8"},

		{"display_name", "Ana <ana@x.com>", `only the bare address ("ana@x.com")`},
		{"quoted_display_name", `"Ana Souza" <ana@x.com>`, `only the bare address ("ana@x.com")`},
		{"angle_brackets_only", "<ana@x.com>", `only the bare address ("ana@x.com")`},
		{"unparsable_angle", "ana@x.com>", "contains '<' or '>'"},
		{"comment_after", "ana@x.com(Ana)", "parentheses"},
		{"comment_before", "(Ana)ana@x.com", "parentheses"},

		{"leading_space", " ana@x.com", "starts with whitespace (U+0020)"},
		{"trailing_space", "ana@x.com ", "ends with whitespace (U+0020)"},
		{"trailing_crlf", "ana@x.com\r\n", "ends with whitespace (U+000A)"},
		{"leading_tab", "\tana@x.com", "starts with whitespace (U+0009)"},
		{"space_inside", "ana souza@x.com", "contains whitespace (U+0020) at byte 3"},
		{"crlf_inside", "ana@x.com\r\nBcc: eve@y.com", "contains whitespace (U+000D) at byte 9"},
		{"nbsp_inside", "ana\u00a0souza@x.com", "contains whitespace (U+00A0) at byte 3"},
		{"nbsp_trailing", "ana@x.com\u00a0", "ends with whitespace (U+00A0)"},
		{"ideographic_space", "ana@x\u3000y.com", "contains whitespace (U+3000)"},
		{"nul", "ana\x00@x.com", "control character U+0000 at byte 3"},
		{"nul_trailing", "ana@x.com\x00", "control character U+0000 at byte 9"},
		{"del", "ana\x7f@x.com", "control character U+007F"},
		{"c1_control", "ana@x\u0085.com", "whitespace (U+0085)"},
		{"zero_width_space", "ana@ex\u200bample.com", "invisible formatting character U+200B"},
		{"soft_hyphen", "ana@exem\u00adplo-ação.com", "invisible formatting character U+00AD"},
		{"bom", "\ufeffana@x.com", "invisible formatting character U+FEFF at byte 0"},

		{"quoted_local_part", `"ana"@x.com`, "quoted local part"},
		{"quoted_local_part_with_at", `"ana@home"@x.com`, "quoted local part"},
		{"quote_inside_local_part", `an"a@x.com`, `'"' before the @`},
		{"no_at", "ana.x.com", "has no @"},
		{"two_ats", "ana@home@x.com", "2 @ signs"},
		{"nothing_before_at", "@x.com", "nothing before the @"},
		{"nothing_after_at", "ana@", "nothing after the @"},

		{"local_leading_dot", ".ana@x.com", "local part that starts with a dot"},
		{"local_trailing_dot", "ana.@x.com", "local part that ends with a dot"},
		{"local_consecutive_dots", "ana..souza@x.com", "local part with consecutive dots"},
		{"local_comma", "ana,souza@x.com", `',' before the @`},
		{"local_backslash", `ana\souza@x.com`, `'\\' before the @`},
		{"local_square_bracket", "ana[1]@x.com", `'[' before the @`},
		{"local_non_ascii", "josé@exemplo.com.br", "non-ASCII character U+00E9 before the @"},
		{"local_part_65_bytes", strings.Repeat("a", 65) + "@x.com", "local part of 65 bytes"},

		{"domain_without_dot", "ana@localhost", `"localhost", which has no dot`},
		{"domain_leading_dot", "ana@.x.com", "domain that starts with a dot"},
		{"domain_trailing_dot", "ana@x.com.", "domain that ends with a dot"},
		{"domain_consecutive_dots", "ana@x..com", "domain with consecutive dots"},
		{"domain_only_dot", "ana@.", "domain that starts with a dot"},
		{"ipv4_literal", "ana@[192.0.2.1]", "IP address literal"},
		{"ipv6_literal", "ana@[IPv6:2001:db8::1]", "IP address literal"},
		{"ip_as_domain", "ana@192.0.2.1", `top-level domain "1", which is all digits`},
		{"numeric_tld", "ana@example.123", `top-level domain "123", which is all digits`},
		{"tld_starting_with_digit", "ana@example.1com", `"1com", which does not start with a letter`},
		{"label_leading_hyphen", "ana@-x.com", `"-x", which starts with a hyphen`},
		{"label_trailing_hyphen", "ana@x-.com", `"x-", which ends with a hyphen`},
		{"tld_trailing_hyphen", "ana@x.com-", `"com-", which ends with a hyphen`},
		{"label_underscore", "ana@my_host.com", `"my_host" with '_'`},
		{"label_64_bytes", "a@" + strings.Repeat("b", 64) + ".com", "of 64 bytes; at most 63"},
		{"total_255_bytes", longAddress(255), "is 255 bytes; at most 254"},

		{"idn_bad_a_label", "ana@xn--zzzz.com", "not a valid internationalised domain name"},
		{"a_label_trailing_hyphen", "ana@xn--abc-.com", `"xn--abc-", which ends with a hyphen`},
		{"idn_symbol", "ana@exemplo☃ação.com", "with U+2603; internationalised labels hold only letters"},
		{"idn_punctuation", "ana@exemplo¡ação.com", "with U+00A1"},
		{"idn_underscore", "ana@ação_x.com", "disallowed rune U+005F"},
		{"idn_double_hyphen", "ana@ab--cd.ação.com", `invalid label "ab--cd"`},
		{"idn_ideographic_dot", "ana@exemplo。com", `"exemplo。com", which has no dot`},
		{"idn_ideographic_dot_inside", "ana@ação。com.br", "with U+3002"},
		{"idn_full_width_ascii", "ana@ｅｘａｍｐｌｅ.com", "ASCII written in other characters"},
		{"idn_bidi_mixed", "ana@1.עברית", "not a valid internationalised domain name"},
		{"idn_label_too_long", "ana@" + strings.Repeat("ç", 60) + ".com", "at most 63 are allowed"},
		{"idn_too_long_after_conversion", "a@" + strings.Repeat("é.", 50) + "com", "once the domain is converted to ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := ValidateEmail(tt.in)
			if err == nil {
				t.Fatalf("ValidateEmail(%q) = %q, want an error saying %q", tt.in, got, tt.detail)
			}
			if got != "" {
				t.Errorf("ValidateEmail(%q) returned %q with its error, want empty", tt.in, got)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("ValidateEmail(%q) error %T is not a *ValidationError", tt.in, err)
			}
			if ve.Code != CodeInvalidEmail || ve.Field != "data.email" {
				t.Errorf("code, field = %q, %q, want %q, %q", ve.Code, ve.Field, CodeInvalidEmail, "data.email")
			}
			if !strings.Contains(ve.Detail, tt.detail) {
				t.Errorf("ValidateEmail(%q) detail = %q, want it to contain %q", tt.in, ve.Detail, tt.detail)
			}
			checkDetailPrintable(t, ve.Detail)
		})
	}
}

// TestValidateEmailDetailOmitsDisplayName checks that a refusal names the
// address but not the rest of what was sent.
func TestValidateEmailDetailOmitsDisplayName(t *testing.T) {
	t.Parallel()

	_, err := ValidateEmail(`"Segredo Pessoal" <ana@x.com>`)
	if err == nil {
		t.Fatal("display-name form accepted")
	}
	if strings.Contains(err.Error(), "Segredo") {
		t.Errorf("error %q repeats the display name", err)
	}
}

// TestValidateEmailDetailIsShort checks that a huge value does not make a
// huge error: details travel in dead-letter headers and logs.
func TestValidateEmailDetailIsShort(t *testing.T) {
	t.Parallel()

	huge := strings.Repeat("b", 10000)
	for _, in := range []string{
		"<ana@" + huge + ".com>",
		"ana@" + huge,
		"ana@" + huge + ".com",
		"ana@ação" + huge + ".com",
		"ana@ação" + strings.Repeat("☃", 5000) + ".com",
		"ana@" + strings.Repeat("ｅ", 5000) + ".com",
	} {
		_, err := ValidateEmail(in)
		if err == nil {
			t.Errorf("ValidateEmail accepted a %d-byte address", len(in))
			continue
		}
		if len(err.Error()) > 300 {
			t.Errorf("a %d-byte address gives a %d-byte error: %.120s...", len(in), len(err.Error()), err)
		}
	}
}

// longAddress returns a valid address of exactly n bytes (n >= 70).
func longAddress(n int) string {
	local := strings.Repeat("a", 64)
	rest := n - len(local) - len("@") - len(".com")
	var labels []string
	for rest > 0 {
		size := min(rest, 63)
		if rest-size == 1 {
			size-- // leave room for a label and its dot
		}
		labels = append(labels, strings.Repeat("b", size))
		rest -= size + 1
	}
	domain := strings.Join(labels, ".")
	if rest == 0 {
		// The last label took the dot's byte: lengthen it by one.
		domain += "b"
	}
	return local + "@" + domain + ".com"
}

func TestLongAddress(t *testing.T) {
	t.Parallel()

	for n := 70; n <= 300; n++ {
		if got := len(longAddress(n)); got != n {
			t.Fatalf("len(longAddress(%d)) = %d", n, got)
		}
	}
}

func checkDetailPrintable(t *testing.T, detail string) {
	t.Helper()

	for _, r := range detail {
		if r != ' ' && (unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			t.Errorf("detail %q has the unprintable character %U", detail, r)
		}
	}
}

func FuzzValidateEmail(f *testing.F) {
	for _, seed := range []string{
		"ana.souza@example.com", "ana+crm@x.com", "Ana <ana@x.com>", "<ana@x.com>",
		`"ana"@x.com`, "ana@x.com\r\n", "ana\x00@x.com", "ana\u00a0@x.com",
		"ana@localhost", "ana@x..com", ".ana@x.com", "ana@[1.2.3.4]", "ana@192.0.2.1",
		"josé@exemplo.com.br", "ana@exemplo-ação.com.br", "ana@xn--ao-siap.com",
		"ana@ｅｘａｍｐｌｅ.com", "ana@exemplo。com", "ana@1.עברית", "ana@-x.com",
		strings.Repeat("a", 65) + "@x.com", longAddress(254), longAddress(255), "@", "a@b@c",
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, in string) {
		got, err := ValidateEmail(in)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Code != CodeInvalidEmail || ve.Field != "data.email" {
				t.Fatalf("ValidateEmail(%q) error = %#v, want an invalid_email *ValidationError", in, err)
			}
			if ve.Detail == crossCheckDetail {
				t.Fatalf("ValidateEmail(%q): the rules accepted what net/mail reads differently", in)
			}
			checkDetailPrintable(t, ve.Detail)
			return
		}

		if len(got) > maxEmailLen {
			t.Errorf("ValidateEmail(%q) = %q, %d bytes", in, got, len(got))
		}
		if n := strings.Count(got, "@"); n != 1 {
			t.Errorf("ValidateEmail(%q) = %q, with %d @ signs", in, got, n)
		}
		for _, r := range got {
			if r >= utf8.RuneSelf || unicode.IsSpace(r) || unicode.IsControl(r) {
				t.Errorf("ValidateEmail(%q) = %q, with the character %U", in, got, r)
			}
		}
		again, err := ValidateEmail(got)
		if err != nil || again != got {
			t.Errorf("ValidateEmail(%q) = %q, which re-validates to %q, %v", in, got, again, err)
		}
		if isASCII(in) && got != in {
			t.Errorf("ValidateEmail(%q) = %q, changing an ASCII address", in, got)
		}
	})
}
