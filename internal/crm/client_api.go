// Package crm is perfex-worker's client for the Perfex CRM REST API. It
// applies contact updates as true partial updates (read, merge, write back
// with flags encoded the way Perfex reads them) and classifies every reply
// into the outcomes of CONTRACT.md. It never logs and never touches message
// acknowledgements: it returns values and typed errors (result.go).
//
// Portal permissions are not part of a contact's row. With
// PermissionsCustomTable the client reads them from the allow-listed
// contact_permissions table and sends them back; with PermissionsCommand
// it sends only what the command carries, and Perfex removes the
// permissions of a contact updated by a command that carries none.
//
// The wire behaviour it expects is written down in docs/perfex-wire.md.
package crm

import "time"

// Result describes an update that Perfex holds afterwards (the applied
// outcome).
type Result struct {
	// Requests is how many HTTP requests the update took.
	Requests int
	// NothingChanged is true when Perfex answered "nothing changed" and a
	// read confirmed that it already held the command's values.
	NothingChanged bool
	// RateLimit is what the last reply said about the rate limit.
	RateLimit RateLimit
}

// RateLimit is what Perfex's X-RateLimit-* headers said.
type RateLimit struct {
	Known     bool
	Limit     int
	Remaining int
	// Reset is the instant the window resets.
	Reset time.Time
}
