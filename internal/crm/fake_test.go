package crm

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/perfexworker/perfex-worker/internal/reason"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Secrets the tests search for in everything the client returns.
const (
	testToken    = "tok-9f8e7d6c5b4a"
	testPassword = "s3cret/Pässwörd\"x"
)

// Replies as docs/perfex-wire.md gives them. The stored row is contact 12
// of customer 3: primary, active, four of seven notification flags on.
const (
	storedRow = `{"id":"12","userid":"3","is_primary":"1","firstname":"Ana","lastname":"Souza",
 "email":"ana.souza@example.com","phonenumber":"+55 11 90000-0000",
 "title":"Gerente","datecreated":"2025-03-01 10:00:00",
 "password":"$2y$08$abcdefghijklmnopqrstuvHASHHASHHASHHASH","new_pass_key":null,
 "new_pass_key_requested":null,"email_verified_at":"2025-03-01 10:00:00",
 "email_verification_key":null,"email_verification_sent_at":null,
 "last_ip":null,"last_login":null,"last_password_change":null,
 "active":"1","profile_image":null,"direction":"",
 "invoice_emails":"1","estimate_emails":"1","credit_note_emails":"1",
 "contract_emails":"0","task_emails":"0","project_emails":"1",
 "ticket_emails":"1"}`
	storedHash = "$2y$08$abcdefghijklmnopqrstuvHASHHASHHASHHASH"

	noData          = `{"status":false,"message":"No data were found"}`
	permissionRows  = `[{"id":"7","permission_id":"5","userid":"12"},{"id":"8","permission_id":"2","userid":"13"},{"id":"9","permission_id":"1","userid":"12"}]`
	tableNotAllowed = `{"status":false,"message":"Access to this table is not allowed"}`

	updated       = `{"status":true,"message":"Contact Updated Successfully."}`
	updateFail    = `{"status":false,"message":"Contact Update Fail."}`
	clientFail    = `{"status":false,"message":"Client Update Fail."}`
	phpWarning    = "\n<br />\n<b>Warning</b>:  Undefined array key \"x\" in <b>/var/www/application/controllers/Contacts.php</b> on line <b>312</b><br />\n"
	htmlPage      = "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n<body><h1>Not Found</h1></body></html>\n"
	htmlBadGate   = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	contentHTML   = "text/html; charset=UTF-8"
	contentJSON   = "application/json; charset=utf-8"
	permsPath     = "/thirdparty/customtable/contact_permissions"
	contact12     = "/contacts/12"
	testVersion   = "1.2.3"
	testUserAgent = "perfex-worker/1.2.3"
)

// canned is one reply of the fake Perfex.
type canned struct {
	status      int
	contentType string // contentJSON when empty
	body        string
	header      map[string]string
}

func jsonReply(status int, body string) canned { return canned{status: status, body: body} }

func htmlReply(status int, body string) canned {
	return canned{status: status, contentType: contentHTML, body: body}
}

// recorded is one request the fake Perfex received.
type recorded struct {
	method   string
	path     string
	rawQuery string
	header   http.Header
	body     []byte
}

// fakePerfex answers each "METHOD path" with its queue of canned replies,
// the last one repeating, and records every request. Every reply carries
// the rate-limit headers, reset a minute ahead.
type fakePerfex struct {
	srv *httptest.Server

	mu     sync.Mutex
	routes map[string][]canned
	reqs   []recorded
	reset  int64
}

func newFake(t *testing.T) *fakePerfex {
	t.Helper()
	f := &fakePerfex{routes: map[string][]canned{}, reset: time.Now().Add(time.Minute).Unix()}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// standard sets the routes of a healthy installation for contact 12.
func (f *fakePerfex) standard() *fakePerfex {
	f.on("GET "+contact12, jsonReply(200, storedRow))
	f.on("GET "+permsPath, jsonReply(200, permissionRows))
	f.on("PUT "+contact12, jsonReply(200, updated))
	return f
}

// on sets the replies to key, replacing any before.
func (f *fakePerfex) on(key string, replies ...canned) *fakePerfex {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[key] = replies
	return f
}

func (f *fakePerfex) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)

	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{
		method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery,
		header: r.Header.Clone(), body: body,
	})
	key := r.Method + " " + strings.TrimPrefix(r.URL.Path, "/api")
	queue := f.routes[key]
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		queue = nil
	}
	var c canned
	switch len(queue) {
	case 0:
		c = htmlReply(404, htmlPage)
	case 1:
		c = queue[0]
	default:
		c, f.routes[key] = queue[0], queue[1:]
	}
	reset := f.reset
	f.mu.Unlock()

	h := w.Header()
	h.Set("X-RateLimit-Limit", "120")
	h.Set("X-RateLimit-Remaining", "119")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	h.Set("Content-Type", contentJSON)
	if c.contentType != "" {
		h.Set("Content-Type", c.contentType)
	}
	for k, v := range c.header {
		h.Set(k, v)
	}
	w.WriteHeader(c.status)
	_, _ = io.WriteString(w, c.body)
}

// requests returns the requests received so far.
func (f *fakePerfex) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// lastPut decodes the body of the last PUT received.
func (f *fakePerfex) lastPut(t *testing.T) map[string]any {
	t.Helper()
	reqs := f.requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].method == http.MethodPut {
			var m map[string]any
			if err := json.Unmarshal(reqs[i].body, &m); err != nil {
				t.Fatalf("PUT body is not JSON: %v", err)
			}
			return m
		}
	}
	t.Fatal("no PUT received")
	return nil
}

// newTestClient returns a client of f with the test token.
func newTestClient(t *testing.T, f *fakePerfex, edit ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: f.srv.URL + "/api", Token: testToken, Version: testVersion}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func ptr[T any](v T) *T { return &v }

// outcome names what err means to the consumer: "applied", or the type
// of error with its reason.
type outcome struct {
	kind   string
	reason reason.Code
	status int
}

func outcomeOf(err error) outcome {
	var (
		pe *PermanentError
		te *TransientError
		he *HeldError
	)
	switch {
	case err == nil:
		return outcome{kind: "applied"}
	case errors.As(err, &pe):
		return outcome{"permanent", pe.Reason, pe.Status}
	case errors.As(err, &te):
		return outcome{"transient", te.Reason, te.Status}
	case errors.As(err, &he):
		return outcome{"held", he.Reason, he.Status}
	}
	return outcome{kind: "untyped: " + err.Error()}
}

func wantOutcome(t *testing.T, err error, want outcome) {
	t.Helper()
	if got := outcomeOf(err); got != want {
		t.Fatalf("outcome = %+v, want %+v (err: %v)", got, want, err)
	}
}

func unixString(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
