package perfexsim

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Messages Perfex and its REST module put in JSON bodies
// (docs/perfex-wire.md).
const (
	msgUpdated         = "Contact Updated Successfully."
	msgUpdateFail      = "Contact Update Fail."
	msgNothingChanged  = "Client Update Fail."
	msgContactNotFound = "Contact not found"
	msgEmailExists     = "Email already exists"
	msgEmailInUse      = "This Email is already in use"
	msgModified        = "Record was modified by another user"
	msgNotAcceptable   = "Not Acceptable"
	msgNoData          = "No data were found"
	msgTableForbidden  = "Access to this table is not allowed"
	msgTokenMissing    = "Token is not defined."
	msgTokenInvalid    = "Invalid Token"
	msgNoPermission    = "You do not have permission to perform this action"
	msgTimeLimit       = "This API key has reached the time limit for this method"
	msgTooMany         = "Too Many Requests"
	msgInternal        = "Internal Server Error"
	msgValidation      = "Validation failed"
	msgUnknownMethod   = "Unknown method"
)

// Content types of the replies.
const (
	contentJSON = "application/json; charset=utf-8"
	contentHTML = "text/html; charset=UTF-8"
)

// phpWarning is what PHP prints when display_errors is on and a notice
// fires after the controller has echoed its JSON.
const phpWarning = "<br />\n<b>Warning</b>:  Undefined array key \"customfields\" in " +
	"<b>/var/www/html/modules/api/controllers/Contacts.php</b> on line <b>212</b><br />\n"

// reply is one HTTP answer, built before anything is written so that a
// fault can still replace or drop it.
type reply struct {
	status int
	html   bool
	body   []byte

	// retryAfter, when positive, is sent as Retry-After in seconds.
	retryAfter int
	// allow, when set, is sent as Allow.
	allow string
}

// messageBody is the {"status":...,"message":...} body most answers carry.
type messageBody struct {
	Status  bool   `json:"status"`
	Message string `json:"message"`
}

// fieldConflictBody is a 409 with field errors under "error".
type fieldConflictBody struct {
	Status  bool              `json:"status"`
	Message string            `json:"message"`
	Error   map[string]string `json:"error"`
}

// validationBody is a v3 422 with field errors under "errors".
type validationBody struct {
	Status  bool              `json:"status"`
	Error   string            `json:"error"`
	Message string            `json:"message"`
	Errors  map[string]string `json:"errors"`
}

// jsonReply encodes v as the body of a reply with the given status.
func jsonReply(status int, v any) reply {
	body, err := json.Marshal(v)
	if err != nil {
		// Only the package's own body types get here; they always encode.
		panic(fmt.Sprintf("perfexsim: encoding reply: %v", err))
	}

	return reply{status: status, body: body}
}

// messageReply is a reply with a status/message body.
func messageReply(status int, ok bool, msg string) reply {
	return jsonReply(status, messageBody{Status: ok, Message: msg})
}

// htmlReply is the page a web server or proxy serves for status.
func htmlReply(status int) reply {
	text := http.StatusText(status)
	var detail string
	switch status {
	case http.StatusNotFound:
		detail = "Nothing is published at this address on this server."
	case http.StatusInternalServerError:
		detail = "The application stopped before it could answer."
	case http.StatusBadGateway:
		detail = "The upstream application sent an answer that could not be read."
	case http.StatusServiceUnavailable:
		detail = "The service is down for maintenance. Come back in a moment."
	case http.StatusGatewayTimeout:
		detail = "The upstream application did not answer in time."
	default:
		detail = "The request could not be served."
	}

	page := fmt.Sprintf("<!DOCTYPE html>\n<html>\n<head><title>%d %s</title></head>\n"+
		"<body>\n<h1>%s</h1>\n<p>%s</p>\n<hr>\n<address>Apache Server</address>\n</body>\n</html>\n",
		status, text, text, detail)
	return reply{status: status, html: true, body: []byte(page)}
}

// write sends r with the rate-limit headers of rs.
func (r reply) write(w http.ResponseWriter, rs rateState, warning bool) {
	h := w.Header()
	rs.setHeaders(h)

	if r.html {
		h.Set("Content-Type", contentHTML)
	} else {
		h.Set("Content-Type", contentJSON)
	}
	if r.retryAfter > 0 {
		h.Set("Retry-After", fmt.Sprint(r.retryAfter))
	}
	if r.allow != "" {
		h.Set("Allow", r.allow)
	}

	body := r.body
	if warning && !r.html && r.status >= 200 && r.status < 300 {
		body = append(body[:len(body):len(body)], phpWarning...)
	}

	w.WriteHeader(r.status)
	_, _ = w.Write(body)
}
