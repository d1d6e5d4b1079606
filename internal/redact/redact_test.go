package redact

import (
	"bytes"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{"token", "GET failed with authtoken abcd1234", []string{"abcd1234"}, "GET failed with authtoken ***"},
		{"every_occurrence", "x abcd1234 y abcd1234", []string{"abcd1234"}, "x *** y ***"},
		{"short_secret_ignored", "a b c", []string{"a"}, "a b c"},
		{"json_password", `{"title":"x","password":"hunter22"}`, nil, `{"title":"x","password":"***"}`},
		{"json_password_escaped_quote", `{"password":"a\"b"}`, nil, `{"password":"***"}`},
		{"json_password_spaces", `{"password" :  "pw"}`, nil, `{"password" :  "***"}`},
		{"nothing_to_mask", "plain text", []string{"secret1"}, "plain text"},
		{"json_password_any_case", `{"Password":"Hunter22","new_password":"n3w"}`, nil, `{"Password":"***","new_password":"***"}`},
		{"escaped_json_password", `{"error":"PUT failed: {\"password\":\"s3cret\",\"title\":\"x\"}"}`, nil,
			`{"error":"PUT failed: {\"password\":\"***\",\"title\":\"x\"}"}`},
		{"escaped_json_password_with_quote", `"body {\"password\":\"a\\\"b\\\\c\",\"x\":1}"`, nil,
			`"body {\"password\":\"***\",\"x\":1}"`},
		{"form_password", "firstname=Ana&password=s3cret&title=x", nil, "firstname=Ana&password=***&title=x"},
		{"key_value_password", "update failed password=s3cret, retrying", nil, "update failed password=***, retrying"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := String(tc.in, tc.secrets...); got != tc.want {
				t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWriter(t *testing.T) {
	t.Parallel()

	var buf bytes.Buffer
	w := Writer(&buf, "tok-123456")
	line := `{"msg":"request","token":"tok-123456","body":{"password":"pw-1"}}` + "\n"
	n, err := w.Write([]byte(line))
	if err != nil || n != len(line) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(line))
	}
	if out := buf.String(); strings.Contains(out, "tok-123456") || strings.Contains(out, "pw-1") {
		t.Errorf("a secret passed the writer: %s", out)
	}
}
