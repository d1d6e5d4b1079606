package dlq

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/perfexworker/perfex-worker/internal/redact"
)

// Masked replaces a secret in header values.
const Masked = redact.Mask

// Mask returns s with every given secret (of at least four bytes) and every
// password or token value in JSON or form text replaced by Masked. Dead
// letters put nothing in a header without passing it through Mask.
func Mask(s string, secrets ...string) string {
	return redact.String(s, secrets...)
}

// headerValue makes s fit in a NATS header: valid UTF-8, control
// characters (CR and LF above all) turned into spaces, runs of spaces
// collapsed, and at most limit bytes, cut on a rune boundary with "…"
// marking the cut.
func headerValue(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(min(len(s), limit+4))
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return truncate(strings.TrimRight(b.String(), " "), limit)
}

func truncate(s string, limit int) string {
	const ellipsis = "…"
	if len(s) <= limit {
		return s
	}
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
