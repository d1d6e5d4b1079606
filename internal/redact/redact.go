// Package redact removes secrets (the Perfex API token, contact passwords)
// from text before it leaves the process: log lines, error messages and
// replies quoted in dead letters.
package redact

import (
	"bytes"
	"io"
	"regexp"
	"sync"
)

// Mask replaces a secret.
const Mask = "***"

// Patterns of a secret whose value the caller did not know. The key is
// any name ending in "password", in any case (password, Password,
// new_password), or authtoken or token. Each pattern keeps the key in
// group 1 and the value's opening quote (if any) in group 2.
var passwordPatterns = []*regexp.Regexp{
	// A JSON member: "password":"value", also when the text was cut
	// before the closing quote (an excerpt of a reply).
	regexp.MustCompile(`(?i)("(?:[a-z_]*password|authtoken|token)"\s*:\s*)(")(?:[^"\\]|\\.)*(?:"|\\?$)`),
	// The same member escaped inside a JSON string, as when a request body
	// is quoted in an error message that is then logged as JSON:
	// \"password\":\"value\". An escaped quote inside the value reads
	// \\\" and an escaped backslash \\\\.
	regexp.MustCompile(`(?i)(\\"[a-z_]*password\\"\s*:\s*)(\\")(?:[^"\\]|\\\\\\.|\\\\[^"\\])*\\"`),
	// A form field or a key=value pair: password=value, up to a
	// separator.
	regexp.MustCompile(`(?i)(\b(?:[a-z_]*password|authtoken)=)()[^&\s"\\,;]*`),
}

// String returns s with every secret and every JSON password value masked.
// Secrets shorter than four bytes are ignored: masking them would destroy
// ordinary text and they are too short to be real credentials.
func String(s string, secrets ...string) string {
	return string(Bytes([]byte(s), secrets...))
}

// Bytes is String for byte slices. It returns b itself when nothing was
// masked.
func Bytes(b []byte, secrets ...string) []byte {
	out := b
	for _, secret := range secrets {
		if len(secret) < 4 || !bytes.Contains(out, []byte(secret)) {
			continue
		}
		out = bytes.ReplaceAll(out, []byte(secret), []byte(Mask))
	}
	for _, p := range passwordPatterns {
		if p.Match(out) {
			out = p.ReplaceAll(out, []byte(`${1}${2}`+Mask+`${2}`))
		}
	}
	return out
}

// Writer wraps w so that everything written through it is redacted. It is
// the last line of defence for logs: code must not log secrets in the
// first place, and this makes a mistake harmless.
func Writer(w io.Writer, secrets ...string) io.Writer {
	return &writer{w: w, secrets: secrets}
}

type writer struct {
	mu      sync.Mutex
	w       io.Writer
	secrets []string
}

func (r *writer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()

	if _, err := r.w.Write(Bytes(p, r.secrets...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (r *writer) Sync() error {
	if s, ok := r.w.(interface{ Sync() error }); ok {
		return s.Sync()
	}
	return nil
}
