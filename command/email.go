package command

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Length limits from RFC 5321 (section 4.5.3.1) that Perfex's validator
// enforces too.
const (
	maxEmailLen = 254
	maxLocalLen = 64
	maxLabelLen = 63
)

// ValidateEmail checks addr against the worker's email policy
// (docs/email-policy.md) and returns the bare address that is sent to
// Perfex: addr itself, except that an internationalised domain is converted
// to its ASCII (A-label) form. The error is a *ValidationError with
// CodeInvalidEmail and Field "data.email".
//
// The policy is stricter than RFC 5322 on purpose: only a bare, ASCII
// dot-atom local part at a DNS domain name is accepted, which is what
// Perfex's own validator (PHP's FILTER_VALIDATE_EMAIL) and most mail
// systems handle reliably. Nothing is silently extracted or repaired: a
// publisher sending "Ana <ana@example.com>" has a bug that the refusal
// makes visible.
func ValidateEmail(addr string) (string, error) {
	if err := checkEmailForm(addr); err != nil {
		return "", err
	}

	at := strings.IndexByte(addr, '@')
	local, domain := addr[:at], addr[at+1:]
	if err := checkLocalPart(local); err != nil {
		return "", err
	}
	asciiDomain, err := checkDomain(domain)
	if err != nil {
		return "", err
	}

	out := local + "@" + asciiDomain
	if len(out) > maxEmailLen {
		if out != addr {
			return "", invalidEmail(
				"is %d bytes once the domain is converted to ASCII; at most %d are allowed",
				len(out), maxEmailLen)
		}
		return "", invalidEmail("is %d bytes; at most %d are allowed", len(out), maxEmailLen)
	}

	// The rules above accept a strict subset of RFC 5322 addr-specs. The
	// standard parser is the referee: if it reads the result differently,
	// the rules have a gap, and refusing is safer than sending it on.
	parsed, err := mail.ParseAddress(out)
	if err != nil || parsed.Name != "" || parsed.Address != out {
		return "", invalidEmail("%s", crossCheckDetail)
	}
	return out, nil
}

// crossCheckDetail is the detail given when net/mail disagrees with the
// explicit rules. The fuzz test asserts it never appears.
const crossCheckDetail = "is not read as the same bare address by the RFC 5322 parser"

func invalidEmail(format string, args ...any) *ValidationError {
	return &ValidationError{
		Code:   CodeInvalidEmail,
		Field:  "data.email",
		Detail: fmt.Sprintf(format, args...),
	}
}

// checkEmailForm checks what applies to the address as a whole: that it is
// a bare address, that it has no whitespace or invisible characters, and
// that it has exactly one @ outside quotes.
func checkEmailForm(addr string) error {
	if addr == "" {
		return invalidEmail("is empty")
	}
	if !utf8.ValidString(addr) {
		return invalidEmail("is not valid UTF-8")
	}

	if strings.ContainsAny(addr, "<>") {
		// net/mail reads the display-name forms; naming the address it finds
		// tells the publisher what to send instead. The address is not used.
		if parsed, err := mail.ParseAddress(addr); err == nil {
			return invalidEmail(
				"is a display-name or angle-bracket form; only the bare address (%s) is accepted",
				quoteClipped(parsed.Address))
		}
		return invalidEmail(
			"contains '<' or '>'; only a bare address such as ana@example.com is accepted")
	}

	first, _ := utf8.DecodeRuneInString(addr)
	if unicode.IsSpace(first) {
		return invalidEmail("starts with whitespace (%U)", first)
	}
	last, _ := utf8.DecodeLastRuneInString(addr)
	if unicode.IsSpace(last) {
		return invalidEmail("ends with whitespace (%U)", last)
	}
	for i, r := range addr {
		switch {
		case unicode.IsSpace(r):
			return invalidEmail("contains whitespace (%U) at byte %d", r, i)
		case unicode.IsControl(r):
			return invalidEmail("contains the control character %U at byte %d", r, i)
		case unicode.Is(unicode.Cf, r):
			return invalidEmail("contains the invisible formatting character %U at byte %d", r, i)
		}
	}

	if strings.ContainsAny(addr, "()") {
		return invalidEmail("contains parentheses; comments are not accepted")
	}
	if addr[0] == '"' {
		return invalidEmail("has a quoted local part; quoted local parts are not accepted")
	}
	switch n := strings.Count(addr, "@"); n {
	case 0:
		return invalidEmail("has no @")
	case 1:
	default:
		return invalidEmail("has %d @ signs; exactly one is allowed", n)
	}
	return nil
}

// checkLocalPart accepts an ASCII dot-atom (RFC 5322 section 3.2.3).
func checkLocalPart(local string) error {
	switch {
	case local == "":
		return invalidEmail("has nothing before the @")
	case len(local) > maxLocalLen:
		return invalidEmail("has a local part of %d bytes; at most %d are allowed",
			len(local), maxLocalLen)
	}
	for _, r := range local {
		if r >= utf8.RuneSelf {
			return invalidEmail(
				"has the non-ASCII character %U before the @; only ASCII is accepted there", r)
		}
		if r != '.' && !isAtext(byte(r)) {
			return invalidEmail("has %q before the @, which is not allowed there", r)
		}
	}
	return checkDots("local part", local)
}

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func checkDots(what, s string) error {
	switch {
	case strings.HasPrefix(s, "."):
		return invalidEmail("has a %s that starts with a dot", what)
	case strings.HasSuffix(s, "."):
		return invalidEmail("has a %s that ends with a dot", what)
	case strings.Contains(s, ".."):
		return invalidEmail("has a %s with consecutive dots", what)
	}
	return nil
}

