package perfexsim

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// faultCheck inspects what the client saw.
type faultCheck func(t *testing.T, a answer, err error)

// wantReset expects the connection to have been reset.
func wantReset(t *testing.T, _ answer, err error) {
	t.Helper()

	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("error = %v, want a connection reset", err)
	}
}

// wantAnswer expects status, the HTML or JSON content type and a body
// holding fragment.
func wantAnswer(status int, html bool, fragment string) faultCheck {
	return func(t *testing.T, a answer, err error) {
		t.Helper()

		if err != nil {
			t.Fatalf("error = %v, want an answer", err)
		}
		if a.status != status {
			t.Errorf("status = %d, want %d: %s", a.status, status, a.body)
		}
		if ct := a.header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") != html {
			t.Errorf("Content-Type = %q, want HTML %v", ct, html)
		}
		if !strings.Contains(string(a.body), fragment) {
			t.Errorf("body = %s, want it to hold %q", a.body, fragment)
		}
		if a.header.Get("X-RateLimit-Reset") == "" {
			t.Error("answer without X-RateLimit-Reset")
		}
	}
}

// wantResetAhead expects X-RateLimit-Reset in the future and remaining 0.
func wantResetAhead(t *testing.T, a answer) {
	t.Helper()

	_, remaining, reset := rateHeaders(t, a)
	if remaining != 0 || !reset.After(time.Now()) {
		t.Errorf("remaining %d reset %v, want 0 and a future instant", remaining, reset)
	}
}

// TestFaultKinds sends a PUT under each fault kind and checks what the
// client sees and that only FaultResetAfterApply changes the contact.
func TestFaultKinds(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		kind        FaultKind
		check       faultCheck
		wantApplied bool
	}{
		{FaultReset, wantReset, false},
		{FaultResetAfterApply, wantReset, true},
		{FaultTimeout, wantAnswer(http.StatusGatewayTimeout, true, "<html"), false},
		{FaultStatus500, wantAnswer(http.StatusInternalServerError, false,
			`{"status":false,"message":"Internal Server Error"}`), false},
		{FaultHTML500, wantAnswer(http.StatusInternalServerError, true, "<html"), false},
		{FaultHTML502, wantAnswer(http.StatusBadGateway, true, "<html"), false},
		{FaultHTML503, wantAnswer(http.StatusServiceUnavailable, true, "<html"), false},
		{FaultHTML504, wantAnswer(http.StatusGatewayTimeout, true, "<html"), false},
		{FaultHTML404, wantAnswer(http.StatusNotFound, true, "<html"), false},
		{FaultStatus429, func(t *testing.T, a answer, err error) {
			wantAnswer(http.StatusTooManyRequests, false, "Too Many Requests")(t, a, err)
			wantResetAhead(t, a)
			if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("Retry-After = %q", a.header.Get("Retry-After"))
			}
		}, false},
		{FaultRateLimit401, func(t *testing.T, a answer, err error) {
			wantAnswer(http.StatusUnauthorized, false, "reached the time limit for this method")(t, a, err)
			wantResetAhead(t, a)
		}, false},
		{FaultBadToken, wantAnswer(http.StatusUnauthorized, false,
			`{"status":false,"message":"Invalid Token"}`), false},
		{FaultForbidden403, wantAnswer(http.StatusForbidden, false,
			`{"status":false,"message":"You do not have permission to perform this action"}`), false},
		{FaultTrailingWarning, func(t *testing.T, a answer, err error) {
			wantAnswer(http.StatusOK, false, "<b>Warning</b>")(t, a, err)
			if !strings.HasPrefix(string(a.body), `{"status":true,"message":"Contact Updated Successfully."}<br />`) {
				t.Errorf("body = %s, want the JSON then the warning", a.body)
			}
		}, true},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			t.Parallel()
			f := setup(t, Options{Seed: true})
			f.sim.SetFaults(Faults{Rate: 1, Kinds: []FaultKind{tc.kind}, TimeoutMax: 50 * time.Millisecond})
			before := f.mustContact(t, 2)

			a, err := f.send(t, request{method: http.MethodPut, path: contactPath(2),
				body: with(fullBody(before), "title", "Alterado")})

			tc.check(t, a, err)

			// The handler may still be finishing after a dropped connection.
			eventually(t, 5*time.Second, "the request to be counted", func() bool {
				return f.sim.Stats().Total() == 1
			})
			st := f.sim.Stats()
			if changed := !f.mustContact(t, 2).sameStored(before); changed != tc.wantApplied {
				t.Errorf("contact changed = %v, want %v", changed, tc.wantApplied)
			}
			if st.Applied != btoi(tc.wantApplied) || st.Faults[tc.kind] != 1 {
				t.Errorf("Stats.Applied = %d, Faults = %v", st.Applied, st.Faults)
			}
		})
	}
}

func TestFaultRefuse(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})
	f.sim.SetFaults(Faults{Rate: 1, Max: 1, Kinds: []FaultKind{FaultRefuse}, RefuseFor: time.Minute})

	_, err := f.send(t, request{method: http.MethodGet, path: contactPath(1)})
	wantReset(t, answer{}, err)

	_, err = f.send(t, request{method: http.MethodGet, path: contactPath(1)})
	wantRefused(t, err)

	// SetDown(false) ends the outage early, at the same address.
	if err := f.sim.SetDown(false); err != nil {
		t.Fatalf("SetDown(false): %v", err)
	}
	if a := f.get(t, 1); a.status != http.StatusOK {
		t.Errorf("status after the outage = %d, want 200", a.status)
	}
}

// wantRefused expects a dial error with ECONNREFUSED.
func wantRefused(t *testing.T, err error) {
	t.Helper()

	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error = %v, want a refused dial", err)
	}
}

