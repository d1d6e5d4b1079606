package crm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// Update applies data to contact contactID as a true partial update: it
// reads the contact (and, with PermissionsCustomTable, its portal
// permissions unless data sets them), lays data's fields over them, and
// writes the full set back with flags encoded by presence, because Perfex
// resets whatever a PUT leaves out.
//
// It returns a nil error when Perfex holds data's values afterwards, and a
// *PermanentError, *TransientError or *HeldError otherwise. The Result's
// Requests and RateLimit are filled in either case. A cancelled ctx gives a
// *TransientError that wraps ctx's error.
func (c *Client) Update(ctx context.Context, contactID int64, data command.ContactData) (Result, error) {
	if contactID <= 0 {
		return Result{}, &PermanentError{
			Reason:  reason.Malformed,
			Message: fmt.Sprintf("contact id must be positive, got %d", contactID),
		}
	}
	rn := c.newRun(data.Password)

	stored, err := c.readContact(ctx, rn, contactID)
	if err != nil {
		return rn.result(), err
	}
	var perms []int
	if data.Permissions == nil && c.cfg.PermissionsSource == PermissionsCustomTable {
		if perms, err = c.readPermissions(ctx, rn, contactID, false); err != nil {
			return rn.result(), err
		}
	}

	payload, err := json.Marshal(merge(stored, perms, data).body())
	if err != nil {
		return rn.result(), &PermanentError{Reason: reason.Malformed, Message: "encoding the update: " + err.Error()}
	}
	put, err := c.call(ctx, rn, http.MethodPut, contactPath(contactID), payload)
	if err != nil {
		return rn.result(), err
	}

	if _, isJSON := put.object(); put.status == http.StatusNotFound && isJSON {
		return c.confirmUnchanged(ctx, rn, contactID, data, put)
	}
	if err := classify(put, rn.mask); err != nil {
		return rn.result(), err
	}
	return rn.result(), nil
}

// confirmUnchanged decides a PUT answered with a JSON 404, which Perfex
// sends when the update changed nothing, by reading the contact again:
// applied if it holds every value data sets, not_found if it is gone,
// rejected otherwise.
//
// A password cannot be compared, the row holding only a hash. When
// everything else matches the update counts as applied: Perfex answers
// "nothing changed" only when the write left the row as it was, so the
// password, if it was taken at all, is the one already stored.
func (c *Client) confirmUnchanged(ctx context.Context, rn *run, contactID int64, data command.ContactData, put *reply) (Result, error) {
	now, err := c.readContact(ctx, rn, contactID)
	if err != nil {
		return rn.result(), err
	}

	field, ok := holds(now, data)
	if ok && data.Permissions != nil && c.cfg.PermissionsSource == PermissionsCustomTable {
		perms, err := c.readPermissions(ctx, rn, contactID, false)
		if err != nil {
			return rn.result(), err
		}
		if !slices.Equal(perms, normalisePermissions(*data.Permissions)) {
			field, ok = "permissions", false
		}
	}

	if !ok {
		doc, _ := put.object()
		pe := permanent(reason.Rejected, put, rn.mask, rn.mask.text(doc.message()), nil)
		pe.Message = fmt.Sprintf("%s (Perfex reported no change, yet the contact does not hold the command's %s)",
			pe.Message, field)
		return rn.result(), pe
	}
	res := rn.result()
	res.NothingChanged = true
	return res, nil
}

// readContact reads and parses the stored contact.
func (c *Client) readContact(ctx context.Context, rn *run, contactID int64) (contact, error) {
	path := contactPath(contactID)
	r, err := c.call(ctx, rn, http.MethodGet, path, nil)
	if err != nil {
		return contact{}, err
	}
	if !r.success() {
		return contact{}, classify(r, rn.mask)
	}
	if r.html() {
		return contact{}, held(reason.WrongEndpoint, r, rn.mask,
			fmt.Sprintf("GET %s answered a web page instead of a contact: %s", path, wrongEndpointHint))
	}

	stored, err := parseContact(r.body)
	switch {
	case err == nil:
	case errors.Is(err, io.ErrUnexpectedEOF):
		return contact{}, c.cutShort(ctx, r.method, path, r.status, err)
	default:
		if failure := classify(r, rn.mask); failure != nil {
			return contact{}, failure
		}
		pe := permanent(reason.Rejected, r, rn.mask, "", nil)
		pe.Message = fmt.Sprintf("GET %s: cannot read the stored contact: %v", path, err)
		return contact{}, pe
	}

	if stored.ID != 0 && stored.ID != contactID {
		return contact{}, held(reason.WrongEndpoint, r, rn.mask,
			fmt.Sprintf("GET %s answered contact %d: %s", path, stored.ID, wrongEndpointHint))
	}
	return stored, nil
}
