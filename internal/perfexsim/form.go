package perfexsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"
)

// flagFields are the seven notification flags, in Perfex's column order.
var flagFields = [7]string{
	"invoice_emails", "estimate_emails", "credit_note_emails",
	"contract_emails", "task_emails", "project_emails", "ticket_emails",
}

// fieldOrder is the order in which field errors are checked; a legacy
// installation reports the first one only.
var fieldOrder = []string{
	"firstname", "lastname", "email", "title", "phonenumber",
	"direction", "userid", "active", "password", "permissions",
}

// fieldLabels are the names Perfex's validation messages use.
var fieldLabels = map[string]string{
	"firstname":   "First Name",
	"lastname":    "Last Name",
	"email":       "Email",
	"title":       "Position",
	"phonenumber": "Phone",
	"direction":   "Direction",
	"userid":      "Customer",
	"active":      "Active",
	"password":    "Password",
	"permissions": "Permissions",
}

// fieldErrors maps a field to its validation message.
type fieldErrors map[string]string

// first returns the message of the first failing field in fieldOrder.
func (fe fieldErrors) first() string {
	for _, f := range fieldOrder {
		if m, ok := fe[f]; ok {
			return m
		}
	}
	return msgValidation
}

// update is a PUT body read the way Perfex core reads it.
type update struct {
	firstName, lastName, email string

	title, phone, direction *string
	userID                  *int64
	active                  *bool
	// password is the new portal password, "" to keep the stored one.
	password string

	isPrimary   bool
	flags       [7]bool
	permissions []int

	// errs holds the errors found without looking at stored data.
	errs fieldErrors
}

// isJSON reports whether a Content-Type header names JSON.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// decodeForm decodes a JSON object body into its fields. As with PHP's
// isset, a key whose value is null counts as absent. It reports false when
// there is nothing to read: no body, not a JSON object, or no keys.
func decodeForm(body []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()

	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, false
	}

	for k, v := range m {
		if v == nil {
			delete(m, k)
		}
	}
	return m, len(m) > 0
}

// readUpdate reads and checks the fields of form that can be checked
// without stored data.
func readUpdate(form map[string]any) *update {
	u := &update{errs: fieldErrors{}}

	u.firstName = u.required(form, "firstname")
	u.lastName = u.required(form, "lastname")
	u.email = u.required(form, "email")
	if u.email != "" && !validEmail(u.email) {
		u.errs["email"] = "The Email field must contain a valid email address."
	}

	u.title = u.optional(form, "title")
	u.phone = u.optional(form, "phonenumber")
	u.direction = u.optional(form, "direction")
	if d := u.direction; d != nil && *d != "" && *d != "ltr" && *d != "rtl" {
		u.errs["direction"] = "The Direction field must be one of: ltr,rtl."
	}

	u.readUserID(form)
	u.readActive(form)
	if p := u.optional(form, "password"); p != nil {
		u.password = *p
	}

	_, u.isPrimary = form["is_primary"]
	for i, f := range flagFields {
		_, u.flags[i] = form[f]
	}
	u.readPermissions(form)
	return u
}

// scalar renders a JSON scalar as PHP would turn it into a string.
func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		if v {
			return "1", true
		}
		return "", true
	}
	return "", false
}

// required reads a field that must be present and not blank.
func (u *update) required(form map[string]any, field string) string {
	p := u.optional(form, field)
	if _, failed := u.errs[field]; failed {
		return ""
	}
	if p == nil || strings.TrimSpace(*p) == "" {
		u.errs[field] = fmt.Sprintf("The %s field is required.", fieldLabels[field])
		return ""
	}
	return *p
}

// optional reads a text field, nil when absent.
func (u *update) optional(form map[string]any, field string) *string {
	v, ok := form[field]
	if !ok {
		return nil
	}

	s, ok := scalar(v)
	if !ok {
		u.errs[field] = fmt.Sprintf("The %s field must be a single value.", fieldLabels[field])
		return nil
	}
	return &s
}

func (u *update) readUserID(form map[string]any) {
	p := u.optional(form, "userid")
	if p == nil {
		return
	}

	id, err := strconv.ParseInt(strings.TrimSpace(*p), 10, 64)
	if err != nil || id <= 0 {
		u.errs["userid"] = msgNoSuchCustomer
		return
	}
	u.userID = &id
}

// msgNoSuchCustomer is the error for a userid that names no customer.
const msgNoSuchCustomer = "The Customer field must name an existing customer."

func (u *update) readActive(form map[string]any) {
	p := u.optional(form, "active")
	if p == nil {
		return
	}

	switch strings.TrimSpace(*p) {
	case "1":
		u.active = new(true)
	case "0", "":
		u.active = new(false)
	default:
		u.errs["active"] = "The Active field must be 1 or 0."
	}
}

// readPermissions reads the permission ids the way core matches them: each
// known permission is kept when the array holds it, in any spelling PHP's
// loose comparison accepts for an integer; anything else is ignored.
func (u *update) readPermissions(form map[string]any) {
	v, ok := form["permissions"]
	if !ok {
		return
	}

	arr, ok := v.([]any)
	if !ok {
		u.errs["permissions"] = "The Permissions field must be an array of permission ids."
		return
	}

	for _, e := range arr {
		s, ok := scalar(e)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err == nil && !slices.Contains(u.permissions, n) {
			u.permissions = append(u.permissions, n)
		}
	}
}
