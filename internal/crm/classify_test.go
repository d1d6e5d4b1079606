package crm

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

func TestClassifyHTMLIsNeverJSON(t *testing.T) {
	t.Parallel()
	// JSON inside a page, or a JSON Content-Type on a page, must not steer
	// the outcome: only the status decides.
	jsonInPage := `<html><body>{"status":false,"message":"Contact not found","errors":{"email":"x"}}</body></html>`

	for _, tt := range []struct {
		name  string
		route string
		reply canned
		want  outcome
	}{
		{"409_page_is_conflict", "PUT " + contact12, htmlReply(409, jsonInPage), deadLetter(reason.Conflict, 409)},
		{"422_page_has_no_fields", "PUT " + contact12, htmlReply(422, jsonInPage), deadLetter(reason.ValidationFailed, 422)},
		{"404_page_on_put_is_held", "PUT " + contact12, htmlReply(404, jsonInPage), heldWrong(404)},
		{"404_page_on_get_is_held", "GET " + contact12, htmlReply(404, jsonInPage), heldWrong(404)},
		{"page_labelled_json", "GET " + contact12, jsonReply(404, "\n  "+htmlPage), heldWrong(404)},
		{"401_page_is_auth", "PUT " + contact12, htmlReply(401, `<p>limit {"message":"time limit"}</p>`), heldAuth(401)},
		{"200_page_on_get_is_held", "GET " + contact12, htmlReply(200, htmlPage), heldWrong(200)},
		{"200_page_on_put_is_held", "PUT " + contact12, htmlReply(200, `<p>{"status":false}</p>`), heldWrong(200)},
		{"plain_text_404_is_held", "GET " + contact12, canned{status: 404, contentType: "text/plain", body: "404 page not found"}, heldWrong(404)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t).standard().on(tt.route, tt.reply)

			_, err := newTestClient(t, f).Update(context.Background(), 12, titleOnly)
			wantOutcome(t, err, tt.want)
			var pe *PermanentError
			if asPermanentError(err, &pe) && (pe.FieldErrors != nil || pe.Message != "") {
				t.Errorf("HTML was read: fields %v, message %q", pe.FieldErrors, pe.Message)
			}
		})
	}
}

func TestClassifyTrailingPHPWarning(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name  string
		route string
		reply canned
		want  outcome
	}{
		{"applied", "PUT " + contact12, jsonReply(200, updated+phpWarning), applied},
		{"status_false_still_read", "PUT " + contact12, jsonReply(200, updateFail+phpWarning), deadLetter(reason.Rejected, 200)},
		{"field_errors_still_read", "PUT " + contact12, jsonReply(422, `{"status":false,"errors":{"email":"taken"}}`+phpWarning), deadLetter(reason.ValidationFailed, 422)},
		{"row_still_read", "GET " + contact12, jsonReply(200, storedRow+phpWarning), applied},
		{"rows_still_read", "GET " + permsPath, jsonReply(200, permissionRows+phpWarning), applied},
		{"bom_before_json", "PUT " + contact12, jsonReply(200, "\uFEFF"+updateFail), deadLetter(reason.Rejected, 200)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t).standard().on(tt.route, tt.reply)

			_, err := newTestClient(t, f).Update(context.Background(), 12, titleOnly)
			wantOutcome(t, err, tt.want)
			if tt.name == "field_errors_still_read" {
				if got := err.(*PermanentError).FieldErrors["email"]; got != "taken" {
					t.Errorf("field error = %q", got)
				}
			}
		})
	}
}

func TestClassifyRateLimit401VersusBadToken(t *testing.T) {
	t.Parallel()
	reset := time.Now().Add(42 * time.Minute).Truncate(time.Second)
	header := map[string]string{"X-RateLimit-Reset": unixString(reset)}

	f := newFake(t).standard().on("PUT "+contact12, canned{
		status: 401, header: header,
		body: `{"status":false,"message":"This API key has reached the time limit for this method"}`,
	})
	_, err := newTestClient(t, f).Update(context.Background(), 12, titleOnly)
	wantOutcome(t, err, retryLimited(401))
	if got := err.(*TransientError).RetryAt; !got.Equal(reset) {
		t.Errorf("RetryAt = %v, want %v", got, reset)
	}

	f = newFake(t).standard().on("PUT "+contact12, canned{
		status: 401, header: header, body: `{"status":false,"message":"Invalid Token"}`,
	})
	_, err = newTestClient(t, f).Update(context.Background(), 12, titleOnly)
	wantOutcome(t, err, heldAuth(401))
	if !IsHeld(err) || !strings.Contains(err.Error(), "Invalid Token") {
		t.Errorf("err = %v", err)
	}
}

