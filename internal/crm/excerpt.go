package crm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// excerptMax is the longest Excerpt, in bytes.
	excerptMax = 300
	// excerptWindow is how much of a body is looked at for an excerpt;
	// whitespace is collapsed afterwards, so it must exceed excerptMax.
	excerptWindow = 4 << 10
	masked        = "***"
)

// secretValue matches a JSON member whose name speaks of a password or a
// token, so that a hash, a reset key or an echoed password never reaches
// an excerpt. The value may be cut short by the end of the text.
var secretValue = regexp.MustCompile(
	`(?i)("[^"\\]*(?:pass|token|secret)[^"\\]*"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|\\?$)`)

// masker removes the API token and the command's password from text taken
// from replies, in the spellings a PHP or Go JSON encoder would give them.
type masker struct {
	secrets []string // longest first
}

func newMasker(token string, password *string) *masker {
	m := &masker{}
	seen := map[string]bool{}
	for _, s := range []string{token, derefString(password)} {
		if s == "" {
			continue
		}
		for _, v := range []string{s, goJSONEscape(s), phpJSONEscape(s)} {
			if !seen[v] {
				seen[v] = true
				m.secrets = append(m.secrets, v)
			}
		}
	}
	sort.Slice(m.secrets, func(i, j int) bool { return len(m.secrets[i]) > len(m.secrets[j]) })
	return m
}

// text returns s with secrets and secret-looking JSON values masked.
func (m *masker) text(s string) string {
	if s == "" {
		return s
	}
	// One secret after the other rather than a strings.Replacer: when
	// two secrets overlap in s, a single pass masks only the first and
	// leaves the rest of the second.
	for _, v := range m.secrets {
		s = strings.ReplaceAll(s, v, masked)
	}
	return secretValue.ReplaceAllString(s, `$1"`+masked+`"`)
}

// cutPartial drops a tail of b that is the start of a secret, so that a
// body cut at the window does not leave part of a secret behind.
func (m *masker) cutPartial(b []byte) []byte {
	for _, v := range m.secrets {
		for k := min(len(v)-1, len(b)); k > 0; k-- {
			if bytes.HasSuffix(b, []byte(v[:k])) {
				b = b[:len(b)-k]
				break
			}
		}
	}
	return b
}

// excerpt is the start of a reply body for an error: secrets masked, on
// one line, whitespace collapsed, valid UTF-8, at most excerptMax bytes.
func excerpt(body []byte, m *masker) string {
	b := body
	if len(b) > excerptWindow {
		b = m.cutPartial(b[:excerptWindow])
	}
	s := m.text(strings.ToValidUTF8(string(b), "\uFFFD"))

	var out strings.Builder
	out.Grow(min(len(s), excerptMax))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = out.Len() > 0
			continue
		}
		if space {
			out.WriteByte(' ')
			space = false
		}
		if out.Len()+utf8.RuneLen(r) > excerptMax {
			return cutTo(out.String(), excerptMax-len("...")) + "..."
		}
		out.WriteRune(r)
	}
	return out.String()
}

// cutTo shortens s to at most n bytes without splitting a character.
func cutTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func goJSONEscape(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out := strings.TrimSuffix(buf.String(), "\n")
	return out[1 : len(out)-1]
}

// phpJSONEscape spells s the way PHP's json_encode does by default:
// slashes escaped and every non-ASCII character as \uXXXX.
func phpJSONEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '/':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r > 0x7f && r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r >= 0x10000:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
