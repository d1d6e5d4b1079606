package health

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestEndpoints(t *testing.T) {
	t.Parallel()

	var held atomic.Bool
	var c Checker
	c.Add("nats", func() error { return nil })
	c.Add("consumer", func() error {
		if held.Load() {
			return errors.New("held: authentication")
		}
		return nil
	})
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if code, body := get("/readyz"); code != http.StatusOK || !strings.Contains(body, "ready") {
		t.Errorf("/readyz = %d %q, want 200 ready", code, body)
	}

	held.Store(true)
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "consumer: held: authentication") {
		t.Errorf("/readyz while held = %d %q, want 503 naming the consumer", code, body)
	}
	if strings.Contains(body, "nats:") {
		t.Errorf("/readyz names a passing check: %q", body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while held = %d, want 200: liveness must not follow readiness", code)
	}
}
