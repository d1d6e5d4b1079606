package perfexsim

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name       string
		path       string
		token      string
		wantStatus int
		wantBody   string
		wantLeaks  int
	}{
		{"right", "/contacts/1", "", http.StatusOK, "", 0},
		{"missing", "/contacts/1", "-", http.StatusUnauthorized,
			`{"status":false,"message":"Token is not defined."}`, 0},
		{"wrong", "/contacts/1", "nope", http.StatusUnauthorized,
			`{"status":false,"message":"Invalid Token"}`, 0},
		{"query_only", "/contacts/1?authtoken=" + testToken, "-", http.StatusUnauthorized,
			`{"status":false,"message":"Invalid Token"}`, 1},
		{"query_and_header", "/contacts/1?authtoken=" + testToken, "", http.StatusUnauthorized,
			`{"status":false,"message":"Invalid Token"}`, 1},
		{"query_on_unknown_path", "/nowhere?authtoken=x", "", http.StatusNotFound, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, Options{Seed: true})

			a := f.do(t, request{method: http.MethodGet, path: tc.path, token: tc.token})

			if a.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", a.status, tc.wantStatus, a.body)
			}
			if tc.wantBody != "" && string(a.body) != tc.wantBody {
				t.Errorf("body = %s, want %s", a.body, tc.wantBody)
			}
			if got := f.sim.Stats().TokenLeaks; got != tc.wantLeaks {
				t.Errorf("TokenLeaks = %d, want %d", got, tc.wantLeaks)
			}
		})
	}
}

func TestDefaultToken(t *testing.T) {
	t.Parallel()

	if got := New(Options{}).Token(); got != DefaultToken {
		t.Errorf("Token() = %q, want %q", got, DefaultToken)
	}
}

// rateHeaders reads the X-RateLimit-* headers of a, failing the test when
// one is missing or not a number.
func rateHeaders(t *testing.T, a answer) (limit, remaining int, reset time.Time) {
	t.Helper()

	num := func(name string) int64 {
		v, err := strconv.ParseInt(a.header.Get(name), 10, 64)
		if err != nil {
			t.Fatalf("%s = %q: %v", name, a.header.Get(name), err)
		}
		return v
	}
	return int(num("X-RateLimit-Limit")), int(num("X-RateLimit-Remaining")),
		time.Unix(num("X-RateLimit-Reset"), 0)
}

func TestRateLimitHeaders(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true, RateLimit: 10, RateWindow: time.Minute})
	start := time.Now()

	answers := []answer{
		f.get(t, 1),
		f.get(t, 9999),
		f.do(t, request{method: http.MethodGet, path: contactPath(1), token: "nope"}),
		f.do(t, request{method: http.MethodGet, rootPath: "/elsewhere"}),
		f.put(t, 1, fullBody(f.mustContact(t, 1))),
	}

	for i, a := range answers {
		limit, remaining, reset := rateHeaders(t, a)
		if limit != 10 || remaining != 10-(i+1) {
			t.Errorf("answer %d (%d): limit %d remaining %d, want 10 and %d",
				i, a.status, limit, remaining, 10-(i+1))
		}
		if reset.Before(start.Add(time.Minute-time.Second)) || reset.After(start.Add(time.Minute+2*time.Second)) {
			t.Errorf("answer %d: reset %v is not a Unix time about a minute ahead of %v", i, reset, start)
		}
	}
}

func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})

	limit, remaining, _ := rateHeaders(t, f.get(t, 1))

	if limit != unlimitedAdvertised || remaining != unlimitedAdvertised-1 {
		t.Errorf("limit %d remaining %d, want %d and %d", limit, remaining,
			unlimitedAdvertised, unlimitedAdvertised-1)
	}
}

func TestRateLimit429(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true, RateLimit: 2, RateWindow: time.Minute})

	for i := range 2 {
		if a := f.get(t, 1); a.status != http.StatusOK {
			t.Fatalf("request %d: status %d, want 200", i, a.status)
		}
	}
	before := f.mustContact(t, 2)
	a := f.put(t, 2, with(fullBody(before), "title", "Limitado"))

	if a.status != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429", a.status)
	}
	if string(a.body) != `{"status":false,"message":"Too Many Requests"}` {
		t.Errorf("body = %s", a.body)
	}
	if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After = %q, want whole seconds >= 1", a.header.Get("Retry-After"))
	}
	if _, remaining, _ := rateHeaders(t, a); remaining != 0 {
		t.Errorf("remaining = %d, want 0", remaining)
	}
	if after := f.mustContact(t, 2); !after.sameStored(before) {
		t.Error("a rate-limited PUT changed the contact")
	}
	if got := f.sim.Stats().RateLimited; got != 1 {
		t.Errorf("Stats.RateLimited = %d, want 1", got)
	}
}

func TestRateLimitWindowReopens(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true, RateLimit: 1, RateWindow: 200 * time.Millisecond})

	eventually(t, 5*time.Second, "a 429", func() bool {
		return f.get(t, 1).status == http.StatusTooManyRequests
	})
	eventually(t, 5*time.Second, "a new rate-limit window", func() bool {
		return f.get(t, 1).status == http.StatusOK
	})
}
