package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/perfexworker/perfex-worker/internal/jsonscan"
)

// Decode parses and validates a command received on subject. It is strict:
// unknown or repeated fields, null values, wrong types, trailing data, a
// body over MaxSize or not UTF-8, or a subject that disagrees with the body
// are malformed; an unknown type is an unknown operation; a bad data.email
// is an invalid email. Every error is a *ValidationError naming the problem
// and, when there is one, the field. Pass an empty subject to skip the
// subject check (for example when publishing).
//
// The type is looked at first: a command of a type this worker does not
// know is an unknown operation whatever its other fields hold, so that it
// can be replayed once the worker learns the type.
//
// On success the returned command's email, if any, is the bare address that
// will reach Perfex (see ValidateEmail).
func Decode(subject string, body []byte) (Command, error) {
	if len(body) > MaxSize {
		return Command{}, malformed("", "body is %d bytes, over the %d byte limit", len(body), MaxSize)
	}
	if !utf8.Valid(body) {
		return Command{}, malformed("", "body is not valid UTF-8")
	}

	members, err := readObject(body)
	if err != nil {
		return Command{}, malformed("", "body %s", err)
	}
	top := make(map[string]json.RawMessage, len(members))
	for _, m := range members {
		top[m.key] = m.raw
	}

	var cmd Command
	if err := decodeString("type", top["type"], &cmd.Type); err != nil {
		return Command{}, err
	}
	if err := checkType(cmd.Type); err != nil {
		return Command{}, err
	}

	for _, m := range members {
		if err := decodeTopField(&cmd, m); err != nil {
			return Command{}, err
		}
	}
	for _, key := range []string{"id", "contact_id", "data"} {
		if _, ok := top[key]; !ok {
			return Command{}, malformed(key, "is required")
		}
	}
	if err := cmd.checkEnvelope(); err != nil {
		return Command{}, err
	}
	if subject != "" {
		if err := checkSubject(subject, cmd.ContactID); err != nil {
			return Command{}, err
		}
	}

	if err := cmd.Data.validate(); err != nil {
		return Command{}, err
	}
	return cmd, nil
}

// decodeTopField decodes one top-level member into cmd. The type was
// decoded already.
func decodeTopField(cmd *Command, m member) error {
	if isNull(m.raw) {
		if !isTopField(m.key) {
			return malformed(clip(m.key), "unknown field")
		}
		return malformed(m.key, "must not be null")
	}

	switch m.key {
	case "type":
		return nil
	case "id":
		return decodeString("id", m.raw, &cmd.ID)
	case "contact_id":
		return decodeInteger("contact_id", m.raw, &cmd.ContactID)
	case "occurred_at":
		var s string
		if err := decodeString("occurred_at", m.raw, &s); err != nil {
			return err
		}
		t, err := parseTimestamp(s)
		if err != nil {
			return err
		}
		cmd.OccurredAt = &t
		return nil
	case "data":
		data, err := decodeData(m.raw)
		if err != nil {
			return err
		}
		cmd.Data = data
		return nil
	}
	return malformed(clip(m.key), "unknown field")
}

// topFields are the top-level members a command may carry, in wire order.
var topFields = []string{"id", "type", "contact_id", "occurred_at", "data"}

func isTopField(key string) bool {
	for _, f := range topFields {
		if f == key {
			return true
		}
	}
	return false
}

// parseTimestamp reads an RFC 3339 timestamp. It refuses what Go's parser
// tolerates beyond RFC 3339 and what would not survive re-encoding.
func parseTimestamp(s string) (time.Time, error) {
	const example = "2026-12-03T10:00:00Z"
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || strings.Contains(s, ",") { // Go also reads a comma before the fraction
		return time.Time{}, malformed("occurred_at", "must be an RFC 3339 timestamp such as %s, got %s",
			example, quoteClipped(s))
	}
	if _, err := t.MarshalJSON(); err != nil {
		return time.Time{}, malformed("occurred_at", "has a time zone offset outside ±23:59: %s",
			quoteClipped(s))
	}
	return t, nil
}

// checkSubject checks that subject is <prefix>.cmd.contact.update.<id> with
// id the body's contact_id written as Subject writes it.
func checkSubject(subject string, contactID int64) error {
	const infix = ".cmd.contact.update."
	i := strings.LastIndex(subject, infix)
	if i <= 0 || strings.Contains(subject[i+len(infix):], ".") {
		return malformed("", "subject %s is not a contact update subject", quoteClipped(subject))
	}
	tail := subject[i+len(infix):]
	if tail != strconv.FormatInt(contactID, 10) {
		return malformed("contact_id", "subject %s names contact %s but the body says %d",
			quoteClipped(subject), quoteClipped(tail), contactID)
	}
	return nil
}

