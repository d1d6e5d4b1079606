package command

import (
	"encoding/json"

	"github.com/perfexworker/perfex-worker/internal/jsonscan"
)

// The decoder's fast path. encoding/json's token reader allocates for
// every token, and a command is decoded for every message the worker
// takes (BENCHMARKS.md). For a body that json.Valid accepts, the members
// of an object can be found by a plain byte scan (internal/jsonscan);
// splitMembers uses it and gives up (ok=false) whenever the answer is not
// the simple one, so the strict reader in readObject decides every error
// and every unusual case, and its messages stay exactly as they were.

// splitMembers returns the members of the JSON object data, in order, with
// their values trimmed, when data is exactly one valid JSON object (with
// surrounding white space), no name repeats and no name has an escape. It
// returns ok=false in every other case.
func splitMembers(data []byte, members []member) (_ []member, ok bool) {
	ok = jsonscan.Members(data, func(name, value []byte) bool {
		key := string(name)
		for _, m := range members {
			if m.key == key {
				return false
			}
		}
		members = append(members, member{key: key, raw: value})
		return true
	})
	if !ok {
		return nil, false
	}
	return members, true
}

// splitArray returns the elements of the valid JSON array data, trimmed;
// ok=false when data is not one.
func splitArray(data []byte, elems []json.RawMessage) (_ []json.RawMessage, ok bool) {
	ok = jsonscan.Elements(data, func(elem []byte) bool {
		elems = append(elems, elem)
		return true
	})
	if !ok {
		return nil, false
	}
	return elems, true
}
