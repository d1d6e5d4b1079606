package crm

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
)

const testTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestValidTraceparent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"version_00", testTraceparent, true},
		{"later_version_with_more", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", true},
		{"version_00_with_more", testTraceparent + "-x", false},
		{"version_ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"upper_case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false},
		{"zero_trace_id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"zero_parent_id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},
		{"short", "00-4bf92f", false},
		{"header_injection", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\n", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ValidTraceparent(tc.in); got != tc.want {
				t.Errorf("ValidTraceparent(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
	if got := TraceID(testTraceparent); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("TraceID = %q", got)
	}
}

func TestTraceparentForwarded(t *testing.T) {
	t.Parallel()
	var seen, requests atomic.Int32
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.Header.Get("traceparent") == testTraceparent {
			seen.Add(1)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c := clientFor(t, url, 0)

	ctx := WithTraceparent(context.Background(), testTraceparent)
	_, _ = c.Update(ctx, 12, titleOnly)
	if requests.Load() == 0 || seen.Load() != requests.Load() {
		t.Errorf("traceparent on %d of %d requests, want all", seen.Load(), requests.Load())
	}

	bad := WithTraceparent(context.Background(), "not-a-traceparent")
	if TraceparentFrom(bad) != "" {
		t.Error("an invalid traceparent was kept")
	}
}
