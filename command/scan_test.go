package command

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// scanSeeds are bodies where the fast member scan and encoding/json could
// part ways.
var scanSeeds = []string{
	contractExample,
	`{}`, ` { } `, `{"a":1}`, `{"a":1,"a":2}`, `{"a\u0062":1}`, `{"a":"x\"y"}`,
	`{"a":{"b":["}",{"c":"]"}]},"d":-1.5e3,"e":[ ],"f":true,"g":null}`,
	"{\"a\":\"\xff\"}", `{"a":1} x`, `{"a":1}{}`, `{"a":`, `[1]`, `"s"`, ``, `{"a":1,}`,
	strings.ReplaceAll(contractExample, `"Ana"`, `"A\u006ea"`),
}

// TestSplitMembersMatchesStrict checks the fast path against the strict
// reader: whenever the scan answers, the strict reader gives the same
// members.
func TestSplitMembersMatchesStrict(t *testing.T) {
	t.Parallel()
	for _, s := range scanSeeds {
		checkSplit(t, []byte(s))
	}
}

func FuzzSplitMembers(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkSplit(t, body) })
}

func checkSplit(t *testing.T, body []byte) {
	t.Helper()
	// Decode refuses a body that is not UTF-8 before it reads an object,
	// and the scan, like json.Valid, passes such bytes in a name through
	// where the strict reader turns them into U+FFFD.
	if !utf8.Valid(body) {
		return
	}
	fast, ok := splitMembers(body, nil)
	if !ok {
		return
	}
	strict, err := readObjectStrict(body)
	if err != nil {
		t.Fatalf("%q: the scan read it, the strict reader refused it: %v", body, err)
	}
	if len(fast) != len(strict) {
		t.Fatalf("%q: %d members by the scan, %d by the strict reader", body, len(fast), len(strict))
	}
	for i := range fast {
		if fast[i].key != strict[i].key || !bytes.Equal(fast[i].raw, strict[i].raw) {
			t.Fatalf("%q: member %d is %q=%s by the scan, %q=%s by the strict reader",
				body, i, fast[i].key, fast[i].raw, strict[i].key, strict[i].raw)
		}
	}
}
