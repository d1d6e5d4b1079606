package crm

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/perfexworker/perfex-worker/internal/reason"
)

// rawServer serves every request with handle and returns its base URL.
func rawServer(t *testing.T, handle http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(handle)
	t.Cleanup(srv.Close)
	return srv.URL + "/api"
}

func clientFor(t *testing.T, baseURL string, timeout time.Duration) *Client {
	t.Helper()
	c, err := New(Config{BaseURL: baseURL, Token: testToken, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestTransportTimeout(t *testing.T) {
	t.Parallel()
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})

	start := time.Now()
	_, err := clientFor(t, url, 50*time.Millisecond).Update(context.Background(), 12, titleOnly)
	wantOutcome(t, err, retryConn(0))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "no reply within 50ms") {
		t.Errorf("err = %v, want the timeout named", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestTransportBodyTimeout(t *testing.T) {
	t.Parallel()
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentJSON)
		_, _ = w.Write([]byte(`{"id":"12",`))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})

	_, err := clientFor(t, url, 50*time.Millisecond).Update(context.Background(), 12, titleOnly)
	wantOutcome(t, err, retryConn(200))
}

func TestTransportCallerCancels(t *testing.T) {
	t.Parallel()
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)

	_, err := clientFor(t, url, time.Minute).Update(ctx, 12, titleOnly)
	wantOutcome(t, err, retryConn(0))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
}

func TestTransportConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	res, err := clientFor(t, "http://"+addr+"/api", time.Second).Update(context.Background(), 12, titleOnly)
	wantOutcome(t, err, retryConn(0))
	if res.Requests != 1 {
		t.Errorf("Requests = %d, want 1", res.Requests)
	}
	var ne *net.OpError
	if !errors.As(err, &ne) {
		t.Errorf("err = %v, want a *net.OpError inside", err)
	}
}

func TestTransportConnectionReset(t *testing.T) {
	t.Parallel()
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // close with RST
		}
		conn.Close()
	})

	_, err := clientFor(t, url, time.Second).Update(context.Background(), 12, titleOnly)
	wantOutcome(t, err, retryConn(0))
}

func TestTransportReplyCutShort(t *testing.T) {
	t.Parallel()
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4000")
		w.Header().Set("Content-Type", contentJSON)
		_, _ = w.Write([]byte(storedRow[:200]))
	})

	_, err := clientFor(t, url, time.Second).Update(context.Background(), 12, titleOnly)
	wantOutcome(t, err, retryConn(200))
	if !strings.Contains(err.Error(), "cut short") {
		t.Errorf("err = %v", err)
	}
}

func TestTransportDNSFailure(t *testing.T) {
	t.Parallel()
	// .invalid never resolves (RFC 2606).
	_, err := clientFor(t, "http://perfex.invalid/api", 2*time.Second).Update(context.Background(), 12, titleOnly)
	wantOutcome(t, err, outcome{"transient", reason.Connection, 0})
}

func TestTransportConcurrentUpdates(t *testing.T) {
	t.Parallel()
	f := newFake(t).standard()
	c := newTestClient(t, f)

	errs := make(chan error, 16)
	for range 16 {
		go func() {
			_, err := c.Update(context.Background(), 12, titleOnly)
			_ = c.LastRateLimit()
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