func TestClassifyRetryAt(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)

	for _, tt := range []struct {
		name   string
		header http.Header
		want   time.Time
	}{
		{"reset_is_an_instant", http.Header{"X-Ratelimit-Reset": {"1800000090"}}, time.Unix(1_800_000_090, 0)},
		{"reset_wins_over_retry_after", http.Header{"X-Ratelimit-Reset": {"1800000090"}, "Retry-After": {"5"}}, time.Unix(1_800_000_090, 0)},
		{"retry_after_seconds", http.Header{"Retry-After": {"30"}}, now.Add(30 * time.Second)},
		{"past_reset_falls_back", http.Header{"X-Ratelimit-Reset": {"1799999000"}, "Retry-After": {"7"}}, now.Add(7 * time.Second)},
		{"retry_after_date", http.Header{"Retry-After": {now.Add(time.Hour).UTC().Format(http.TimeFormat)}}, now.Add(time.Hour)},
		{"small_reset_is_a_delay", http.Header{"X-Ratelimit-Reset": {"60"}}, now.Add(time.Minute)},
		{"nothing", http.Header{}, time.Time{}},
		{"garbage", http.Header{"X-Ratelimit-Reset": {"soon"}, "Retry-After": {"-3"}}, time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := retryAt(tt.header, now); !got.Equal(tt.want) {
				t.Errorf("retryAt = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClassifyRateLimitReported(t *testing.T) {
	t.Parallel()
	f := newFake(t).standard()
	c := newTestClient(t, f)

	if got := c.LastRateLimit(); got.Known {
		t.Fatalf("LastRateLimit before any request = %+v", got)
	}
	res, err := c.Update(context.Background(), 12, titleOnly)
	if err != nil {
		t.Fatal(err)
	}
	want := RateLimit{Known: true, Limit: 120, Remaining: 119, Reset: time.Unix(f.reset, 0)}
	if res.RateLimit != want {
		t.Errorf("Result.RateLimit = %+v, want %+v", res.RateLimit, want)
	}
	if got := c.LastRateLimit(); got != want {
		t.Errorf("LastRateLimit = %+v, want %+v", got, want)
	}
}

func TestClassifyRateTrackerKeepsFreshest(t *testing.T) {
	t.Parallel()
	var tr rateTracker
	window := time.Now().Add(time.Minute)

	tr.observe(RateLimit{Known: true, Limit: 120, Remaining: 50, Reset: window})
	tr.observe(RateLimit{Known: true, Limit: 120, Remaining: 60, Reset: window}) // late reply
	if got := tr.last().Remaining; got != 50 {
		t.Errorf("Remaining = %d after a late reply, want 50", got)
	}
	tr.observe(RateLimit{Known: true, Limit: 120, Remaining: 119, Reset: window.Add(time.Minute)})
	if got := tr.last().Remaining; got != 119 {
		t.Errorf("Remaining = %d after a new window, want 119", got)
	}
}

func TestClassifyRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	f := newFake(t).standard().on("GET "+contact12, canned{
		status: 301, header: map[string]string{"Location": "https://elsewhere.example/api/contacts/12"},
	})

	_, err := newTestClient(t, f).Update(context.Background(), 12, titleOnly)
	wantOutcome(t, err, heldWrong(301))
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestClassifyStoredRowProblems(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		row  string
		want outcome
	}{
		{"missing_column", strings.Replace(storedRow, `"is_primary":"1",`, "", 1), deadLetter(reason.Rejected, 200)},
		{"bad_flag", strings.Replace(storedRow, `"active":"1"`, `"active":"maybe"`, 1), deadLetter(reason.Rejected, 200)},
		{"other_contact", strings.Replace(storedRow, `"id":"12"`, `"id":"13"`, 1), heldWrong(200)},
		{"status_false", updateFail, deadLetter(reason.Rejected, 200)},
		{"cut_short", storedRow[:100], retryConn(200)},
		{"a_list", "[" + storedRow + "]", deadLetter(reason.Rejected, 200)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t).standard().on("GET "+contact12, jsonReply(200, tt.row))

			_, err := newTestClient(t, f).Update(context.Background(), 12, titleOnly)
			wantOutcome(t, err, tt.want)
			for _, r := range f.requests() {
				if r.method == http.MethodPut {
					t.Error("a PUT was made from an unusable row")
				}
			}
		})
	}
}

func TestClassifyPermissionTableProblems(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name  string
		reply canned
		want  outcome
	}{
		{"other_json_404", jsonReply(404, `{"status":false,"message":"Unknown method"}`), heldWrong(404)},
		{"object_not_list", jsonReply(200, `{"id":"7","permission_id":"5","userid":"12"}`), heldWrong(200)},
		{"unreadable_row", jsonReply(200, `[{"permission_id":"x","userid":"12"}]`), heldWrong(200)},
		{"others_unreadable_rows_ignored", jsonReply(200, `[{"permission_id":"x","userid":"13"},{"permission_id":"2","userid":"12"}]`), applied},
		{"cut_short", jsonReply(200, permissionRows[:60]), retryConn(200)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t).standard().on("GET "+permsPath, tt.reply)

			_, err := newTestClient(t, f).Update(context.Background(), 12, titleOnly)
			wantOutcome(t, err, tt.want)
		})
	}
}

func TestClassifyContactIDMustBePositive(t *testing.T) {
	t.Parallel()
	f := newFake(t)

	_, err := newTestClient(t, f).Update(context.Background(), 0, command.ContactData{Title: ptr("x")})
	wantOutcome(t, err, deadLetter(reason.Malformed, 0))
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests made", n)
	}
}

func asPermanentError(err error, pe **PermanentError) bool {
	p, ok := err.(*PermanentError)
	*pe = p
	return ok
}
