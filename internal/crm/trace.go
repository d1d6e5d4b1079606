package crm

import (
	"context"
	"net/http"
)

// traceparentKey is the context key of the W3C traceparent to forward.
type traceparentKey struct{}

// WithTraceparent returns ctx carrying a W3C traceparent header value;
// every request made with that context sends it, so Perfex's logs (or a
// proxy in front of it) can be joined with the publisher's trace. An
// invalid value is dropped rather than forwarded.
func WithTraceparent(ctx context.Context, traceparent string) context.Context {
	if !ValidTraceparent(traceparent) {
		return ctx
	}
	return context.WithValue(ctx, traceparentKey{}, traceparent)
}

// TraceparentFrom returns the traceparent ctx carries, or "".
func TraceparentFrom(ctx context.Context) string {
	tp, _ := ctx.Value(traceparentKey{}).(string)
	return tp
}

func setTraceparent(ctx context.Context, h http.Header) {
	if tp := TraceparentFrom(ctx); tp != "" {
		h.Set("traceparent", tp)
	}
}

// ValidTraceparent reports whether v is a version-00 W3C traceparent
// (00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>, ids not all
// zero), or a later version with the same first fields.
func ValidTraceparent(v string) bool {
	if len(v) < 55 || (len(v) > 55 && v[55] != '-') || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return false
	}
	version := v[0:2]
	if !lowerHex(version) || version == "ff" || (version == "00" && len(v) != 55) {
		return false
	}
	traceID, parentID, flags := v[3:35], v[36:52], v[53:55]
	return lowerHex(traceID) && lowerHex(parentID) && lowerHex(flags) &&
		!allZero(traceID) && !allZero(parentID)
}

// TraceID returns the trace id of a valid traceparent, or "".
func TraceID(traceparent string) string {
	if !ValidTraceparent(traceparent) {
		return ""
	}
	return traceparent[3:35]
}

func lowerHex(s string) bool {
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := range len(s) {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
