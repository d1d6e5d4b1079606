package perfexsim

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestStartRefusesNonLoopback(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct{ name, addr string }{
		{"all_interfaces", ":0"},
		{"unspecified", "0.0.0.0:0"},
		{"public", "192.0.2.1:0"},
		{"no_port", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := New(Options{})
			t.Cleanup(s.Close)

			if _, err := s.Start(tc.addr); err == nil {
				t.Errorf("Start(%q) succeeded", tc.addr)
			}
		})
	}
}

func TestStartTwiceAndAfterClose(t *testing.T) {
	t.Parallel()
	s := New(Options{})

	base, err := s.Start("127.0.0.1:0")
	if err != nil || !strings.HasSuffix(base, "/api") || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("Start = %q, %v; want http://127.0.0.1:port/api", base, err)
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("a second Start succeeded")
	}

	s.Close()
	s.Close()
	if err := s.SetDown(false); !errors.Is(err, ErrClosed) {
		t.Errorf("SetDown after Close = %v, want ErrClosed", err)
	}
}

func TestSetDownBeforeStart(t *testing.T) {
	t.Parallel()

	if err := New(Options{}).SetDown(true); err == nil {
		t.Error("SetDown on a simulator never started succeeded")
	}
}

func TestCloseReleasesHangingRequests(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true})
	f.sim.SetFaults(Faults{Rate: 1, Kinds: []FaultKind{FaultTimeout}, TimeoutMax: time.Minute})

	errc := make(chan error, 1)
	go func() {
		_, err := f.send(t, request{method: http.MethodGet, path: contactPath(1)})
		errc <- err
	}()
	eventually(t, 5*time.Second, "the request to hang", func() bool {
		return f.sim.Stats().Faults[FaultTimeout] == 1
	})

	f.sim.Close()

	select {
	case err := <-errc:
		if err == nil {
			t.Error("the hanging request got an answer")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close left the request hanging")
	}
}

// TestHandlerWithoutStart mounts the simulator in httptest, where
// FaultRefuse cannot close a port and resets the connection instead.
func TestHandlerWithoutStart(t *testing.T) {
	t.Parallel()
	s := New(Options{Seed: true, Token: testToken})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(s.Close)
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	f := &fixture{sim: s, base: srv.URL + "/api", client: &http.Client{Transport: tr}}

	if a := f.get(t, 1); a.status != http.StatusOK {
		t.Fatalf("status = %d, want 200", a.status)
	}

	s.SetFaults(Faults{Rate: 1, Max: 1, Kinds: []FaultKind{FaultRefuse}})
	_, err := f.send(t, request{method: http.MethodGet, path: contactPath(1)})
	wantReset(t, answer{}, err)

	if a := f.get(t, 1); a.status != http.StatusOK {
		t.Errorf("status after the fault = %d, want 200", a.status)
	}
}

func TestPutContactAndPasswords(t *testing.T) {
	t.Parallel()
	s := New(Options{PasswordCost: 4})

	id := s.PutContact(Contact{UserID: 40, FirstName: "Lia", LastName: "Reis",
		Email: "lia.reis@example.com.br", Password: "segredo", Permissions: []int{6, 1, 1, 99}})

	c, ok := s.Contact(id)
	if !ok || id != 1 {
		t.Fatalf("PutContact returned %d, Contact ok = %v", id, ok)
	}
	if c.Password != "" || !strings.HasPrefix(c.PasswordHash, "$2y$04$") {
		t.Errorf("Password %q, PasswordHash %q; want empty and a $2y$04$ hash", c.Password, c.PasswordHash)
	}
	if !s.PasswordMatches(id, "segredo") || s.PasswordMatches(id, "outro") {
		t.Error("PasswordMatches does not tell the password apart")
	}
	if fmt.Sprint(c.Permissions) != "[1 6]" {
		t.Errorf("Permissions = %v, want [1 6]", c.Permissions)
	}
	if fmt.Sprint(s.Customers()) != "[40]" {
		t.Errorf("Customers = %v, want [40]", s.Customers())
	}

	// A hash the simulator did not make is checked with bcrypt itself.
	h, err := bcrypt.GenerateFromPassword([]byte("de fora"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s.PutContact(Contact{ID: 7, UserID: 40, PasswordHash: string(h)})
	if !s.PasswordMatches(7, "de fora") || s.PasswordMatches(7, "segredo") || s.PasswordMatches(99, "x") {
		t.Error("PasswordMatches is wrong for an outside hash or a missing contact")
	}
	if next := s.PutContact(Contact{UserID: 40}); next != 8 {
		t.Errorf("next id = %d, want 8", next)
	}
}

func TestSeed(t *testing.T) {
	t.Parallel()
	s := New(Options{Seed: true})

	contacts := s.Contacts()
	if len(contacts) != 36 || fmt.Sprint(s.Customers()) != fmt.Sprint(SeedCustomerIDs()) {
		t.Fatalf("%d contacts, customers %v", len(contacts), s.Customers())
	}

	primaries := map[int64]int{}
	for _, c := range contacts {
		if c.IsPrimary {
			primaries[c.UserID]++
		}
		if !validEmail(c.Email) || !strings.Contains(c.Email, "@example.com") {
			t.Errorf("contact %d has address %q", c.ID, c.Email)
		}
		if pw := SeedPassword(c.ID); pw != "" && !s.PasswordMatches(c.ID, pw) {
			t.Errorf("contact %d does not match its seed password", c.ID)
		}
		if (SeedPassword(c.ID) == "") != (c.PasswordHash == "") {
			t.Errorf("contact %d: password hash %q, seed password %q", c.ID, c.PasswordHash, SeedPassword(c.ID))
		}
	}
	if fmt.Sprint(primaries) != "map[1:1 2:1 3:1 4:1 5:1]" {
		t.Errorf("primary contacts by customer = %v", primaries)
	}
}

// TestConcurrentUse hammers one simulator from many goroutines, with
// faults switching on and off, for the race detector to watch.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	f := setup(t, Options{Seed: true, RateLimit: 1000})
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	f.client = &http.Client{Transport: tr, Timeout: 5 * time.Second}

	const workers, rounds = 8, 15
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				// Every worker promotes a contact of customer 1 in turn.
				id := int64(1 + (w+i)%6)
				c, _ := f.sim.Contact(id)
				body := with(fullBody(c), "is_primary", "on", "title", fmt.Sprintf("w%d-%d", w, i))
				_, _ = f.send(t, request{method: http.MethodPut, path: contactPath(id), body: body})
				_, _ = f.send(t, request{method: http.MethodGet, path: contactPath(id)})
				_ = f.sim.Stats()
			}
		})
	}
	wg.Go(func() {
		for i := range rounds {
			f.sim.SetFaults(Faults{Rate: 0.2, Seed: uint64(i), Kinds: []FaultKind{FaultHTML503, FaultStatus500}})
			f.sim.SetPermissionsTable(PermissionsMode(i % 2))
			_, _ = f.send(t, request{method: http.MethodGet, path: "/thirdparty/customtable/contact_permissions"})
		}
	})
	wg.Wait()

	primaries := 0
	for _, c := range f.sim.Contacts() {
		if c.UserID == 1 && c.IsPrimary {
			primaries++
		}
	}
	if primaries != 1 {
		t.Errorf("customer 1 has %d primary contacts, want 1", primaries)
	}
	if got, want := f.sim.Stats().Total(), workers*rounds*2+rounds; got != want {
		t.Errorf("Stats counted %d requests, want %d", got, want)
	}
}
