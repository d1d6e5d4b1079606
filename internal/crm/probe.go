package crm

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/perfexworker/perfex-worker/internal/reason"
)

// probeContactID is the contact Probe asks for: the largest MySQL INT, so
// that the answer is almost always a short JSON 404 rather than a row of
// personal data. Id 0 is avoided: PHP reads it as "no id" and may list
// every contact.
const probeContactID = 2147483647

// Probe makes a cheap authenticated request and reports whether the token
// and the endpoint work, to resume after a *HeldError. It returns nil, a
// *HeldError or a *TransientError. A JSON 404 counts as working: the API
// answered and accepted the token.
//
// With PermissionsCustomTable it also checks that the contact_permissions
// table can be read, since a refused table holds the worker as well; it
// stops reading that reply as soon as it sees the start of a JSON list.
func (c *Client) Probe(ctx context.Context) error {
	rn := c.newRun(nil)
	path := contactPath(probeContactID)

	r, err := c.call(ctx, rn, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	_, isJSON := r.object()
	switch {
	case r.success() && r.html():
		return held(reason.WrongEndpoint, r, rn.mask,
			fmt.Sprintf("GET %s answered a web page: %s", path, wrongEndpointHint))
	case r.success(), r.status == http.StatusNotFound && isJSON:
	default:
		return heldIfPermanent(classify(r, rn.mask))
	}

	if c.cfg.PermissionsSource != PermissionsCustomTable {
		return nil
	}
	_, err = c.readPermissions(ctx, rn, probeContactID, true)
	return heldIfPermanent(err)
}

// heldIfPermanent turns a permanent outcome into a held one: a probe
// concerns no command, so an answer that would dead-letter one means the
// API does not behave as the client expects.
func heldIfPermanent(err error) error {
	var pe *PermanentError
	if !errors.As(err, &pe) {
		return err
	}
	msg := fmt.Sprintf("the probe got an unexpected answer (%s): %s", pe.Reason, wrongEndpointHint)
	if pe.Message != "" {
		msg = fmt.Sprintf("the probe got an unexpected answer (%s: %s): %s", pe.Reason, pe.Message, wrongEndpointHint)
	}
	return &HeldError{Reason: reason.WrongEndpoint, Status: pe.Status, Message: msg, Excerpt: pe.Excerpt}
}
