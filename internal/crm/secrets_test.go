package crm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/perfexworker/perfex-worker/command"
)

// secretSpellings are the ways the token and the password can appear in
// a reply: raw, as Go's JSON encoder writes them, and as PHP's does.
func secretSpellings() []string {
	var out []string
	for _, s := range []string{testToken, testPassword} {
		out = append(out, s, goJSONEscape(s), phpJSONEscape(s))
	}
	return out
}

// leaks returns what an error exposes to logs and dead letters.
func leaks(err error) []string {
	out := []string{err.Error()}
	var (
		pe *PermanentError
		te *TransientError
		he *HeldError
	)
	switch {
	case errors.As(err, &pe):
		out = append(out, pe.Message, pe.Excerpt)
		for k, v := range pe.FieldErrors {
			out = append(out, k, v)
		}
	case errors.As(err, &te):
		out = append(out, te.Excerpt)
	case errors.As(err, &he):
		out = append(out, he.Message, he.Excerpt)
	}
	return out
}

func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	// Replies that echo the secrets in every spelling and place.
	echo := `{"status":false,"message":"password ` + phpJSONEscape(testPassword) + ` rejected for token ` + testToken + `",` +
		`"errors":{"password":"` + goJSONEscape(testPassword) + ` is weak","authtoken":"` + testToken + `"},` +
		`"debug":{"password":"` + phpJSONEscape(testPassword) + `","request":"authtoken: ` + testToken + `"}}`
	page := "<html><body>\n<pre>authtoken=" + testToken + "\npassword=" + testPassword + "</pre></body></html>"

	replies := map[string]canned{
		"echo_422":   jsonReply(422, echo),
		"echo_409":   jsonReply(409, echo),
		"echo_400":   jsonReply(400, echo),
		"echo_401":   jsonReply(401, echo),
		"echo_403":   jsonReply(403, echo),
		"echo_406":   jsonReply(406, echo),
		"echo_429":   jsonReply(429, echo),
		"echo_500":   jsonReply(500, echo),
		"echo_200":   jsonReply(200, echo),
		"page_404":   htmlReply(404, page),
		"page_502":   htmlReply(502, page),
		"redirect":   {status: 302, header: map[string]string{"Location": "/login?authtoken=" + testToken}},
		"limit_401":  jsonReply(401, `{"status":false,"message":"limit reached for `+testToken+`"}`),
		"unchanged":  jsonReply(404, `{"status":false,"message":"Client Update Fail. `+testPassword+`"}`),
		"long_echo":  jsonReply(422, `{"status":false,"message":"`+strings.Repeat("x ", 200)+testPassword+`"}`),
		"early_echo": jsonReply(400, `{"password":"`+testPassword+`","status":false}`),
	}
	data := command.ContactData{Title: ptr("Diretora"), Password: ptr(testPassword)}

	for name, reply := range replies {
		for _, route := range []string{"PUT " + contact12, "GET " + contact12} {
			t.Run(route[:3]+"/"+name, func(t *testing.T) {
				t.Parallel()
				f := newFake(t).standard().on(route, reply)
				if name == "unchanged" && route[0] == 'P' {
					// The re-read differs, so the 404 becomes an error.
					f.on("GET "+contact12, jsonReply(200, storedRow))
				}

				_, err := newTestClient(t, f).Update(context.Background(), 12, data)
				if err == nil {
					t.Fatal("applied; every reply here is a failure")
				}
				for _, text := range leaks(err) {
					for _, s := range secretSpellings() {
						if strings.Contains(text, s) {
							t.Errorf("%q contains a secret (%q)", text, s)
						}
					}
					if strings.Contains(text, "s3cret") || strings.Contains(text, "tok-9f8e") {
						t.Errorf("%q contains part of a secret", text)
					}
				}
			})
		}
	}
}

func TestSecretsExcerpt(t *testing.T) {
	t.Parallel()
	m := newMasker(testToken, ptr(testPassword))

	for _, tt := range []struct {
		name string
		body string
		want string
	}{
		{"single_line", "<html>\r\n<body>\n\tBad   Gateway\r\n</body></html>\r\n", "<html> <body> Bad Gateway </body></html>"},
		{"hash_masked", `{"password":"$2y$08$abc\"def","x":1}`, `{"password":"***","x":1}`},
		{"reset_key_masked", `{"new_pass_key": "abc", "id":"1"}`, `{"new_pass_key": "***", "id":"1"}`},
		{"token_masked", "token " + testToken + " refused", "token *** refused"},
		{"password_php_masked", `{"m":"` + phpJSONEscape(testPassword) + `"}`, `{"m":"***"}`},
		{"cut_value_masked", `{"password":"$2y$08$ab`, `{"password":"***"`},
		{"invalid_utf8", "a\xffb", "a\uFFFDb"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := excerpt([]byte(tt.body), m); got != tt.want {
				t.Errorf("excerpt = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("at_most_300_bytes", func(t *testing.T) {
		t.Parallel()
		got := excerpt([]byte(strings.Repeat("é", 1000)), m)
		if len(got) > excerptMax || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
			t.Errorf("len %d, valid %v: %q", len(got), utf8.ValidString(got), got)
		}
	})

	t.Run("secret_across_the_window", func(t *testing.T) {
		t.Parallel()
		for cut := 1; cut < len(testToken); cut++ {
			body := strings.Repeat(" ", excerptWindow-cut) + testToken + " tail"
			got := excerpt([]byte(body), m)
			if strings.Contains(got, testToken[:cut]) && cut > 3 {
				t.Errorf("cut %d: excerpt %q keeps part of the token", cut, got)
			}
		}
	})
}