func TestFaultRefuseEndsByItself(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})
	f.sim.SetFaults(Faults{Rate: 1, Max: 1, Kinds: []FaultKind{FaultRefuse},
		RefuseFor: 50 * time.Millisecond})

	_, err := f.send(t, request{method: http.MethodGet, path: contactPath(1)})
	wantReset(t, answer{}, err)

	eventually(t, 5*time.Second, "the port to open again", func() bool {
		a, err := f.send(t, request{method: http.MethodGet, path: contactPath(1)})
		return err == nil && a.status == http.StatusOK
	})
}

func TestSetDown(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})
	addr := f.sim.Addr()

	if err := f.sim.SetDown(true); err != nil {
		t.Fatalf("SetDown(true): %v", err)
	}
	_, err := f.send(t, request{method: http.MethodGet, path: contactPath(1)})
	wantRefused(t, err)

	if err := f.sim.SetDown(false); err != nil {
		t.Fatalf("SetDown(false): %v", err)
	}
	if a := f.get(t, 1); a.status != http.StatusOK || f.sim.Addr() != addr {
		t.Errorf("status %d at %s, want 200 at %s", a.status, f.sim.Addr(), addr)
	}
}

func TestSetDownCutsKeptAliveConnections(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	f.client = &http.Client{Transport: tr, Timeout: 5 * time.Second}

	f.get(t, 1)
	if err := f.sim.SetDown(true); err != nil {
		t.Fatalf("SetDown(true): %v", err)
	}

	// The idle connection was closed by the server, so the transport
	// dials again and is refused.
	_, err := f.send(t, request{method: http.MethodGet, path: contactPath(1)})
	wantRefused(t, err)
}

func TestTimeoutClientGivesUp(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})
	f.client.Timeout = 100 * time.Millisecond
	f.sim.SetFaults(Faults{Rate: 1, Kinds: []FaultKind{FaultTimeout}})
	before := f.mustContact(t, 2)

	_, err := f.send(t, request{method: http.MethodPut, path: contactPath(2),
		body: with(fullBody(before), "title", "Alterado")})

	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("error = %v, want a client timeout", err)
	}
	eventually(t, 5*time.Second, "the hanging request to end", func() bool {
		return f.sim.Stats().Count(http.MethodPut, RouteContact, 0) == 1
	})
	if !f.mustContact(t, 2).sameStored(before) {
		t.Error("a timed-out PUT changed the contact")
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})
	f.sim.SetFaults(Faults{Latency: 60 * time.Millisecond})

	start := time.Now()
	a := f.get(t, 1)

	if elapsed := time.Since(start); a.status != http.StatusOK || elapsed < 60*time.Millisecond {
		t.Errorf("status %d after %v, want 200 after at least 60ms", a.status, elapsed)
	}
}

func TestLatencyClientGivesUp(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})
	f.client.Timeout = 50 * time.Millisecond
	f.sim.SetFaults(Faults{Latency: time.Minute})
	before := f.mustContact(t, 2)

	_, err := f.send(t, request{method: http.MethodPut, path: contactPath(2),
		body: with(fullBody(before), "title", "Alterado")})

	if err == nil {
		t.Fatal("the request was answered despite a minute of latency")
	}
	eventually(t, 5*time.Second, "the delayed request to end", func() bool {
		return f.sim.Stats().Count(http.MethodPut, RouteContact, 0) == 1
	})
	if !f.mustContact(t, 2).sameStored(before) {
		t.Error("an abandoned PUT changed the contact")
	}
}

func TestFaultSelection(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name       string
		faults     Faults
		method     string
		wantFaults int
	}{
		{"max_limits_count", Faults{Rate: 1, Max: 2, Kinds: []FaultKind{FaultHTML503}}, http.MethodGet, 2},
		{"methods_filter", Faults{Rate: 1, Methods: []string{http.MethodPut},
			Kinds: []FaultKind{FaultHTML503}}, http.MethodGet, 0},
		{"other_contact_spared", Faults{Rate: 1, Contacts: []int64{2},
			Kinds: []FaultKind{FaultHTML503}}, http.MethodGet, 0},
		{"poison_contact_faulted", Faults{Rate: 1, Contacts: []int64{1},
			Kinds: []FaultKind{FaultHTML503}}, http.MethodGet, 5},
		{"rate_zero", Faults{Kinds: []FaultKind{FaultHTML503}}, http.MethodGet, 0},
		{"no_kinds", Faults{Rate: 1}, http.MethodGet, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, Options{Seed: true})
			f.sim.SetFaults(tc.faults)

			for range 5 {
				f.do(t, request{method: tc.method, path: contactPath(1)})
			}

			st := f.sim.Stats()
			if got := st.Faults[FaultHTML503]; got != tc.wantFaults {
				t.Errorf("faults = %d, want %d", got, tc.wantFaults)
			}
			if got := st.Count(tc.method, RouteContact, http.StatusOK); got != 5-tc.wantFaults {
				t.Errorf("200s = %d, want %d", got, 5-tc.wantFaults)
			}
		})
	}
}

func TestFaultRateIsSeeded(t *testing.T) {
	t.Parallel()

	faulted := func() []int {
		fs := newFaultState()
		fs.set(Faults{Rate: 0.3, Seed: 42, Kinds: []FaultKind{FaultStatus500, FaultHTML502}})

		var got []int
		for i := range 200 {
			if fs.decide(http.MethodPut, 0) != 0 {
				got = append(got, i)
			}
		}
		return got
	}

	a, b := faulted(), faulted()
	if len(a) < 30 || len(a) > 90 {
		t.Errorf("%d of 200 requests faulted at rate 0.3", len(a))
	}
	if !slices.Equal(a, b) {
		t.Error("the same seed picked different requests")
	}
}
