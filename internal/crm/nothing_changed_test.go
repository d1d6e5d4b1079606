package crm

import (
	"context"
	"strings"
	"testing"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// A PUT answered 404 "Client Update Fail." is how Perfex says nothing
// changed; the client reads the contact again to tell that from a failure.
func TestNothingChanged(t *testing.T) {
	t.Parallel()
	retitled := strings.Replace(storedRow, `"title":"Gerente"`, `"title":"Diretora"`, 1)

	for _, tt := range []struct {
		name      string
		data      command.ContactData
		reread    canned // the second GET of the contact
		table     []canned
		want      outcome
		wantReqs  int
		wantInMsg string
	}{
		{"confirmed", command.ContactData{Title: ptr("Diretora"), IsPrimary: ptr(true)},
			jsonReply(200, retitled), nil, applied, 4, ""},
		{"contact_gone", titleOnly, jsonReply(404, noData), nil, deadLetter(reason.NotFound, 404), 4, ""},
		{"values_differ", titleOnly, jsonReply(200, storedRow), nil,
			deadLetter(reason.Rejected, 404), 4, "title"},
		// The hash cannot be compared; everything else matches.
		{"password_not_comparable", command.ContactData{Title: ptr("Diretora"), Password: ptr(testPassword)},
			jsonReply(200, retitled), nil, applied, 4, ""},
		{"permissions_confirmed", command.ContactData{Permissions: &[]int{5, 1}},
			jsonReply(200, storedRow), []canned{jsonReply(200, permissionRows)}, applied, 4, ""},
		{"permissions_differ", command.ContactData{Permissions: &[]int{5}},
			jsonReply(200, storedRow), []canned{jsonReply(200, permissionRows)},
			deadLetter(reason.Rejected, 404), 4, "permissions"},
		{"reread_fails", titleOnly, htmlReply(503, htmlBadGate), nil, retryConn(503), 4, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t).standard().
				on("GET "+contact12, jsonReply(200, storedRow), tt.reread).
				on("PUT "+contact12, jsonReply(404, clientFail))
			if tt.table != nil {
				f.on("GET "+permsPath, tt.table...)
			}

			res, err := newTestClient(t, f).Update(context.Background(), 12, tt.data)
			wantOutcome(t, err, tt.want)
			if res.Requests != tt.wantReqs {
				t.Errorf("Requests = %d, want %d", res.Requests, tt.wantReqs)
			}
			if err == nil && !res.NothingChanged {
				t.Error("NothingChanged = false")
			}
			if tt.wantInMsg != "" && !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("error %q does not name %q", err, tt.wantInMsg)
			}
		})
	}
}
