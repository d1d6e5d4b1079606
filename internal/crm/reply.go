package crm

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
)

// replyDoc is the envelope of Perfex's JSON answers. Every field is kept
// raw because installations disagree on types: "error" is a code string in
// some and an object of field errors in others.
type replyDoc struct {
	Status  json.RawMessage `json:"status"`
	Message json.RawMessage `json:"message"`
	Error   json.RawMessage `json:"error"`
	Errors  json.RawMessage `json:"errors"`
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// trimBody drops the whitespace and the byte-order mark PHP files
// sometimes print before a reply.
func trimBody(b []byte) []byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	b = bytes.TrimPrefix(b, utf8BOM)
	return bytes.TrimLeft(b, " \t\r\n")
}

// isHTML reports whether a reply is a web page: said so by its
// Content-Type, or starting with '<'. Such a body is never parsed as
// JSON, even when a JSON object hides in it.
func isHTML(h http.Header, body []byte) bool {
	if ct := h.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err == nil && (mt == "text/html" || mt == "application/xhtml+xml") {
			return true
		}
	}
	b := trimBody(body)
	return len(b) > 0 && b[0] == '<'
}

// decodeFirst decodes the first JSON value of body into v, ignoring what
// follows it (PHP prints warnings after the JSON it already sent). It
// fails unless that value is an object.
func decodeFirst(body []byte, v any) error {
	b := trimBody(body)
	if len(b) == 0 || b[0] != '{' {
		return errNotObject
	}
	return json.NewDecoder(bytes.NewReader(b)).Decode(v)
}

type jsonError string

func (e jsonError) Error() string { return string(e) }

const errNotObject = jsonError("reply is not a JSON object")

// object returns the reply's JSON envelope, or false when the body is
// HTML or does not start with a JSON object.
func (r *reply) object() (*replyDoc, bool) {
	if r.parsed == 0 {
		r.parsed = -1
		if !isHTML(r.header, r.body) && decodeFirst(r.body, &r.doc) == nil {
			r.parsed = 1
		}
	}
	return &r.doc, r.parsed == 1
}

func (r *reply) html() bool { return isHTML(r.header, r.body) }

func (r *reply) success() bool { return r.status >= 200 && r.status < 300 }

// failed reports whether "status" says false. Perfex sends a JSON
// boolean; strings and numbers are accepted for older installations.
func (d *replyDoc) failed() bool {
	switch strings.ToLower(strings.TrimSpace(string(d.Status))) {
	case "false", "0", `"0"`, `"false"`:
		return true
	}
	return false
}

// message is Perfex's message as text, whatever its JSON type.
func (d *replyDoc) message() string {
	return rawText(d.Message)
}

// fieldErrors collects per-field errors from "errors" and from "error"
// when it is an object. Values that are lists are joined with "; ".
func (d *replyDoc) fieldErrors() map[string]string {
	var out map[string]string
	for _, raw := range []json.RawMessage{d.Error, d.Errors} {
		var fields map[string]json.RawMessage
		if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
			continue
		}
		for k, v := range fields {
			if out == nil {
				out = make(map[string]string, len(fields))
			}
			out[k] = rawText(v)
		}
	}
	return out
}

// rawText renders a JSON value as text: a string as itself, a list of
// strings joined, anything else as its compact JSON.
func rawText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		parts := make([]string, 0, len(list))
		for _, item := range list {
			if t := rawText(item); t != "" {
				parts = append(parts, t)
			}
		}
		return strings.Join(parts, "; ")
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}
