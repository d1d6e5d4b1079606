package perfexsim

import "strings"

// localSpecials are the characters other than letters and digits that the
// local part of an address may hold (RFC 5322 atext, plus the dot).
const localSpecials = "!#$%&'*+/=?^_`{|}~.-"

// validEmail is the server-side format check, close to PHP's
// FILTER_VALIDATE_EMAIL: ASCII only, one @, a dot-atom local part of at most
// 64 characters, and a domain of at least two labels of letters, digits and
// inner hyphens, the last one not all digits.
func validEmail(addr string) bool {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || len(addr) > 254 || strings.Contains(domain, "@") {
		return false
	}

	return validLocal(local) && validDomain(domain)
}

func validLocal(local string) bool {
	if local == "" || len(local) > 64 || strings.Contains(local, "..") ||
		strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") {
		return false
	}

	for _, r := range local {
		if !isAlnum(r) && !strings.ContainsRune(localSpecials, r) {
			return false
		}
	}
	return true
}

func validDomain(domain string) bool {
	labels := strings.Split(domain, ".")
	if len(labels) < 2 || len(domain) > 253 {
		return false
	}

	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !isAlnum(r) && r != '-' {
				return false
			}
		}
	}

	tld := labels[len(labels)-1]
	return strings.TrimLeft(tld, "0123456789") != ""
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}
