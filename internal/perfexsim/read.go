package perfexsim

import (
	"net/http"
	"strconv"
)

// getContact serves GET /contacts/{id}: the stored row, without
// permissions, every value a string or null.
func (s *Sim) getContact(id int64) reply {
	c, ok := s.store.get(id)
	if !ok {
		return messageReply(http.StatusNotFound, false, msgNoData)
	}
	return jsonReply(http.StatusOK, c.row())
}

// permissionRowJSON is a contact_permissions row as the custom-table
// endpoint sends it; userid is the contact's id.
type permissionRowJSON struct {
	ID           string `json:"id"`
	PermissionID string `json:"permission_id"`
	UserID       string `json:"userid"`
}

// getPermissions serves GET /thirdparty/customtable/contact_permissions:
// every row, 404 when the table is empty, 403 when it is not allow-listed.
func (s *Sim) getPermissions() reply {
	if PermissionsMode(s.permissions.Load()) == PermissionsForbidden {
		return messageReply(http.StatusForbidden, false, msgTableForbidden)
	}

	rows := s.store.permissionRows()
	if len(rows) == 0 {
		return messageReply(http.StatusNotFound, false, msgNoData)
	}

	out := make([]permissionRowJSON, len(rows))
	for i, r := range rows {
		out[i] = permissionRowJSON{
			ID:           strconv.FormatInt(r.id, 10),
			PermissionID: strconv.Itoa(r.permissionID),
			UserID:       strconv.FormatInt(r.contactID, 10),
		}
	}
	return jsonReply(http.StatusOK, out)
}