// checkDomain accepts a DNS host name of at least two labels and returns it
// in ASCII. Labels already in ASCII are kept as given, case included; only
// labels with other characters are converted to A-labels.
func checkDomain(domain string) (string, error) {
	switch {
	case domain == "":
		return "", invalidEmail("has nothing after the @")
	case strings.HasPrefix(domain, "["):
		return "", invalidEmail("has an IP address literal as its domain; a domain name is required")
	}
	if err := checkDots("domain", domain); err != nil {
		return "", err
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "", invalidEmail(
			"has the domain %s, which has no dot; a full domain such as example.com is required",
			quoteClipped(domain))
	}

	idn := false
	for _, label := range labels {
		if !isASCII(label) {
			if err := checkUnicodeLabel(label); err != nil {
				return "", err
			}
			idn = true
			continue
		}
		if hasACEPrefix(label) {
			idn = true
		}
		if err := checkLabel(label); err != nil {
			return "", err
		}
	}

	if idn {
		converted, err := convertDomain(domain, labels)
		if err != nil {
			return "", err
		}
		labels = converted
	}

	if err := checkTLD(labels[len(labels)-1]); err != nil {
		return "", err
	}
	return strings.Join(labels, "."), nil
}

// convertDomain applies IDNA (UTS #46, idna.Lookup) to the whole domain, so
// that rules spanning labels (bidi) hold, and returns its labels with each
// non-ASCII one replaced by its A-label. ASCII labels keep their case;
// xn-- labels are checked to decode to a valid label.
func convertDomain(domain string, labels []string) ([]string, error) {
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return nil, invalidEmail("has a domain that is not a valid internationalised domain name (%s)",
			clip(strings.TrimPrefix(err.Error(), "idna: ")))
	}
	converted := strings.Split(ascii, ".")
	if len(converted) != len(labels) {
		// UTS #46 maps dot-like characters such as U+3002 to '.'.
		return nil, invalidEmail("has a domain whose labels are not separated by plain dots")
	}

	out := make([]string, len(labels))
	for i, label := range labels {
		if isASCII(label) {
			out[i] = label
			continue
		}
		if !hasACEPrefix(converted[i]) {
			// Full-width and compatibility forms map to plain ASCII; the
			// publisher should send that ASCII instead.
			return nil, invalidEmail(
				"has the domain label %s, which is ASCII written in other characters",
				quoteClipped(label))
		}
		if err := checkLabel(converted[i]); err != nil {
			return nil, err
		}
		out[i] = converted[i]
	}
	return out, nil
}

// checkUnicodeLabel refuses symbols and punctuation in a label that is not
// ASCII. UTS #46 lets many through (x/net/idna does not apply the IDNA2008
// filter); IDNA2008 disallows them, so no registry hands out such names.
func checkUnicodeLabel(label string) error {
	for _, r := range label {
		if r < utf8.RuneSelf || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) {
			continue
		}
		return invalidEmail("has the domain label %s with %U; "+
			"internationalised labels hold only letters, marks and digits", quoteClipped(label), r)
	}
	return nil
}

// checkLabel checks an ASCII label against the host-name rules (letters,
// digits and hyphens, 1 to 63 bytes, no hyphen at either end).
func checkLabel(label string) error {
	if len(label) > maxLabelLen {
		return invalidEmail("has the domain label %s of %d bytes; at most %d are allowed",
			quoteClipped(label), len(label), maxLabelLen)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !isLetter(c) && !isDigit(c) && c != '-' {
			return invalidEmail(
				"has the domain label %q with %q; only letters, digits and hyphens are allowed",
				label, c)
		}
	}
	switch {
	case label[0] == '-':
		return invalidEmail("has the domain label %q, which starts with a hyphen", label)
	case label[len(label)-1] == '-':
		return invalidEmail("has the domain label %q, which ends with a hyphen", label)
	}
	return nil
}

// checkTLD refuses a top-level label that does not start with a letter.
// That covers all-numeric ones (an IP address written as a domain), and it
// is what Perfex's validator requires; no such TLD can exist in DNS.
func checkTLD(tld string) error {
	allDigits := true
	for i := 0; i < len(tld); i++ {
		allDigits = allDigits && isDigit(tld[i])
	}
	switch {
	case allDigits:
		return invalidEmail(
			"has the top-level domain %q, which is all digits; IP addresses are not accepted", tld)
	case !isLetter(tld[0]):
		return invalidEmail("has the top-level domain %q, which does not start with a letter", tld)
	}
	return nil
}

func hasACEPrefix(label string) bool {
	return len(label) >= 4 && strings.EqualFold(label[:4], "xn--")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
