package crm

import (
	"strings"
	"testing"
)

// scanSeeds are rows where the fast path and encoding/json could part
// ways: escapes, duplicates, odd spacing, trailing data, invalid input.
var scanSeeds = []string{
	storedRow,
	storedRow + phpWarning,
	"\uFEFF \n" + storedRow,
	strings.ReplaceAll(storedRow, `"1"`, "1"),
	strings.ReplaceAll(storedRow, `"0"`, "null"),
	strings.ReplaceAll(storedRow, `"Ana"`, `"A\u006ea"`),
	strings.ReplaceAll(storedRow, `"firstname"`, `"first\u006eame"`),
	strings.ReplaceAll(storedRow, `"title":"Gerente"`, `"title":"Gerente","title":"Diretora"`),
	strings.ReplaceAll(storedRow, `"Ana"`, "\"An\xffa\""),
	strings.ReplaceAll(storedRow, `:`, " :\t"),
	strings.ReplaceAll(storedRow, `,`, " ,\n"),
	strings.ReplaceAll(storedRow, `"title":"Gerente"`, `"title":{"a":["}",1]}`),
	strings.ReplaceAll(storedRow, `"Ana"`, `"Ana`),
	`{}`, `{"id":1}`, `{`, `[]`, noData, htmlPage, `{"a":1}{"b":2}`, `{"a":1} trailing`,
}

// TestParseContactFastPath checks the fast path against the strict reader:
// same contact, same error.
func TestParseContactFastPath(t *testing.T) {
	t.Parallel()
	for i, body := range scanSeeds {
		checkFastPath(t, i, []byte(body))
	}
}

func FuzzParseContactFastPath(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFastPath(t, 0, body) })
}

func checkFastPath(t *testing.T, i int, body []byte) {
	t.Helper()
	fast, errFast := parseContact(body)
	strict, errStrict := parseContactStrict(body)
	if fast != strict || (errFast == nil) != (errStrict == nil) ||
		(errFast != nil && errFast.Error() != errStrict.Error()) {
		t.Errorf("seed %d %q:\nfast   %+v, %v\nstrict %+v, %v", i, body, fast, errFast, strict, errStrict)
	}
}
