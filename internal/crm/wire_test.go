package crm

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// The tests in this file follow docs/perfex-wire.md table by table: one
// subtest per row.

var (
	applied        = outcome{kind: "applied"}
	titleOnly      = command.ContactData{Title: ptr("Diretora")}
	heldAuth       = func(s int) outcome { return outcome{"held", reason.Authentication, s} }
	heldWrong      = func(s int) outcome { return outcome{"held", reason.WrongEndpoint, s} }
	retryConn      = func(s int) outcome { return outcome{"transient", reason.Connection, s} }
	retryLimited   = func(s int) outcome { return outcome{"transient", reason.RateLimited, s} }
	deadLetter     = func(c reason.Code, s int) outcome { return outcome{"permanent", c, s} }
	rateLimitReset = time.Now().Add(90 * time.Second).Truncate(time.Second)
)

func TestWireStoredContact(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name  string
		reply canned
		want  outcome
	}{
		{"row", jsonReply(200, storedRow), applied},
		{"missing_contact", jsonReply(404, noData), deadLetter(reason.NotFound, 404)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t).standard().on("GET "+contact12, tt.reply)

			_, err := newTestClient(t, f).Update(context.Background(), 12, titleOnly)
			wantOutcome(t, err, tt.want)
		})
	}
}

func TestWirePermissions(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name      string
		reply     canned
		want      outcome
		wantPerms []any // the permissions key of the PUT, when one is made
	}{
		{"rows", jsonReply(200, permissionRows), applied, []any{"1", "5"}},
		{"empty_table", jsonReply(404, noData), applied, []any{}},
		{"not_allow_listed", jsonReply(403, tableNotAllowed), heldWrong(403), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t).standard().on("GET "+permsPath, tt.reply)

			_, err := newTestClient(t, f).Update(context.Background(), 12, titleOnly)
			wantOutcome(t, err, tt.want)
			if tt.wantPerms == nil {
				for _, r := range f.requests() {
					if r.method == http.MethodPut {
						t.Fatal("a PUT was made without knowing the permissions")
					}
				}
				return
			}
			if diff := cmp.Diff(tt.wantPerms, f.lastPut(t)["permissions"]); diff != "" {
				t.Errorf("permissions sent (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWireUpdateAnswers(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name       string
		reply      canned
		want       outcome
		wantFields map[string]string
		wantMsg    string
	}{
		{"updated", jsonReply(200, updated), applied, nil, ""},
		{"updated_with_php_warning", canned{status: 200, body: updated + phpWarning}, applied, nil, ""},
		{"refused_without_reason", jsonReply(200, updateFail),
			deadLetter(reason.Rejected, 200), nil, "Contact Update Fail."},
		// The stored row already holds the title sent, so the re-read
		// confirms it (nothing_changed_test.go has the other variants).
		{"nothing_changed", jsonReply(404, clientFail), applied, nil, ""},
		{"no_such_contact", jsonReply(409, `{"status":false,"message":"Contact not found"}`),
			deadLetter(reason.NotFound, 409), nil, "Contact not found"},
		{"duplicate_email", jsonReply(409, `{"status":false,"message":"Email already exists","error":{"email":"This Email is already in use"}}`),
			deadLetter(reason.ValidationFailed, 409), map[string]string{"email": "This Email is already in use"}, "Email already exists"},
		{"invalid_value_v3", jsonReply(422, `{"status":false,"error":"validation_failed","message":"Validation failed","errors":{"email":"The Email field must contain a valid email address."}}`),
			deadLetter(reason.ValidationFailed, 422),
			map[string]string{"email": "The Email field must contain a valid email address."}, "Validation failed"},
		{"invalid_value_older", jsonReply(400, `{"status":false,"message":"The Email field must contain a valid email address."}`),
			deadLetter(reason.ValidationFailed, 400), nil, "The Email field must contain a valid email address."},
		{"other_conflict", jsonReply(409, `{"status":false,"message":"Record was modified by another user"}`),
			deadLetter(reason.Conflict, 409), nil, "Record was modified by another user"},
		{"content_type_refused", jsonReply(406, `{"status":false,"message":"Not Acceptable"}`),
			deadLetter(reason.Rejected, 406), nil, "Not Acceptable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := titleOnly
			if tt.name == "nothing_changed" {
				data = command.ContactData{Title: ptr("Gerente")}
			}
			f := newFake(t).standard().on("PUT "+contact12, tt.reply)

			res, err := newTestClient(t, f).Update(context.Background(), 12, data)
			wantOutcome(t, err, tt.want)
			if err == nil {
				if res.NothingChanged != (tt.name == "nothing_changed") {
					t.Errorf("NothingChanged = %v", res.NothingChanged)
				}
				return
			}
			pe := err.(*PermanentError)
			if diff := cmp.Diff(tt.wantFields, pe.FieldErrors); diff != "" {
				t.Errorf("FieldErrors (-want +got):\n%s", diff)
			}
			if pe.Message != tt.wantMsg {
				t.Errorf("Message = %q, want %q", pe.Message, tt.wantMsg)
			}
			if pe.Excerpt == "" {
				t.Error("Excerpt is empty")
			}
		})
	}
}

