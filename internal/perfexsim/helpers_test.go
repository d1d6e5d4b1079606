package perfexsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testToken is the token every test simulator uses.
const testToken = "test-token"

// fixture is a started simulator and a client for it.
type fixture struct {
	sim    *Sim
	base   string
	client *http.Client
}

// setup starts a simulator with opts (Token defaults to testToken) and a
// client that opens a new connection for every request, so that a dropped
// connection never leaks into the next request.
func setup(t *testing.T, opts Options) *fixture {
	t.Helper()

	if opts.Token == "" {
		opts.Token = testToken
	}
	s := New(opts)
	t.Cleanup(s.Close)

	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}

	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &fixture{sim: s, base: base, client: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
}

// answer is a reply read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a map, failing the test when it is not JSON.
func (a answer) json(t *testing.T) map[string]any {
	t.Helper()

	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, a.body)
	}
	return m
}

// request describes one request to the simulator.
type request struct {
	method string
	// path is appended to the base URL, which ends in /api.
	path string
	// rootPath, when set, replaces path and is taken from the server's
	// root rather than from /api.
	rootPath    string
	body        any
	contentType string
	// token is the authtoken header; "-" sends none.
	token string
}

// send performs req and returns the answer or the transport error.
func (f *fixture) send(t *testing.T, req request) (answer, error) {
	t.Helper()

	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case string:
		body = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encoding body: %v", err)
		}
		body = bytes.NewReader(raw)
	}

	url := f.base + req.path
	if req.rootPath != "" {
		url = strings.TrimSuffix(f.base, "/api") + req.rootPath
	}
	hr, err := http.NewRequestWithContext(t.Context(), req.method, url, body)
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	switch req.token {
	case "":
		hr.Header.Set("authtoken", testToken)
	case "-":
	default:
		hr.Header.Set("authtoken", req.token)
	}
	if req.body != nil {
		ct := req.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}

	resp, err := f.client.Do(hr)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()

	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}, err
}

// do is send for requests that must get an answer.
func (f *fixture) do(t *testing.T, req request) answer {
	t.Helper()

	a, err := f.send(t, req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	return a
}

// get fetches contact id.
func (f *fixture) get(t *testing.T, id int64) answer {
	t.Helper()
	return f.do(t, request{method: http.MethodGet, path: contactPath(id)})
}

// put updates contact id with body.
func (f *fixture) put(t *testing.T, id int64, body any) answer {
	t.Helper()
	return f.do(t, request{method: http.MethodPut, path: contactPath(id), body: body})
}

// mustContact returns the stored contact id.
func (f *fixture) mustContact(t *testing.T, id int64) Contact {
	t.Helper()

	c, ok := f.sim.Contact(id)
	if !ok {
		t.Fatalf("contact %d is not stored", id)
	}
	return c
}

func contactPath(id int64) string { return "/contacts/" + strconv.FormatInt(id, 10) }

// fullBody is what a correct client sends to keep c as it is: every field,
// flags and is_primary encoded by presence, permissions as id strings.
func fullBody(c Contact) map[string]any {
	b := map[string]any{
		"firstname":   c.FirstName,
		"lastname":    c.LastName,
		"email":       c.Email,
		"title":       c.Title,
		"phonenumber": c.PhoneNumber,
		"direction":   c.Direction,
		"userid":      strconv.FormatInt(c.UserID, 10),
		"active":      flag(c.Active),
	}
	if c.IsPrimary {
		b["is_primary"] = "on"
	}

	flags := []bool{
		c.InvoiceEmails, c.EstimateEmails, c.CreditNoteEmails,
		c.ContractEmails, c.TaskEmails, c.ProjectEmails, c.TicketEmails,
	}
	for i, on := range flags {
		if on {
			b[flagFields[i]] = flagFields[i]
		}
	}

	perms := []string{}
	for _, p := range c.Permissions {
		perms = append(perms, strconv.Itoa(p))
	}
	b["permissions"] = perms
	return b
}

// with returns a copy of body with the given keys set.
func with(body map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(body)+len(kv)/2)
	for k, v := range body {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// without returns a copy of body without keys.
func without(body map[string]any, keys ...string) map[string]any {
	out := with(body)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// eventually polls cond every few milliseconds until it holds or the
// deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()

	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}
