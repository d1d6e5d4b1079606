package dlq

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Masked replaces a secret in header values.
const Masked = "***"

// minSecret is the shortest secret Mask replaces; shorter strings would
// mangle ordinary text and are no real credential.
const minSecret = 4

var (
	// jsonSecret matches a JSON member holding a secret, with its string
	// value even when the text was cut before the closing quote.
	jsonSecret = regexp.MustCompile(`(?i)("(?:password|authtoken|token)"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|\\?$)`)
	// formSecret matches the same in a form or query string.
	formSecret = regexp.MustCompile(`(?i)\b((?:password|authtoken)=)[^&\s]*`)
)

// Mask returns s with every given secret (of at least four bytes) and every
// password or token value in JSON or form text replaced by Masked. Dead
// letters put nothing in a header without passing it through Mask.
func Mask(s string, secrets ...string) string {
	for _, secret := range secrets {
		if len(secret) >= minSecret {
			s = strings.ReplaceAll(s, secret, Masked)
		}
	}
	s = jsonSecret.ReplaceAllString(s, `${1}"`+Masked+`"`)
	return formSecret.ReplaceAllString(s, `${1}`+Masked)
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