// errorRows are the rows of "Errors any request can get", with what the
// client makes of each.
var errorRows = []struct {
	name  string
	reply canned
	want  outcome
}{
	{"missing_token", jsonReply(401, `{"status":false,"message":"Token is not defined."}`), heldAuth(401)},
	{"wrong_token", jsonReply(401, `{"status":false,"message":"Invalid Token"}`), heldAuth(401)},
	{"token_lacks_permission", jsonReply(403, `{"status":false,"message":"You do not have permission to perform this action"}`), heldAuth(403)},
	{"per_key_time_limit", canned{
		status: 401, body: `{"status":false,"message":"This API key has reached the time limit for this method"}`,
		header: map[string]string{"X-RateLimit-Reset": unixString(rateLimitReset)},
	}, retryLimited(401)},
	{"rate_limited", canned{
		status: 429, body: `{"status":false,"message":"Too Many Requests"}`,
		header: map[string]string{"X-RateLimit-Reset": unixString(rateLimitReset), "Retry-After": "90"},
	}, retryLimited(429)},
	{"php_fatal_json", jsonReply(500, `{"status":false,"message":"Internal Server Error"}`), retryConn(500)},
	{"php_fatal_html", htmlReply(500, "<html><body><h1>A PHP Error was encountered</h1></body></html>"), retryConn(500)},
	{"proxy_502", htmlReply(502, htmlBadGate), retryConn(502)},
	{"proxy_503", htmlReply(503, "<html><body>503 Service Unavailable</body></html>"), retryConn(503)},
	{"proxy_504", htmlReply(504, "<html><body>504 Gateway Time-out</body></html>"), retryConn(504)},
	{"wrong_url", htmlReply(404, htmlPage), heldWrong(404)},
}

func TestWireAnyRequestErrors(t *testing.T) {
	t.Parallel()

	for _, route := range []string{"GET " + contact12, "GET " + permsPath, "PUT " + contact12} {
		for _, tt := range errorRows {
			name := route[:3] + "_" + map[string]string{
				"GET " + contact12: "contact", "GET " + permsPath: "permissions", "PUT " + contact12: "update",
			}[route] + "/" + tt.name
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				want := tt.want
				// The table's own rule: any 403 on it is an installation
				// that does not expose it.
				if route == "GET "+permsPath && tt.reply.status == 403 {
					want = heldWrong(403)
				}
				f := newFake(t).standard().on(route, tt.reply)

				_, err := newTestClient(t, f).Update(context.Background(), 12, titleOnly)
				wantOutcome(t, err, want)
				if want.reason == reason.RateLimited {
					te := err.(*TransientError)
					if !te.RetryAt.Equal(rateLimitReset) {
						t.Errorf("RetryAt = %v, want %v (X-RateLimit-Reset)", te.RetryAt, rateLimitReset)
					}
				}
			})
		}
	}
}

func TestWireHeadersOnEveryRequest(t *testing.T) {
	t.Parallel()
	f := newFake(t).standard()

	if _, err := newTestClient(t, f).Update(context.Background(), 12, titleOnly); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if got := len(reqs); got != 3 {
		t.Fatalf("%d requests, want 3 (GET contact, GET permissions, PUT)", got)
	}
	for _, r := range reqs {
		if r.rawQuery != "" {
			t.Errorf("%s %s has a query %q", r.method, r.path, r.rawQuery)
		}
		if got := r.header.Get("authtoken"); got != testToken {
			t.Errorf("%s %s: authtoken = %q", r.method, r.path, got)
		}
		if got := r.header.Get("Accept"); got != "application/json" {
			t.Errorf("%s %s: Accept = %q", r.method, r.path, got)
		}
		if got := r.header.Get("User-Agent"); got != testUserAgent {
			t.Errorf("%s %s: User-Agent = %q", r.method, r.path, got)
		}
		wantCT := ""
		if r.method == http.MethodPut {
			wantCT = "application/json"
		}
		if got := r.header.Get("Content-Type"); got != wantCT {
			t.Errorf("%s %s: Content-Type = %q, want %q", r.method, r.path, got, wantCT)
		}
	}
	got := []string{reqs[0].method + " " + reqs[0].path, reqs[1].method + " " + reqs[1].path, reqs[2].method + " " + reqs[2].path}
	want := []string{"GET /api/contacts/12", "GET /api" + permsPath, "PUT /api/contacts/12"}
	if !slices.Equal(got, want) {
		t.Errorf("requests = %q, want %q", got, want)
	}
}
