package crm

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

var probePath = "/contacts/" + strconv.Itoa(probeContactID)

func TestProbe(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name    string
		source  string
		contact canned
		table   canned
		want    outcome
	}{
		{"json_404_is_ok", PermissionsCustomTable, jsonReply(404, noData), jsonReply(200, permissionRows), applied},
		{"row_is_ok", PermissionsCustomTable, jsonReply(200, storedRow), jsonReply(404, noData), applied},
		{"html_404_held", PermissionsCustomTable, htmlReply(404, htmlPage), jsonReply(200, permissionRows), heldWrong(404)},
		{"bad_token_held", PermissionsCustomTable, jsonReply(401, `{"status":false,"message":"Invalid Token"}`),
			jsonReply(200, permissionRows), heldAuth(401)},
		{"proxy_down_retries", PermissionsCustomTable, htmlReply(503, htmlBadGate), jsonReply(200, permissionRows), retryConn(503)},
		{"rate_limited_retries", PermissionsCustomTable, jsonReply(429, `{"status":false,"message":"Too Many Requests"}`),
			jsonReply(200, permissionRows), retryLimited(429)},
		{"table_refused_held", PermissionsCustomTable, jsonReply(404, noData), jsonReply(403, tableNotAllowed), heldWrong(403)},
		{"table_ignored_with_command_source", PermissionsCommand, jsonReply(404, noData), jsonReply(403, tableNotAllowed), applied},
		{"odd_answer_held", PermissionsCustomTable, jsonReply(406, `{"status":false,"message":"Not Acceptable"}`),
			jsonReply(200, permissionRows), heldWrong(406)},
		{"page_200_held", PermissionsCustomTable, htmlReply(200, htmlPage), jsonReply(200, permissionRows), heldWrong(200)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t).on("GET "+probePath, tt.contact).on("GET "+permsPath, tt.table)
			c := newTestClient(t, f, func(c *Config) { c.PermissionsSource = tt.source })

			err := c.Probe(context.Background())
			wantOutcome(t, err, tt.want)
			if tt.name == "table_refused_held" && !strings.Contains(err.Error(), "--permissions-source=command") {
				t.Errorf("err = %v, want the way out named", err)
			}
			for _, r := range f.requests() {
				if r.header.Get("authtoken") != testToken || r.rawQuery != "" {
					t.Errorf("%s %s: token not in the header alone", r.method, r.path)
				}
			}
		})
	}
}

func TestProbeResumesAfterFix(t *testing.T) {
	t.Parallel()
	f := newFake(t).
		on("GET "+probePath, jsonReply(401, `{"status":false,"message":"Invalid Token"}`), jsonReply(404, noData)).
		on("GET "+permsPath, jsonReply(200, permissionRows))
	c := newTestClient(t, f)

	if err := c.Probe(context.Background()); !IsHeld(err) {
		t.Fatalf("first probe: %v, want held", err)
	}
	if err := c.Probe(context.Background()); err != nil {
		t.Fatalf("second probe: %v", err)
	}
}
