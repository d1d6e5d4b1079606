package dlq

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHeaderValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{"crlf", "a\r\nb\tc", 100, "a b c"},
		{"trim", "\n  a  \n", 100, "a"},
		{"cut", "abcdefghij", 6, "abc…"},
		{"cut_rune", "ããããã", 7, "ãã…"},
		{"invalid_utf8", "a\xffb", 100, "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := headerValue(tt.in, tt.limit); got != tt.want {
				t.Errorf("headerValue(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
			}
		})
	}
}

func FuzzHeaderValue(f *testing.F) {
	f.Add("line\r\nnext", 10)
	f.Add("ção\x00\xff", 5)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit = 4 + abs(limit)%2000
		got := headerValue(Mask(s, "secret-value"), limit)
		if len(got) > limit {
			t.Errorf("%d bytes, over the %d limit", len(got), limit)
		}
		if strings.ContainsAny(got, "\r\n\x00") || !utf8.ValidString(got) {
			t.Errorf("not a single valid line: %q", got)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestFieldErrorsStayValidJSON(t *testing.T) {
	t.Parallel()
	w := &Writer{secrets: []string{"tok-secret"}}
	errs := map[string]string{}
	for i := range 200 {
		errs[strings.Repeat("f", 3)+string(rune('a'+i%26))+strings.Repeat("x", i)] = strings.Repeat("long message tok-secret ", 20)
	}

	got := w.fieldErrors(errs)
	if len(got) > maxFieldErrors {
		t.Errorf("%d bytes, over %d", len(got), maxFieldErrors)
	}
	var decoded map[string]string
	if err := json.Unmarshal([]byte(got), &decoded); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if len(decoded) == 0 || strings.Contains(got, "tok-secret") {
		t.Errorf("decoded %d entries; secret present: %v", len(decoded), strings.Contains(got, "tok-secret"))
	}
}
