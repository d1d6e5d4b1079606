package command

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

func TestNewContactUpdate(t *testing.T) {
	t.Parallel()

	data := ContactData{FirstName: String("Ana")}
	a := NewContactUpdate(123, data)
	b := NewContactUpdate(123, data)

	if a.Type != TypeContactUpdate || a.ContactID != 123 || a.OccurredAt != nil {
		t.Errorf("NewContactUpdate = %+v", a)
	}
	if diff := cmp.Diff(data, a.Data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	if _, err := ulid.ParseStrict(a.ID); err != nil {
		t.Errorf("id %q is not a ULID: %v", a.ID, err)
	}
	if a.ID == b.ID {
		t.Errorf("two commands share the id %q", a.ID)
	}
	if err := a.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestMarshal(t *testing.T) {
	t.Parallel()

	cmd := Command{
		ID:        "01JEXAMPLE0000000000000001",
		Type:      TypeContactUpdate,
		ContactID: 123,
		Data: ContactData{
			FirstName:   String("Ana & <Bia>"),
			Email:       String("ana@ação.com.br"),
			Permissions: Ints(),
		},
	}
	body, err := cmd.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}

	want := `{"id":"01JEXAMPLE0000000000000001","type":"contact.update","contact_id":123,` +
		`"data":{"firstname":"Ana & <Bia>","email":"ana@xn--ao-siap.com.br","permissions":[]}}`
	if string(body) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", body, want)
	}
	if *cmd.Data.Email != "ana@ação.com.br" {
		t.Errorf("Marshal changed the caller's email to %q", *cmd.Data.Email)
	}
}

func TestMarshalRefuses(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		cmd   Command
		code  string
		field string
	}{
		{"no_id", Command{Type: TypeContactUpdate, ContactID: 1, Data: ContactData{Active: Bool(true)}}, CodeMalformed, "id"},
		{"no_type", Command{ID: "c1", ContactID: 1, Data: ContactData{Active: Bool(true)}}, CodeMalformed, "type"},
		{"unknown_type", Command{ID: "c1", Type: "contact.create", ContactID: 1}, CodeUnknownOperation, "type"},
		{"no_data", NewContactUpdate(1, ContactData{}), CodeMalformed, "data"},
		{"bad_email", NewContactUpdate(1, ContactData{Email: String("ana@x")}), CodeInvalidEmail, "data.email"},
		{"invalid_utf8_email", NewContactUpdate(1, ContactData{Email: String("ana@\xff.com")}), CodeInvalidEmail, "data.email"},
		{"invalid_utf8_name", NewContactUpdate(1, ContactData{LastName: String("Sou\xffza")}), CodeMalformed, "data.lastname"},
		{"empty_password", NewContactUpdate(1, ContactData{Password: String("")}), CodeMalformed, "data.password"},
		{"repeated_permission", NewContactUpdate(1, ContactData{Permissions: Ints(2, 2)}), CodeMalformed, "data.permissions[1]"},
		{"over_max_size", NewContactUpdate(1, ContactData{Password: String(strings.Repeat("p", MaxSize))}), CodeMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			body, err := tt.cmd.Marshal()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Marshal = %s, %v; want a *ValidationError", clip(string(body)), err)
			}
			if ve.Code != tt.code || ve.Field != tt.field {
				t.Errorf("code, field = %q, %q, want %q, %q (%v)", ve.Code, ve.Field, tt.code, tt.field, err)
			}
			if _, err := tt.cmd.Msg(""); !errors.As(err, &ve) {
				t.Errorf("Msg: %v, want a *ValidationError", err)
			}
		})
	}
}

func TestMsg(t *testing.T) {
	t.Parallel()

	cmd := NewContactUpdate(42, ContactData{Active: Bool(false)})
	msg, err := cmd.Msg("acme")
	if err != nil {
		t.Fatalf("Msg: %v", err)
	}
	if msg.Subject != "acme.cmd.contact.update.42" {
		t.Errorf("subject = %q", msg.Subject)
	}
	if got := msg.Header.Get(jetstream.MsgIDHeader); got != cmd.ID {
		t.Errorf("%s = %q, want %q", jetstream.MsgIDHeader, got, cmd.ID)
	}
	got, err := Decode(msg.Subject, msg.Data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if diff := cmp.Diff(cmd, got); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestPointerHelpers(t *testing.T) {
	t.Parallel()

	if got := Ints(); got == nil || *got == nil || len(*got) != 0 {
		t.Errorf("Ints() = %v, want a pointer to an empty, non-nil slice", got)
	}

	ids := []int{3, 1}
	got := Ints(ids...)
	ids[0] = 99
	if diff := cmp.Diff([]int{3, 1}, *got); diff != "" {
		t.Errorf("Ints shares its argument's array (-want +got):\n%s", diff)
	}

	if *String("a") != "a" || *Bool(true) != true || *Int64(-5) != -5 {
		t.Error("a pointer helper returned the wrong value")
	}
	if first, second := String("a"), String("a"); first == second {
		t.Error("String returned the same pointer twice")
	}
}
