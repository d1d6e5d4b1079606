package command

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const schemaPath = "../schema/command.schema.json"

// property is the part of a JSON Schema the tests compare with the code.
type property struct {
	Type                 string              `json:"type"`
	Enum                 []string            `json:"enum"`
	Required             []string            `json:"required"`
	AdditionalProperties *bool               `json:"additionalProperties"`
	MinProperties        *int                `json:"minProperties"`
	MinLength            *int                `json:"minLength"`
	MaxLength            *int                `json:"maxLength"`
	Minimum              *int64              `json:"minimum"`
	Format               string              `json:"format"`
	UniqueItems          bool                `json:"uniqueItems"`
	Items                *property           `json:"items"`
	Properties           map[string]property `json:"properties"`
}

func loadSchema(t *testing.T) (version string, root property) {
	t.Helper()

	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatalf("reading the schema: %v", err)
	}
	var doc struct {
		Schema string `json:"$schema"`
		property
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parsing %s: %v", schemaPath, err)
	}
	return doc.Schema, doc.property
}

// jsonNames returns the JSON names of v's struct fields, and which of them
// are always present (no omitempty).
func jsonNames(v any) (names, always []string) {
	typ := reflect.TypeOf(v)
	for i := range typ.NumField() {
		name, opts, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	return names, always
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestSchemaMatchesDecoder keeps schema/command.schema.json and the decoder
// from drifting apart.
func TestSchemaMatchesDecoder(t *testing.T) {
	t.Parallel()

	version, root := loadSchema(t)
	if want := "https://json-schema.org/draft/2020-12/schema"; version != want {
		t.Errorf("$schema = %q, want %q", version, want)
	}

	topNames, topRequired := jsonNames(Command{})
	if diff := cmp.Diff(sorted(topNames), keys(root.Properties)); diff != "" {
		t.Errorf("top-level properties differ from Command's JSON fields (-Command +schema):\n%s", diff)
	}
	if diff := cmp.Diff(sorted(topNames), sorted(topFields)); diff != "" {
		t.Errorf("the decoder's top-level fields differ from Command's (-Command +decoder):\n%s", diff)
	}
	if diff := cmp.Diff(sorted(topRequired), sorted(root.Required)); diff != "" {
		t.Errorf("required differs from Command's fields without omitempty (-Command +schema):\n%s", diff)
	}

	data := root.Properties["data"]
	if diff := cmp.Diff(keys(dataFields), keys(data.Properties)); diff != "" {
		t.Errorf("data properties differ from the decoder's fields (-decoder +schema):\n%s", diff)
	}

	for name, p := range map[string]property{"top level": root, "data": data} {
		if p.AdditionalProperties == nil || *p.AdditionalProperties {
			t.Errorf("%s: additionalProperties is not false", name)
		}
	}
	if data.MinProperties == nil || *data.MinProperties != 1 {
		t.Errorf("data.minProperties = %v, want 1", data.MinProperties)
	}
	if diff := cmp.Diff([]string{TypeContactUpdate}, root.Properties["type"].Enum); diff != "" {
		t.Errorf("type enum (-want +got):\n%s", diff)
	}
	if p := root.Properties["contact_id"]; p.Type != "integer" || p.Minimum == nil || *p.Minimum != 1 {
		t.Errorf("contact_id is not a positive integer: %+v", p)
	}
	if p := root.Properties["occurred_at"]; p.Format != "date-time" {
		t.Errorf("occurred_at format = %q, want date-time", p.Format)
	}
	perms := data.Properties["permissions"]
	if perms.Type != "array" || !perms.UniqueItems || perms.Items == nil ||
		perms.Items.Type != "integer" || perms.Items.Minimum == nil || *perms.Items.Minimum != 1 {
		t.Errorf("permissions is not an array of unique positive integers: %+v", perms)
	}
	if p := data.Properties["email"]; p.Format != "email" {
		t.Errorf("email format = %q, want email", p.Format)
	}
}

// TestSchemaTypesAndLimits checks each property's type against the Go
// field that decodes it, and the length limits against the validator's.
func TestSchemaTypesAndLimits(t *testing.T) {
	t.Parallel()

	_, root := loadSchema(t)
	data := root.Properties["data"]

	var d ContactData
	for name, target := range dataFields {
		var want string
		switch target(&d).(type) {
		case **string:
			want = "string"
		case **bool:
			want = "boolean"
		case **int64:
			want = "integer"
		case **[]int:
			want = "array"
		}
		if got := data.Properties[name].Type; got != want {
			t.Errorf("data.%s: schema type %q, decoder reads %q", name, got, want)
		}
	}

	for _, tt := range []struct {
		field string
		p     property
		min   int
		max   int
	}{
		{"id", root.Properties["id"], 1, maxIDLen},
		{"data.firstname", data.Properties["firstname"], 1, maxNameLen},
		{"data.lastname", data.Properties["lastname"], 1, maxNameLen},
		{"data.password", data.Properties["password"], 1, 0},
		{"data.email", data.Properties["email"], 0, maxEmailLen},
		{"data.phonenumber", data.Properties["phonenumber"], 0, maxPhoneLen},
		{"data.title", data.Properties["title"], 0, maxTitleLen},
	} {
		if got := deref(tt.p.MinLength); got != tt.min {
			t.Errorf("%s: minLength %d, want %d", tt.field, got, tt.min)
		}
		if got := deref(tt.p.MaxLength); got != tt.max {
			t.Errorf("%s: maxLength %d, want %d", tt.field, got, tt.max)
		}
	}
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// TestFieldListsAgree checks the decoder's field table against the struct
// tags of ContactData and against Fields.
func TestFieldListsAgree(t *testing.T) {
	t.Parallel()

	names, _ := jsonNames(ContactData{})
	if diff := cmp.Diff(sorted(names), keys(dataFields)); diff != "" {
		t.Errorf("ContactData's JSON fields differ from the decoder's (-struct +decoder):\n%s", diff)
	}
	all := allFields()
	if diff := cmp.Diff(sorted(names), sorted(all.Fields())); diff != "" {
		t.Errorf("Fields() of a full ContactData (-struct +Fields):\n%s", diff)
	}
	if got := len(all.Flags()); got != len(NotificationFlags) {
		t.Errorf("Flags() has %d entries, NotificationFlags %d", got, len(NotificationFlags))
	}
}
