package crm

import (
	"encoding/json"

	"github.com/perfexworker/perfex-worker/internal/jsonscan"
)

// The row reader's fast path. A contact row is read before every update,
// and encoding/json's map decoding allocated for every column of it
// (BENCHMARKS.md). When the first value of a reply is a valid JSON object,
// its members can be found with a plain byte scan (internal/jsonscan, the
// same scan command uses for commands). rowMembers does that and gives up
// (ok=false) on anything unusual, an escaped column name for instance,
// leaving the case to decodeFirst, so what is accepted and what is refused
// does not change.

// rowMembers returns the members of the JSON object at the start of b (b
// already trimmed), when it is valid and no name has an escape. Later
// members win over earlier ones with the same name, as in a map decode.
func rowMembers(b []byte, members []rowMember) (_ []rowMember, ok bool) {
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	b = b[:jsonscan.ValueEnd(b, 0)]
	ok = jsonscan.Members(b, func(name, value []byte) bool {
		members = append(members, rowMember{name: name, raw: value})
		return true
	})
	if !ok {
		return nil, false
	}
	return members, true
}

// rowMember is one column of a row, its name still as bytes.
type rowMember struct {
	name []byte
	raw  json.RawMessage
}

// column returns the last value of column col, or nil.
func column(members []rowMember, col string) json.RawMessage {
	for i := len(members) - 1; i >= 0; i-- {
		if string(members[i].name) == col {
			return members[i].raw
		}
	}
	return nil
}
