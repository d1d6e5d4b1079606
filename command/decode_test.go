package command

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// contractExample is the command in CONTRACT.md, "Commands in".
const contractExample = `{
  "id": "01JEXAMPLE0000000000000001",
  "type": "contact.update",
  "contact_id": 123,
  "occurred_at": "2026-12-03T10:00:00Z",
  "data": {
    "userid": 456,
    "firstname": "Ana",
    "lastname": "Souza",
    "email": "ana.souza@example.com",
    "phonenumber": "+55 11 90000-0000",
    "title": "Manager",
    "is_primary": true,
    "password": "s3cret-portal-pass",
    "active": true
  }
}`

const exampleSubject = "perfex.cmd.contact.update.123"

func TestDecodeContractExample(t *testing.T) {
	t.Parallel()

	got, err := Decode(exampleSubject, []byte(contractExample))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}

	occurred := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	want := Command{
		ID:         "01JEXAMPLE0000000000000001",
		Type:       TypeContactUpdate,
		ContactID:  123,
		OccurredAt: &occurred,
		Data: ContactData{
			UserID:      Int64(456),
			FirstName:   String("Ana"),
			LastName:    String("Souza"),
			Email:       String("ana.souza@example.com"),
			PhoneNumber: String("+55 11 90000-0000"),
			Title:       String("Manager"),
			IsPrimary:   Bool(true),
			Password:    String("s3cret-portal-pass"),
			Active:      Bool(true),
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeAccepts(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		subject string
		body    string
		want    Command
	}{
		{
			name:    "minimal_without_subject_check",
			subject: "",
			body:    `{"id":"c1","type":"contact.update","contact_id":7,"data":{"active":false}}`,
			want:    Command{ID: "c1", Type: TypeContactUpdate, ContactID: 7, Data: ContactData{Active: Bool(false)}},
		},
		{
			name:    "other_prefix",
			subject: "acme.cmd.contact.update.7",
			body:    `{"id":"c1","type":"contact.update","contact_id":7,"data":{"title":""}}`,
			want:    Command{ID: "c1", Type: TypeContactUpdate, ContactID: 7, Data: ContactData{Title: String("")}},
		},
		{
			name:    "whitespace_around_values",
			subject: "perfex.cmd.contact.update.7",
			body:    " {\n\t\"id\" : \"c1\" ,\"type\":\"contact.update\", \"contact_id\" :\n7 , \"data\": { \"permissions\" : [ 1 , 2 ] } }\n",
			want: Command{ID: "c1", Type: TypeContactUpdate, ContactID: 7,
				Data: ContactData{Permissions: Ints(1, 2)}},
		},
		{
			name:    "empty_permissions_remove_all",
			subject: "perfex.cmd.contact.update.7",
			body:    `{"id":"c1","type":"contact.update","contact_id":7,"data":{"permissions":[]}}`,
			want:    Command{ID: "c1", Type: TypeContactUpdate, ContactID: 7, Data: ContactData{Permissions: Ints()}},
		},
		{
			name:    "email_normalised",
			subject: "perfex.cmd.contact.update.7",
			body:    `{"id":"c1","type":"contact.update","contact_id":7,"data":{"email":"ana@ação.com.br"}}`,
			want: Command{ID: "c1", Type: TypeContactUpdate, ContactID: 7,
				Data: ContactData{Email: String("ana@xn--ao-siap.com.br")}},
		},
		{
			name:    "escaped_surrogate_pair",
			subject: "perfex.cmd.contact.update.7",
			body:    `{"id":"c1","type":"contact.update","contact_id":7,"data":{"firstname":"Ana \ud83d\ude00 \\ud800"}}`,
			want: Command{ID: "c1", Type: TypeContactUpdate, ContactID: 7,
				Data: ContactData{FirstName: String("Ana 😀 \\ud800")}},
		},
		{
			name:    "name_limit_in_characters",
			subject: "perfex.cmd.contact.update.7",
			body:    `{"id":"c1","type":"contact.update","contact_id":7,"data":{"lastname":"` + strings.Repeat("ç", maxNameLen) + `"}}`,
			want: Command{ID: "c1", Type: TypeContactUpdate, ContactID: 7,
				Data: ContactData{LastName: String(strings.Repeat("ç", maxNameLen))}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := Decode(tt.subject, []byte(tt.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// withData returns a valid command body whose data object is data.
func withData(data string) string {
	return `{"id":"c1","type":"contact.update","contact_id":123,"data":` + data + `}`
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		subject string // exampleSubject when empty
		body    string
		code    string
		field   string
		detail  string
	}{
		{"not_json", "", `id=c1&type=contact.update`, CodeMalformed, "", "not valid JSON"},
		{"empty_body", "", ``, CodeMalformed, "", "not valid JSON: it ends too soon"},
		{"truncated", "", `{"id":"c1","type":"contact.update"`, CodeMalformed, "", "not valid JSON"},
		{"array", "", `[` + contractExample + `]`, CodeMalformed, "", "must be a JSON object, got a JSON array"},
		{"string", "", `"contact.update"`, CodeMalformed, "", "must be a JSON object, got a JSON string"},
		{"number", "", `123`, CodeMalformed, "", "must be a JSON object, got a JSON number"},
		{"null_body", "", `null`, CodeMalformed, "", "must be a JSON object, got null"},
		{"trailing_object", "", contractExample + `{}`, CodeMalformed, "", "data after the JSON object"},
		{"trailing_garbage", "", contractExample + ` x`, CodeMalformed, "", "data after the JSON object"},
		{"trailing_comma", "", `{"id":"c1",}`, CodeMalformed, "", "not valid JSON"},
		{"invalid_utf8", "", withData(`{"firstname":"An` + "\xff" + `a"}`), CodeMalformed, "", "not valid UTF-8"},
		{"oversize", "", withData(`{"title":"` + strings.Repeat("a", MaxSize) + `"}`), CodeMalformed, "",
			"over the 65536 byte limit"},
		{"repeated_top_field", "", `{"id":"c1","id":"c2","type":"contact.update","contact_id":123,"data":{"active":true}}`,
			CodeMalformed, "", `repeats the field "id"`},
		{"repeated_data_field", "", withData(`{"email":"ana@x.com","email":"eve@y.com"}`),
			CodeMalformed, "data", `repeats the field "email"`},

		{"unknown_top_field", "", `{"id":"c1","type":"contact.update","contact_id":123,"data":{"active":true},"extra":1}`,
			CodeMalformed, "extra", "unknown field"},
		{"unknown_top_field_null", "", `{"id":"c1","type":"contact.update","contact_id":123,"data":{"active":true},"extra":null}`,
			CodeMalformed, "extra", "unknown field"},
		{"top_field_wrong_case", "", `{"ID":"c1","type":"contact.update","contact_id":123,"data":{"active":true}}`,
			CodeMalformed, "ID", "unknown field"},
		{"unknown_data_field", "", withData(`{"active":true,"company":"Acme"}`), CodeMalformed, "data.company", "unknown field"},
		{"data_field_wrong_case", "", withData(`{"Email":"ana@x.com"}`), CodeMalformed, "data.Email", "unknown field"},

		{"missing_id", "", `{"type":"contact.update","contact_id":123,"data":{"active":true}}`, CodeMalformed, "id", "is required"},
		{"missing_type", "", `{"id":"c1","contact_id":123,"data":{"active":true}}`, CodeMalformed, "type", "is required"},
		{"missing_contact_id", "", `{"id":"c1","type":"contact.update","data":{"active":true}}`, CodeMalformed, "contact_id", "is required"},
		{"missing_data", "", `{"id":"c1","type":"contact.update","contact_id":123}`, CodeMalformed, "data", "is required"},

		{"null_id", "", `{"id":null,"type":"contact.update","contact_id":123,"data":{"active":true}}`, CodeMalformed, "id", "must not be null"},
		{"null_type", "", `{"id":"c1","type":null,"contact_id":123,"data":{"active":true}}`, CodeMalformed, "type", "must not be null"},
		{"null_contact_id", "", `{"id":"c1","type":"contact.update","contact_id":null,"data":{"active":true}}`, CodeMalformed, "contact_id", "must not be null"},
		{"null_occurred_at", "", `{"id":"c1","type":"contact.update","contact_id":123,"occurred_at":null,"data":{"active":true}}`, CodeMalformed, "occurred_at", "must not be null"},
		{"null_data", "", `{"id":"c1","type":"contact.update","contact_id":123,"data":null}`, CodeMalformed, "data", "must not be null"},
		{"null_data_field", "", withData(`{"firstname":null}`), CodeMalformed, "data.firstname", "must not be null"},
		{"null_permission", "", withData(`{"permissions":[1,null]}`), CodeMalformed, "data.permissions[1]", "must not be null"},

		{"id_number", "", `{"id":1,"type":"contact.update","contact_id":123,"data":{"active":true}}`, CodeMalformed, "id", "must be a string, got a JSON number"},
		{"id_empty", "", `{"id":"","type":"contact.update","contact_id":123,"data":{"active":true}}`, CodeMalformed, "id", "must not be empty"},
		{"id_blank", "", `{"id":"  ","type":"contact.update","contact_id":123,"data":{"active":true}}`, CodeMalformed, "id", "only visible ASCII"},
		{"id_newline", "", `{"id":"c1\n","type":"contact.update","contact_id":123,"data":{"active":true}}`, CodeMalformed, "id", "byte 0x0a at 2"},
		{"id_non_ascii", "", `{"id":"ação","type":"contact.update","contact_id":123,"data":{"active":true}}`, CodeMalformed, "id", "only visible ASCII"},
		{"id_too_long", "", `{"id":"` + strings.Repeat("a", 257) + `","type":"contact.update","contact_id":123,"data":{"active":true}}`, CodeMalformed, "id", "257 bytes"},
		{"type_array", "", `{"id":"c1","type":["contact.update"],"contact_id":123,"data":{"active":true}}`, CodeMalformed, "type", "must be a string, got a JSON array"},
		{"type_empty", "", `{"id":"c1","type":"","contact_id":123,"data":{"active":true}}`, CodeMalformed, "type", "must not be empty"},
		{"contact_id_string", "", `{"id":"c1","type":"contact.update","contact_id":"123","data":{"active":true}}`, CodeMalformed, "contact_id", "must be an integer, got a JSON string"},
		{"contact_id_fraction", "", `{"id":"c1","type":"contact.update","contact_id":123.5,"data":{"active":true}}`, CodeMalformed, "contact_id", "got 123.5"},
		{"contact_id_exponent", "", `{"id":"c1","type":"contact.update","contact_id":1.23e2,"data":{"active":true}}`, CodeMalformed, "contact_id", "without fraction or exponent"},
		{"contact_id_overflow", "", `{"id":"c1","type":"contact.update","contact_id":9223372036854775808,"data":{"active":true}}`, CodeMalformed, "contact_id", "within 64 bits"},
		{"contact_id_zero", "perfex.cmd.contact.update.0", `{"id":"c1","type":"contact.update","contact_id":0,"data":{"active":true}}`, CodeMalformed, "contact_id", "must be a positive integer, got 0"},
		{"contact_id_negative", "perfex.cmd.contact.update.-5", `{"id":"c1","type":"contact.update","contact_id":-5,"data":{"active":true}}`, CodeMalformed, "contact_id", "must be a positive integer, got -5"},
		{"occurred_at_number", "", `{"id":"c1","type":"contact.update","contact_id":123,"occurred_at":1764756000,"data":{"active":true}}`, CodeMalformed, "occurred_at", "must be a string"},
		{"occurred_at_not_rfc3339", "", `{"id":"c1","type":"contact.update","contact_id":123,"occurred_at":"03/12/2026 10:00","data":{"active":true}}`, CodeMalformed, "occurred_at", "must be an RFC 3339 timestamp"},
		{"occurred_at_no_zone", "", `{"id":"c1","type":"contact.update","contact_id":123,"occurred_at":"2026-12-03T10:00:00","data":{"active":true}}`, CodeMalformed, "occurred_at", "must be an RFC 3339 timestamp"},
		{"occurred_at_bad_month", "", `{"id":"c1","type":"contact.update","contact_id":123,"occurred_at":"2026-13-03T10:00:00Z","data":{"active":true}}`, CodeMalformed, "occurred_at", "must be an RFC 3339 timestamp"},
		{"occurred_at_comma_fraction", "", `{"id":"c1","type":"contact.update","contact_id":123,"occurred_at":"2026-12-03T10:00:00,5Z","data":{"active":true}}`, CodeMalformed, "occurred_at", "must be an RFC 3339 timestamp"},
		{"occurred_at_offset_24h", "", `{"id":"c1","type":"contact.update","contact_id":123,"occurred_at":"2026-12-03T10:00:00+24:00","data":{"active":true}}`, CodeMalformed, "occurred_at", "offset outside"},
		{"data_array", "", withData(`[{"active":true}]`), CodeMalformed, "data", "must be a JSON object, got a JSON array"},
		{"data_string", "", withData(`"active"`), CodeMalformed, "data", "must be a JSON object, got a JSON string"},
		{"data_empty", "", withData(`{}`), CodeMalformed, "data", "must set at least one field"},

		{"userid_string", "", withData(`{"userid":"456"}`), CodeMalformed, "data.userid", "must be an integer, got a JSON string"},
		{"userid_fraction", "", withData(`{"userid":4.5}`), CodeMalformed, "data.userid", "got 4.5"},
		{"userid_zero", "", withData(`{"userid":0}`), CodeMalformed, "data.userid", "positive integer, got 0"},
		{"firstname_number", "", withData(`{"firstname":1}`), CodeMalformed, "data.firstname", "must be a string, got a JSON number"},
		{"firstname_empty", "", withData(`{"firstname":""}`), CodeMalformed, "data.firstname", "must not be empty"},
		{"firstname_too_long", "", withData(`{"firstname":"` + strings.Repeat("é", maxNameLen+1) + `"}`), CodeMalformed, "data.firstname", "192 characters; at most 191"},
		{"lastname_object", "", withData(`{"lastname":{}}`), CodeMalformed, "data.lastname", "must be a string, got a JSON object"},
		{"lastname_empty", "", withData(`{"lastname":""}`), CodeMalformed, "data.lastname", "must not be empty"},
		{"email_number", "", withData(`{"email":42}`), CodeMalformed, "data.email", "must be a string"},
		{"phonenumber_number", "", withData(`{"phonenumber":5511900000000}`), CodeMalformed, "data.phonenumber", "must be a string"},
		{"phonenumber_too_long", "", withData(`{"phonenumber":"` + strings.Repeat("1", maxPhoneLen+1) + `"}`), CodeMalformed, "data.phonenumber", "at most 100"},
		{"title_bool", "", withData(`{"title":true}`), CodeMalformed, "data.title", "must be a string, got a JSON boolean"},
		{"title_too_long", "", withData(`{"title":"` + strings.Repeat("t", maxTitleLen+1) + `"}`), CodeMalformed, "data.title", "at most 100"},
		{"direction_number", "", withData(`{"direction":1}`), CodeMalformed, "data.direction", "must be a string"},
		{"direction_unknown", "", withData(`{"direction":"up"}`), CodeMalformed, "data.direction", `got "up"`},
		{"is_primary_string", "", withData(`{"is_primary":"true"}`), CodeMalformed, "data.is_primary", "must be a boolean, got a JSON string"},
		{"is_primary_number", "", withData(`{"is_primary":1}`), CodeMalformed, "data.is_primary", "must be a boolean, got a JSON number"},
		{"password_number", "", withData(`{"password":1234}`), CodeMalformed, "data.password", "must be a string"},
		{"password_empty", "", withData(`{"password":""}`), CodeMalformed, "data.password", "must not be empty"},
		{"active_string", "", withData(`{"active":"1"}`), CodeMalformed, "data.active", "must be a boolean"},
		{"invoice_emails_number", "", withData(`{"invoice_emails":0}`), CodeMalformed, "data.invoice_emails", "must be a boolean"},
		{"estimate_emails_string", "", withData(`{"estimate_emails":"on"}`), CodeMalformed, "data.estimate_emails", "must be a boolean"},
		{"credit_note_emails_array", "", withData(`{"credit_note_emails":[]}`), CodeMalformed, "data.credit_note_emails", "must be a boolean"},
		{"contract_emails_object", "", withData(`{"contract_emails":{}}`), CodeMalformed, "data.contract_emails", "must be a boolean"},
		{"task_emails_string", "", withData(`{"task_emails":"false"}`), CodeMalformed, "data.task_emails", "must be a boolean"},
		{"project_emails_number", "", withData(`{"project_emails":1}`), CodeMalformed, "data.project_emails", "must be a boolean"},
		{"ticket_emails_string", "", withData(`{"ticket_emails":""}`), CodeMalformed, "data.ticket_emails", "must be a boolean"},
		{"permissions_object", "", withData(`{"permissions":{"1":true}}`), CodeMalformed, "data.permissions", "must be an array of integers, got a JSON object"},
		{"permissions_number", "", withData(`{"permissions":1}`), CodeMalformed, "data.permissions", "must be an array of integers"},
		{"permission_string", "", withData(`{"permissions":[1,"5"]}`), CodeMalformed, "data.permissions[1]", "must be an integer, got a JSON string"},
		{"permission_fraction", "", withData(`{"permissions":[1.5]}`), CodeMalformed, "data.permissions[0]", "got 1.5"},
		{"permission_zero", "", withData(`{"permissions":[0]}`), CodeMalformed, "data.permissions[0]", "positive permission id, got 0"},
		{"permission_repeated", "", withData(`{"permissions":[3,4,3]}`), CodeMalformed, "data.permissions[2]", "repeats permission 3"},

		{"lone_high_surrogate", "", withData(`{"firstname":"Ana\ud83d"}`), CodeMalformed, "data.firstname", "surrogate"},
		{"lone_low_surrogate", "", withData(`{"lastname":"\ude00Souza"}`), CodeMalformed, "data.lastname", "surrogate"},
		{"swapped_surrogates", "", withData(`{"title":"\ude00\ud83d"}`), CodeMalformed, "data.title", "surrogate"},
		{"high_surrogate_then_letter", "", `{"id":"c\ud83dx","type":"contact.update","contact_id":123,"data":{"active":true}}`, CodeMalformed, "id", "surrogate"},

		{"subject_other_contact", "perfex.cmd.contact.update.124", contractExample, CodeMalformed, "contact_id", `names contact "124" but the body says 123`},
		{"subject_leading_zero", "perfex.cmd.contact.update.0123", contractExample, CodeMalformed, "contact_id", `names contact "0123"`},
		{"subject_plus_sign", "perfex.cmd.contact.update.+123", contractExample, CodeMalformed, "contact_id", `names contact "+123"`},
		{"subject_other_operation", "perfex.cmd.contact.delete.123", contractExample, CodeMalformed, "", "not a contact update subject"},
		{"subject_extra_token", "perfex.cmd.contact.update.123.x", contractExample, CodeMalformed, "", "not a contact update subject"},
		{"subject_without_prefix", "cmd.contact.update.123", contractExample, CodeMalformed, "", "not a contact update subject"},

		{"unknown_type", "", `{"id":"c1","type":"contact.delete","contact_id":123,"data":{"active":true}}`, CodeUnknownOperation, "type", `"contact.delete" is not an operation`},
		{"unknown_type_other_envelope", "", `{"id":"c1","type":"customer.update","customer_id":9,"data":{"company":"Acme"}}`, CodeUnknownOperation, "type", `"customer.update"`},
		{"unknown_type_wrong_case", "", `{"id":"c1","type":"Contact.Update","contact_id":123,"data":{"active":true}}`, CodeUnknownOperation, "type", "not an operation"},

		{"bad_email", "", withData(`{"email":"Ana <ana@x.com>"}`), CodeInvalidEmail, "data.email", "bare address"},
		{"bad_email_domain", "", withData(`{"firstname":"Ana","email":"ana@localhost"}`), CodeInvalidEmail, "data.email", "no dot"},
		{"bad_email_nbsp", "", withData(`{"email":"ana@x.com\u00a0"}`), CodeInvalidEmail, "data.email", "U+00A0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			subject := tt.subject
			if subject == "" {
				subject = exampleSubject
			}
			got, err := Decode(subject, []byte(tt.body))
			if err == nil {
				t.Fatalf("Decode accepted %s as %+v", clip(tt.body), got)
			}
			if diff := cmp.Diff(Command{}, got); diff != "" {
				t.Errorf("Decode returned a command with its error (-want +got):\n%s", diff)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T (%v) is not a *ValidationError", err, err)
			}
			if ve.Code != tt.code || ve.Field != tt.field {
				t.Errorf("code, field = %q, %q, want %q, %q (%v)", ve.Code, ve.Field, tt.code, tt.field, err)
			}
			if !strings.Contains(ve.Detail, tt.detail) {
				t.Errorf("detail = %q, want it to contain %q", ve.Detail, tt.detail)
			}
			if len(ve.Error()) > 512 {
				t.Errorf("error is %d bytes long: %.100s...", len(ve.Error()), ve.Error())
			}
		})
	}
}

// TestDecodeLongObjects covers objects too long for the linear search for
// repeated names.
func TestDecodeLongObjects(t *testing.T) {
	t.Parallel()

	var b strings.Builder
	b.WriteString(`{"id":"c1","type":"contact.update"`)
	for i := range 40 {
		fmt.Fprintf(&b, `,"k%d":%d`, i, i)
	}

	_, err := Decode(exampleSubject, []byte(b.String()+`}`))
	if err == nil || !strings.Contains(err.Error(), "k0: unknown field") {
		t.Errorf("40 distinct unknown fields: error = %v, want k0 named unknown", err)
	}
	_, err = Decode(exampleSubject, []byte(b.String()+`,"k5":0}`))
	if err == nil || !strings.Contains(err.Error(), `repeats the field "k5"`) {
		t.Errorf("k5 repeated after 40 fields: error = %v, want the repeat named", err)
	}
	_, err = Decode(exampleSubject, []byte(b.String()+`,"k39":0}`))
	if err == nil || !strings.Contains(err.Error(), `repeats the field "k39"`) {
		t.Errorf("k39 repeated at once: error = %v, want the repeat named", err)
	}
}

func TestDecodeMaxSizeBoundary(t *testing.T) {
	t.Parallel()

	pad := func(n int) []byte {
		body := withData(`{"title":"` + `"}`)
		return []byte(body + strings.Repeat(" ", n-len(body)))
	}
	if _, err := Decode(exampleSubject, pad(MaxSize)); err != nil {
		t.Errorf("a body of exactly MaxSize bytes: %v", err)
	}
	if _, err := Decode(exampleSubject, pad(MaxSize+1)); err == nil {
		t.Error("a body of MaxSize+1 bytes was accepted")
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	t.Parallel()

	occurred := time.Date(2026, 12, 3, 10, 0, 0, 123456789, time.FixedZone("", -3*3600))
	cmd := Command{
		ID:         "01JEXAMPLE0000000000000001",
		Type:       TypeContactUpdate,
		ContactID:  123,
		OccurredAt: &occurred,
		Data:       allFields(),
	}
	body, err := cmd.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	got, err := Decode(Subject("", cmd.ContactID), body)
	if err != nil {
		t.Fatalf("Decode(%s): %v", body, err)
	}
	if diff := cmp.Diff(cmd, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

// allFields returns data setting every field.
func allFields() ContactData {
	return ContactData{
		UserID:           Int64(456),
		FirstName:        String("Ana <Maria> & \"Bia\""),
		LastName:         String("Souza"),
		Email:            String("ana.souza@example.com"),
		PhoneNumber:      String("+55 11 90000-0000"),
		Title:            String("Gerente de operações"),
		Direction:        String("rtl"),
		IsPrimary:        Bool(true),
		Password:         String("s3cret-portal-pass"),
		Active:           Bool(false),
		InvoiceEmails:    Bool(true),
		EstimateEmails:   Bool(false),
		CreditNoteEmails: Bool(true),
		ContractEmails:   Bool(false),
		TaskEmails:       Bool(true),
		ProjectEmails:    Bool(false),
		TicketEmails:     Bool(true),
		Permissions:      Ints(1, 5, 6),
	}
}

var knownCodes = map[string]bool{CodeMalformed: true, CodeUnknownOperation: true, CodeInvalidEmail: true}

func FuzzDecode(f *testing.F) {
	f.Add(exampleSubject, []byte(contractExample))
	f.Add("", []byte(withData(`{"permissions":[1,2],"email":"ana@ação.com.br","direction":""}`)))
	f.Add(exampleSubject, []byte(withData(`{"firstname":"\ud83d\ude00","invoice_emails":false}`)))
	f.Add(exampleSubject, []byte(`{"id":"c1","type":"contact.update","contact_id":123,"occurred_at":"2026-12-03T10:00:00.5+01:00","data":{"active":true}}`))
	f.Add(exampleSubject, []byte(`{"id":"c1","id":"c1"}`))
	f.Add("perfex.cmd.contact.update.7", []byte(`{"id":"c1","type":"other","contact_id":7}`))
	f.Add("", []byte(`[1, "a", null, true, {"x": 1.5e3}]`))
	f.Add("", []byte(`{"id":"c\ud800","type":"contact.update","contact_id":1,"data":{"title":"\\u"}}`))

	f.Fuzz(func(t *testing.T, subject string, body []byte) {
		orig := bytes.Clone(body)
		cmd, err := Decode(subject, body)
		if !bytes.Equal(body, orig) {
			t.Fatal("Decode changed its input")
		}
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || !knownCodes[ve.Code] {
				t.Fatalf("Decode error %#v is not a *ValidationError with a known code", err)
			}
			return
		}

		again, err := cmd.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a decoded command: %v", err)
		}
		got, err := Decode(subject, again)
		if err != nil {
			t.Fatalf("Decode of re-encoded %s: %v", again, err)
		}
		if diff := cmp.Diff(cmd, got); diff != "" {
			t.Errorf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	body := []byte(contractExample)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Decode(exampleSubject, body); err != nil {
			b.Fatal(err)
		}
	}
}