// dataFields maps each key data may carry to the ContactData field it
// fills. It is the one list of accepted keys; tests check it against the
// struct tags and the JSON Schema.
var dataFields = map[string]func(d *ContactData) any{
	"userid":             func(d *ContactData) any { return &d.UserID },
	"firstname":          func(d *ContactData) any { return &d.FirstName },
	"lastname":           func(d *ContactData) any { return &d.LastName },
	"email":              func(d *ContactData) any { return &d.Email },
	"phonenumber":        func(d *ContactData) any { return &d.PhoneNumber },
	"title":              func(d *ContactData) any { return &d.Title },
	"direction":          func(d *ContactData) any { return &d.Direction },
	"is_primary":         func(d *ContactData) any { return &d.IsPrimary },
	"password":           func(d *ContactData) any { return &d.Password },
	"active":             func(d *ContactData) any { return &d.Active },
	"invoice_emails":     func(d *ContactData) any { return &d.InvoiceEmails },
	"estimate_emails":    func(d *ContactData) any { return &d.EstimateEmails },
	"credit_note_emails": func(d *ContactData) any { return &d.CreditNoteEmails },
	"contract_emails":    func(d *ContactData) any { return &d.ContractEmails },
	"task_emails":        func(d *ContactData) any { return &d.TaskEmails },
	"project_emails":     func(d *ContactData) any { return &d.ProjectEmails },
	"ticket_emails":      func(d *ContactData) any { return &d.TicketEmails },
	"permissions":        func(d *ContactData) any { return &d.Permissions },
}

func decodeData(raw json.RawMessage) (ContactData, error) {
	members, err := readObject(raw)
	if err != nil {
		return ContactData{}, malformed("data", "%s", err)
	}
	if len(members) == 0 {
		return ContactData{}, malformed("data", "must set at least one field")
	}

	var d ContactData
	for _, m := range members {
		target, ok := dataFields[m.key]
		if !ok {
			return ContactData{}, malformed("data."+clip(m.key), "unknown field")
		}
		field := "data." + m.key
		if isNull(m.raw) {
			return ContactData{}, malformed(field, "must not be null")
		}

		var err error
		switch p := target(&d).(type) {
		case **string:
			*p = new(string)
			err = decodeString(field, m.raw, *p)
		case **bool:
			*p = new(bool)
			err = decodeBool(field, m.raw, *p)
		case **int64:
			*p = new(int64)
			err = decodeInteger(field, m.raw, *p)
		case **[]int:
			*p = new([]int)
			err = decodeIntArray(field, m.raw, *p)
		default:
			panic(fmt.Sprintf("command: no decoder for %s (%T)", field, p))
		}
		if err != nil {
			return ContactData{}, err
		}
	}
	return d, nil
}

func decodeString(field string, raw json.RawMessage, dst *string) error {
	switch {
	case raw == nil:
		return malformed(field, "is required")
	case isNull(raw):
		return malformed(field, "must not be null")
	case raw[0] != '"':
		return malformed(field, "must be a string, got %s", jsonKind(raw))
	case hasLoneSurrogate(raw):
		// encoding/json would turn it into U+FFFD without a word.
		return malformed(field, "has an escaped UTF-16 surrogate that is not part of a pair")
	}
	if s, ok := jsonscan.PlainString(raw); ok {
		*dst = s
		return nil
	}
	return json.Unmarshal(raw, dst)
}

func decodeBool(field string, raw json.RawMessage, dst *bool) error {
	if raw[0] != 't' && raw[0] != 'f' {
		return malformed(field, "must be a boolean, got %s", jsonKind(raw))
	}
	switch string(raw) {
	case "true":
		*dst = true
		return nil
	case "false":
		*dst = false
		return nil
	}
	return json.Unmarshal(raw, dst)
}

func decodeInteger(field string, raw json.RawMessage, dst *int64) error {
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return malformed(field, "must be an integer, got %s", jsonKind(raw))
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return malformed(field,
			"must be an integer within 64 bits, written without fraction or exponent, got %s",
			clip(string(raw)))
	}
	*dst = n
	return nil
}

