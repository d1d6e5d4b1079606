// Package jsonscan finds the parts of JSON text that encoding/json has
// already accepted, by a plain byte scan that allocates nothing.
//
// encoding/json allocates for every token it reads and for every member of
// a map it decodes. The worker decodes a command for every message and
// reads a contact row before every update (BENCHMARKS.md), so both paths
// first try this scan and fall back to encoding/json for anything it
// declines. Every function here trusts that its input is valid JSON, which
// Members and Elements check with json.Valid; on invalid input the indexes
// returned are only some index, never a panic.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Members calls yield with the name and the trimmed value of each member
// of the JSON object data, in order, when data is exactly one valid JSON
// object with surrounding white space allowed. The name is the raw bytes
// between its quotes, and both slices alias data. Bytes that are not UTF-8
// pass through as they are, where encoding/json would decode them as
// U+FFFD; a caller that cares checks utf8.Valid first.
//
// It reports false, having stopped, when data is not such an object, when
// a name holds an escape (the raw bytes would not be the name), or when
// yield returns false; a caller that wants all or nothing discards what
// yield saw. Repeated names are passed on as they come: which one counts
// is the caller's decision.
func Members(data []byte, yield func(name, value []byte) bool) bool {
	if !json.Valid(data) {
		return false
	}
	i := SkipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = SkipSpace(data, i+1)
	if data[i] == '}' {
		return true
	}
	for {
		// A name: valid JSON guarantees a string here.
		end := StringEnd(data, i)
		name := data[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			return false
		}
		i = SkipSpace(data, end)
		i = SkipSpace(data, i+1) // the colon
		vend := ValueEnd(data, i)
		if !yield(name, data[i:vend:vend]) {
			return false
		}
		i = SkipSpace(data, vend)
		if data[i] == '}' {
			return true
		}
		i = SkipSpace(data, i+1) // the comma
	}
}

// Elements calls yield with each trimmed element of the JSON array data,
// in order, when data is exactly one valid JSON array with surrounding
// white space allowed. The elements alias data. It reports false, having
// stopped, when data is not such an array or when yield returns false.
func Elements(data []byte, yield func(elem []byte) bool) bool {
	if !json.Valid(data) {
		return false
	}
	i := SkipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return false
	}
	i = SkipSpace(data, i+1)
	if data[i] == ']' {
		return true
	}
	for {
		end := ValueEnd(data, i)
		if !yield(data[i:end:end]) {
			return false
		}
		i = SkipSpace(data, end)
		if data[i] == ']' {
			return true
		}
		i = SkipSpace(data, i+1) // the comma
	}
}

// SkipSpace returns the index of the first byte at or after i that is not
// JSON white space, or len(data).
func SkipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// StringEnd returns the index just past the JSON string whose opening
// quote is data[i], or len(data) when it does not end.
func StringEnd(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// ValueEnd returns the index just past the JSON value that starts at
// data[i], or len(data) when i is past the end. Only the value's extent is
// found, not whether it is valid: for invalid input the result is some
// index that json.Valid on data[:end] then refuses.
func ValueEnd(data []byte, i int) int {
	if i >= len(data) {
		return len(data)
	}
	switch data[i] {
	case '"':
		return StringEnd(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				j = StringEnd(data, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(data)
	}
	// A number or a literal runs to the next delimiter.
	j := i
	for j < len(data) {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}

// PlainString returns the contents of the JSON string raw when it has no
// escape and is valid UTF-8, which is exactly when encoding/json would
// return those bytes unchanged. It reports false otherwise, and for
// anything that is not a string.
func PlainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	for _, c := range in {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}
