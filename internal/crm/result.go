package crm

import (
	"errors"
	"fmt"
	"time"

	"github.com/perfexworker/perfex-worker/internal/reason"
)

// The client returns nil for an applied update and one of the error types
// below otherwise. The consumer branches on them with errors.As; nothing
// else in this package decides what happens to a message.

// PermanentError means the command can never succeed as it is: the caller
// dead-letters it with Reason.
type PermanentError struct {
	Reason reason.Code
	// Status is the HTTP status Perfex answered, 0 when no request was made.
	Status int
	// FieldErrors are Perfex's per-field messages, keyed by field name.
	FieldErrors map[string]string
	// Message is Perfex's own message, if any, or the client's account
	// of the outcome when Perfex's message alone does not explain it.
	// Secrets are masked.
	Message string
	// Excerpt is the start of Perfex's reply with secrets removed.
	Excerpt string
}

func (e *PermanentError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s (HTTP %d)", e.Reason, e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d): %s", e.Reason, e.Status, e.Message)
}

// TransientError means the failure may pass: connection refused or reset,
// timeout, DNS, 5xx, 429 or a rate-limit 401. The caller retries.
type TransientError struct {
	// Reason is reason.Connection or reason.RateLimited.
	Reason reason.Code
	// Status is the HTTP status, 0 for a transport failure.
	Status int
	// RetryAt, when not zero, is the earliest instant a retry can succeed
	// (from X-RateLimit-Reset or Retry-After).
	RetryAt time.Time
	Excerpt string
	Err     error
}

func (e *TransientError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: %v", e.Reason, e.Err)
	}
	return fmt.Sprintf("%s (HTTP %d): %v", e.Reason, e.Status, e.Err)
}

func (e *TransientError) Unwrap() error { return e.Err }

// HeldError means Perfex refuses the worker itself (a 401 or 403 about the
// token) or the endpoint is wrong (an HTML 404). No command can succeed
// until an operator fixes the cause; the caller stops taking work.
type HeldError struct {
	// Reason is reason.Authentication or reason.WrongEndpoint.
	Reason  reason.Code
	Status  int
	Message string
	Excerpt string
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Reason, e.Status, e.Message)
}

// IsHeld reports whether err is a *HeldError.
func IsHeld(err error) bool {
	var h *HeldError
	return errors.As(err, &h)
}