func decodeIntArray(field string, raw json.RawMessage, dst *[]int) error {
	if raw[0] != '[' {
		return malformed(field, "must be an array of integers, got %s", jsonKind(raw))
	}
	elems, ok := splitArray(raw, make([]json.RawMessage, 0, 8))
	if !ok {
		if err := json.Unmarshal(raw, &elems); err != nil {
			return malformed(field, "%s", err)
		}
	}
	out := make([]int, 0, len(elems))
	for i, e := range elems {
		e = bytes.TrimSpace(e)
		// The element's name is built only for a message: it costs an
		// allocation per element otherwise.
		name := func() string { return fmt.Sprintf("%s[%d]", field, i) }
		if isNull(e) {
			return malformed(name(), "must not be null")
		}
		n, err := strconv.ParseInt(string(e), 10, 64)
		if err != nil || e[0] == '+' {
			if err := decodeInteger(name(), e, &n); err != nil {
				return err
			}
		}
		if int64(int(n)) != n {
			return malformed(name(), "is out of range")
		}
		out = append(out, int(n))
	}
	*dst = out
	return nil
}

// member is one name/value pair of a JSON object, the value undecoded.
type member struct {
	key string
	raw json.RawMessage
}

// readObject reads data as exactly one JSON object and returns its members
// in order. Repeated names are refused: parsers disagree on which one wins,
// so a command carrying two could mean different things to different
// readers. The error says what is wrong, to follow a subject such as "body".
func readObject(data []byte) ([]member, error) {
	if members, ok := splitMembers(data, make([]member, 0, len(dataFields))); ok {
		return members, nil
	}
	return readObjectStrict(data)
}

// readObjectStrict is readObject without the fast path: it decides every
// body splitMembers leaves alone, and words every error.
func readObjectStrict(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxProblem(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("must be a JSON object, got %s", tokenKind(tok))
	}

	members := make([]member, 0, len(dataFields))
	var seen map[string]bool // used once members outgrow a linear search
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxProblem(err)
		}
		key := tok.(string) // Token only returns a string in name position.
		if repeated(members, &seen, key) {
			return nil, fmt.Errorf("repeats the field %s", quoteClipped(key))
		}

		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxProblem(err)
		}
		members = append(members, member{key: key, raw: bytes.TrimSpace(raw)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntaxProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("has data after the JSON object")
	}
	return members, nil
}

// repeated reports whether key is among members, keeping *seen (created
// when first needed) in step so long objects stay linear.
func repeated(members []member, seen *map[string]bool, key string) bool {
	const linear = 32
	if len(members) < linear {
		for _, m := range members {
			if m.key == key {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]bool, 2*len(members))
		for _, m := range members {
			(*seen)[m.key] = true
		}
	}
	if (*seen)[key] {
		return true
	}
	(*seen)[key] = true
	return false
}

func syntaxProblem(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		problem := strings.TrimPrefix(se.Error(), "json: ")
		return fmt.Errorf("is not valid JSON: %s at byte %d", problem, se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("is not valid JSON: it ends too soon")
	}
	return fmt.Errorf("is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func isNull(raw json.RawMessage) bool {
	return string(raw) == "null"
}

// jsonKind names the kind of JSON value raw holds, for messages. It never
// repeats the value: the field may be a secret (a numeric password).
func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a JSON string"
	case '{':
		return "a JSON object"
	case '[':
		return "a JSON array"
	case 't', 'f':
		return "a JSON boolean"
	case 'n':
		return "null"
	}
	return "a JSON number"
}

func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "a JSON array"
	case string:
		return "a JSON string"
	case bool:
		return "a JSON boolean"
	case nil:
		return "null"
	}
	return "a JSON number"
}

// hasLoneSurrogate reports whether the JSON string raw has a \u escape of a
// UTF-16 surrogate that is not half of a well-formed pair.
func hasLoneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 < len(raw) && raw[i+1] != 'u' {
			i++ // a two-character escape such as \\ or \"
			continue
		}
		r := hex4(raw, i+2)
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 > len(raw) || !bytes.HasPrefix(raw[i+6:], []byte(`\u`)) {
				return true
			}
			if low := hex4(raw, i+8); low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 11
		default:
			i += 5
		}
	}
	return false
}

// hex4 reads four hex digits at raw[i:], or returns -1.
func hex4(raw []byte, i int) int {
	if i+4 > len(raw) {
		return -1
	}
	n, err := strconv.ParseUint(string(raw[i:i+4]), 16, 16)
	if err != nil {
		return -1
	}
	return int(n)
}

// maxEcho is the most of a received value an error message repeats.
const maxEcho = 64

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func quoteClipped(s string) string {
	return strconv.Quote(clip(s))
}
