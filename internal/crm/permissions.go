package crm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/perfexworker/perfex-worker/internal/reason"
)

// permissionsPath is the allow-listed table that holds portal permissions
// (docs/perfex-wire.md, "Portal permissions").
const permissionsPath = "/thirdparty/customtable/contact_permissions"

// permissionsHint tells the operator the two ways out of a table the
// client cannot read.
const permissionsHint = "allow-list the contact_permissions table in the API module's settings, " +
	"or run with --permissions-source=command so that commands carry the permissions " +
	"(without either, every update would remove the contact's portal permissions)"

// readPermissions returns the ids of contactID's portal permissions,
// sorted, never nil. The table answers with every row of every contact,
// so the reply is streamed rather than read whole. With probeOnly it
// returns as soon as the reply is known to be a JSON array.
func (c *Client) readPermissions(ctx context.Context, rn *run, contactID int64, probeOnly bool) ([]int, error) {
	resp, cancel, err := c.send(ctx, rn, http.MethodGet, permissionsPath, nil)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()

	br := bufio.NewReader(resp.Body)
	if resp.StatusCode/100 == 2 && firstByte(br) == '[' && !isHTML(resp.Header, nil) {
		if probeOnly {
			return []int{}, nil
		}
		ids, err := decodePermissionRows(br, contactID)
		if err == nil {
			return ids, nil
		}
		var re *rowError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &re) || errors.As(err, &se) || errors.As(err, &te) {
			return nil, &HeldError{
				Reason: reason.WrongEndpoint, Status: resp.StatusCode,
				Message: fmt.Sprintf("GET %s answered rows the client cannot read (%v): %s",
					permissionsPath, err, wrongEndpointHint),
			}
		}
		return nil, c.cutShort(ctx, http.MethodGet, permissionsPath, resp.StatusCode, err)
	}

	body, err := io.ReadAll(io.LimitReader(br, maxReply))
	if err != nil {
		return nil, c.cutShort(ctx, http.MethodGet, permissionsPath, resp.StatusCode, err)
	}
	r := &reply{method: http.MethodGet, path: permissionsPath, status: resp.StatusCode, header: resp.Header, body: body}
	if err := permissionsFailure(r, rn.mask); err != nil {
		return nil, err
	}
	return []int{}, nil
}

// permissionsFailure classifies a reply of the table that is not a list
// of rows; nil means the table is empty. Only the module's own "No data were found" means an empty
// table: another 404 could be an installation without the custom-table
// endpoint, and reading that as "no permissions" would remove them all.
func permissionsFailure(r *reply, m *masker) error {
	doc, isJSON := r.object()
	msg := ""
	if isJSON {
		msg = m.text(doc.message())
	}
	switch {
	case r.status == http.StatusNotFound && isJSON && strings.Contains(strings.ToLower(msg), "no data"):
		return nil
	case r.status == http.StatusForbidden:
		text := "Perfex refuses to read the contact_permissions table"
		if msg != "" {
			text += " (" + msg + ")"
		}
		return held(reason.WrongEndpoint, r, m, text+": "+permissionsHint)
	case r.status == http.StatusNotFound && isJSON:
		return held(reason.WrongEndpoint, r, m, fmt.Sprintf(
			"GET %s answered 404 (%s): the installation may lack the custom-table endpoint; %s",
			permissionsPath, msg, permissionsHint))
	case r.success() && !(isJSON && doc.failed()):
		return held(reason.WrongEndpoint, r, m, fmt.Sprintf(
			"GET %s did not answer a JSON list of rows: %s", permissionsPath, wrongEndpointHint))
	}
	return classify(r, m)
}

// firstByte peeks at the first byte of a reply that is not whitespace or
// a byte-order mark, without consuming it; 0 when there is none.
func firstByte(br *bufio.Reader) byte {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
			continue
		}
		if bom, err := br.Peek(len(utf8BOM)); err == nil && string(bom) == string(utf8BOM) {
			_, _ = br.Discard(len(utf8BOM))
			continue
		}
		return b[0]
	}
}

// decodePermissionRows reads a JSON array of {"permission_id","userid"}
// rows and keeps the permission ids of contactID. What follows the array
// (a PHP warning) is not read.
func decodePermissionRows(r io.Reader, contactID int64) ([]int, error) {
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	ids := []int{}
	for dec.More() {
		var row map[string]json.RawMessage
		if err := dec.Decode(&row); err != nil {
			return nil, err
		}
		user, err := parseID("userid", row["userid"])
		if err != nil {
			return nil, err
		}
		if user != contactID {
			continue
		}
		perm, err := parseID("permission_id", row["permission_id"])
		if err != nil || perm == 0 || perm > 1<<31 {
			return nil, &rowError{"permission_id", "is not a permission id"}
		}
		ids = append(ids, int(perm))
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return normalisePermissions(ids), nil
}
