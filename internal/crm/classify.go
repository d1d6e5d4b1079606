package crm

import (
	"fmt"
	"strings"
	"time"

	"github.com/perfexworker/perfex-worker/internal/reason"
)

// wrongEndpointHint tells the operator what to check when the base URL
// leads somewhere that is not the API.
const wrongEndpointHint = "check the base URL (the API root, such as " +
	"https://crm.example.com/api) and the web server's rewrite rules"

// classify decides what a reply means when the caller has no rule of its
// own for it (docs/perfex-wire.md, "How the client classifies"). It returns
// nil for a success and one of the error types of client_api.go otherwise.
// Every text taken from the reply is masked with m.
func classify(r *reply, m *masker) error {
	doc, isJSON := r.object()
	var msg string
	if isJSON {
		msg = m.text(doc.message())
	}

	switch s := r.status; {
	case s >= 200 && s < 300 && r.html():
		// A login page or a proxy's page: the request never reached the API.
		return held(reason.WrongEndpoint, r, m,
			fmt.Sprintf("%s %s answered %d with a web page instead of the API's JSON: %s",
				r.method, r.path, s, wrongEndpointHint))

	case s >= 200 && s < 300:
		if isJSON && doc.failed() {
			return permanent(reason.Rejected, r, m, msg, nil)
		}
		return nil

	case s >= 300 && s < 400:
		where := ""
		if loc := r.header.Get("Location"); loc != "" {
			where = " to " + m.text(loc)
		}
		return held(reason.WrongEndpoint, r, m,
			fmt.Sprintf("%s %s was redirected%s; the client does not follow redirects: %s",
				r.method, r.path, where, wrongEndpointHint))

	case s == 401 && isJSON && mentionsLimit(msg):
		return rateLimited(r, m, msg)

	case s == 401 || s == 403:
		text := "Perfex refused the API token"
		if msg != "" {
			text += ": " + msg
		}
		return held(reason.Authentication, r, m, text)

	case s == 404:
		if isJSON {
			return permanent(reason.NotFound, r, m, msg, nil)
		}
		return held(reason.WrongEndpoint, r, m,
			fmt.Sprintf("%s %s answered 404 with something other than the API's JSON: %s",
				r.method, r.path, wrongEndpointHint))

	case s == 409:
		fields := maskedFieldErrors(doc, isJSON, m)
		switch {
		case isJSON && strings.Contains(strings.ToLower(msg), "not found"):
			return permanent(reason.NotFound, r, m, msg, nil)
		case len(fields) > 0:
			return permanent(reason.ValidationFailed, r, m, msg, fields)
		}
		return permanent(reason.Conflict, r, m, msg, nil)

	case s == 400 || s == 422:
		return permanent(reason.ValidationFailed, r, m, msg, maskedFieldErrors(doc, isJSON, m))

	case s == 429:
		return rateLimited(r, m, msg)

	case s >= 500 && s < 600:
		return &TransientError{
			Reason:  reason.Connection,
			Status:  s,
			Excerpt: excerpt(r.body, m),
			Err:     statusError(r, msg),
		}

	case s >= 400 && s < 500:
		return permanent(reason.Rejected, r, m, msg, nil)
	}

	return &TransientError{
		Reason:  reason.Connection,
		Status:  r.status,
		Excerpt: excerpt(r.body, m),
		Err:     fmt.Errorf("%s %s: unexpected HTTP status %d", r.method, r.path, r.status),
	}
}

// mentionsLimit tells the per-key time-limit 401 of older installations
// from a refused token.
func mentionsLimit(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "limit")
}

func maskedFieldErrors(doc *replyDoc, isJSON bool, m *masker) map[string]string {
	if !isJSON {
		return nil
	}
	fields := doc.fieldErrors()
	for k, v := range fields {
		fields[k] = m.text(v)
	}
	return fields
}

func permanent(code reason.Code, r *reply, m *masker, msg string, fields map[string]string) *PermanentError {
	return &PermanentError{
		Reason:      code,
		Status:      r.status,
		FieldErrors: fields,
		Message:     msg,
		Excerpt:     excerpt(r.body, m),
	}
}

func held(code reason.Code, r *reply, m *masker, msg string) *HeldError {
	return &HeldError{Reason: code, Status: r.status, Message: msg, Excerpt: excerpt(r.body, m)}
}

func rateLimited(r *reply, m *masker, msg string) *TransientError {
	return &TransientError{
		Reason:  reason.RateLimited,
		Status:  r.status,
		RetryAt: retryAt(r.header, time.Now()),
		Excerpt: excerpt(r.body, m),
		Err:     statusError(r, msg),
	}
}

// statusError describes a failed request for TransientError.Err; msg is
// already masked.
func statusError(r *reply, msg string) error {
	if msg == "" {
		return fmt.Errorf("%s %s: HTTP %d", r.method, r.path, r.status)
	}
	return fmt.Errorf("%s %s: %s", r.method, r.path, msg)
}
