package jsonscan

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"unicode/utf8"
)

// seeds are texts where the scan and encoding/json could part ways:
// escapes inside strings, brackets inside strings, odd spacing, repeated
// names, trailing data and invalid input.
var seeds = []string{
	`{}`, ` { } `, "\t{\n}\r\n", `{"a":1}`, `{"a":1,"a":2}`, `{"a\u0062":1}`, `{"a":"x\"y"}`,
	`{"a":{"b":["}",{"c":"]"}]},"d":-1.5e3,"e":[ ],"f":true,"g":null}`,
	`{ "a" : "\\" , "b" :[ 1 , 2 ] }`, "{\"a\":\"\xff\"}", `{"a":1} x`, `{"a":1}{}`,
	`{"a":`, `{"a":1,}`, `[]`, ` [ ] `, `[1]`, `[1,"]",{"a":[2]},null, true ,-0.5]`,
	"{\"\x9d\":0}", `[1,]`, `[[],[[]]]`,
	`"s"`, `""`, `"a\nb"`, `"\u00e9"`, `"é"`, "\"a\x01\"", `1`, ``, ` `,
}

func TestMembers(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   string
		want []string // name, value, name, value...
		ok   bool
	}{
		{"empty", ` { } `, nil, true},
		{"in_order", `{"b":1,"a":"x"}`, []string{"b", "1", "a", `"x"`}, true},
		{"trimmed", "{ \"a\" :\t[ 1 ] ,\n\"b\": {} }", []string{"a", "[ 1 ]", "b", "{}"}, true},
		{"repeated_kept", `{"a":1,"a":2}`, []string{"a", "1", "a", "2"}, true},
		{"brackets_in_strings", `{"a":["}",{"c":"]"}],"d":null}`,
			[]string{"a", `["}",{"c":"]"}]`, "d", "null"}, true},
		{"escaped_value", `{"a":"x\"y"}`, []string{"a", `"x\"y"`}, true},
		{"escaped_name", `{"a\u0062":1}`, nil, false},
		{"trailing", `{"a":1} x`, nil, false},
		{"two_values", `{"a":1}{}`, nil, false},
		{"array", `[1]`, nil, false},
		{"invalid", `{"a":1,}`, nil, false},
		{"nothing", ``, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var got []string
			ok := Members([]byte(tt.in), func(name, value []byte) bool {
				got = append(got, string(name), string(value))
				return true
			})
			if ok != tt.ok {
				t.Fatalf("Members(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			}
			if ok && !slices.Equal(got, tt.want) {
				t.Errorf("Members(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMembersStops(t *testing.T) {
	t.Parallel()

	calls := 0
	ok := Members([]byte(`{"a":1,"b":2,"c":3}`), func(name, _ []byte) bool {
		calls++
		return string(name) != "b"
	})
	if ok || calls != 2 {
		t.Errorf("Members stopped by yield: ok = %v after %d calls, want false after 2", ok, calls)
	}
}

func TestElements(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   string
		want []string
		ok   bool
	}{
		{"empty", ` [ ] `, nil, true},
		{"mixed", `[1, "]" ,{"a":[2]},null,true,-0.5]`,
			[]string{"1", `"]"`, `{"a":[2]}`, "null", "true", "-0.5"}, true},
		{"nested", `[[],[[]]]`, []string{"[]", "[[]]"}, true},
		{"trailing_comma", `[1,]`, nil, false},
		{"object", `{}`, nil, false},
		{"two_values", `[][]`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var got []string
			ok := Elements([]byte(tt.in), func(elem []byte) bool {
				got = append(got, string(elem))
				return true
			})
			if ok != tt.ok {
				t.Fatalf("Elements(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			}
			if ok && !slices.Equal(got, tt.want) {
				t.Errorf("Elements(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestValueEnd(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		i    int
		want int
	}{
		{`"a\"b",1`, 0, 6},
		{`{"}":[1]} x`, 0, 9},
		{`[1,[2]],3`, 0, 7},
		{`-1.5e3}`, 0, 6},
		{`true `, 0, 4},
		{`null`, 0, 4},
		{`{"a":`, 0, 5}, // unterminated: only some index
		{`1`, 1, 1},     // past the end
		{``, 0, 0},
	}
	for _, tt := range tests {
		if got := ValueEnd([]byte(tt.in), tt.i); got != tt.want {
			t.Errorf("ValueEnd(%q, %d) = %d, want %d", tt.in, tt.i, got, tt.want)
		}
	}
}

func TestSkipSpaceAndStringEnd(t *testing.T) {
	t.Parallel()

	if got := SkipSpace([]byte(" \t\r\n x"), 0); got != 5 {
		t.Errorf("SkipSpace = %d, want 5", got)
	}
	if got := SkipSpace([]byte("  "), 0); got != 2 {
		t.Errorf("SkipSpace of only space = %d, want 2", got)
	}
	if got := StringEnd([]byte(`"a\\"b`), 0); got != 5 {
		t.Errorf("StringEnd = %d, want 5", got)
	}
	if got := StringEnd([]byte(`"a\"`), 0); got != 4 {
		t.Errorf("StringEnd of an unterminated string = %d, want 4", got)
	}
}

// TestPlainString checks PlainString against encoding/json on every seed.
func TestPlainString(t *testing.T) {
	t.Parallel()

	for _, s := range seeds {
		checkPlainString(t, []byte(s))
	}
	if s, ok := PlainString([]byte(`"Ana"`)); !ok || s != "Ana" {
		t.Errorf(`PlainString("Ana") = %q, %v`, s, ok)
	}
}

// TestAgainstDecoder checks Members and Elements against encoding/json on
// every seed.
func TestAgainstDecoder(t *testing.T) {
	t.Parallel()

	for _, s := range seeds {
		checkMembers(t, []byte(s))
		checkElements(t, []byte(s))
	}
}

func FuzzMembers(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkMembers(t, data)
		checkElements(t, data)
	})
}

func FuzzPlainString(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkPlainString)
}

// checkMembers requires that whatever Members reports is what
// encoding/json reads: the same names and the same values, in order.
func checkMembers(t *testing.T, data []byte) {
	t.Helper()

	var names []string
	var values [][]byte
	if !Members(data, func(name, value []byte) bool {
		names = append(names, string(name))
		values = append(values, value)
		return true
	}) {
		return
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%q: Members read an object, the decoder saw %v, %v", data, tok, err)
	}
	for i := 0; dec.More(); i++ {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%q: name %d: %v", data, i, err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("%q: value %d: %v", data, i, err)
		}
		if i >= len(names) || !bytes.Equal(raw, values[i]) ||
			(utf8.ValidString(names[i]) && tok != names[i]) {
			t.Fatalf("%q: member %d is %v=%s by the decoder, Members gave %q", data, i, tok, raw, names)
		}
		if i == len(names)-1 && dec.More() {
			t.Fatalf("%q: the decoder found more than %d members", data, len(names))
		}
	}
}

// checkElements requires that whatever Elements reports is what
// encoding/json reads.
func checkElements(t *testing.T, data []byte) {
	t.Helper()

	var elems [][]byte
	if !Elements(data, func(elem []byte) bool {
		elems = append(elems, elem)
		return true
	}) {
		return
	}

	var want []json.RawMessage
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("%q: Elements read an array, encoding/json refused it: %v", data, err)
	}
	if len(elems) != len(want) {
		t.Fatalf("%q: %d elements by Elements, %d by encoding/json", data, len(elems), len(want))
	}
	for i := range want {
		if !bytes.Equal(elems[i], want[i]) {
			t.Fatalf("%q: element %d is %s by Elements, %s by encoding/json", data, i, elems[i], want[i])
		}
	}
}

// checkPlainString requires that a string PlainString returns is the one
// encoding/json decodes, and that it declines every string encoding/json
// would change.
func checkPlainString(t *testing.T, raw []byte) {
	t.Helper()

	got, ok := PlainString(raw)
	var want string
	err := json.Unmarshal(raw, &want)
	switch {
	case ok && err != nil:
		t.Fatalf("%q: PlainString read %q, encoding/json refused it: %v", raw, got, err)
	case ok && got != want:
		t.Fatalf("%q: PlainString read %q, encoding/json %q", raw, got, want)
	case !ok && err == nil && raw[0] == '"' && raw[len(raw)-1] == '"' &&
		want == string(raw[1:len(raw)-1]):
		t.Fatalf("%q: PlainString declined a string encoding/json leaves unchanged", raw)
	}
}
