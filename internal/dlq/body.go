package dlq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// literalSecret matches a password or token member whose value is not a
// string (a number or literal), which Mask leaves alone.
var literalSecret = regexp.MustCompile(`(?i)("(?:password|authtoken|token)"\s*:\s*)(-?[0-9][^,}\s]*|true|false)`)

// MaskBody returns a command body for display: every password or token
// value replaced by Masked, whatever its JSON type, and invalid UTF-8
// replaced. It never returns a secret the body held, JSON or not.
func MaskBody(body []byte) string {
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	s = Mask(s)
	return literalSecret.ReplaceAllString(s, `${1}"`+Masked+`"`)
}

// PrettyBody is MaskBody indented when the body is JSON.
func PrettyBody(body []byte) string {
	masked := MaskBody(body)
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(masked), "", "  "); err != nil {
		return masked
	}
	return out.String()
}

// Edit changes one field of a command body before a replay.
type Edit struct {
	// Path is "data.<field>" or "occurred_at".
	Path string
	// Value is the new JSON value; nil with Unset.
	Value json.RawMessage
	// Unset removes the field instead.
	Unset bool
}

// ErrEdit is returned when a body cannot take the edits.
var ErrEdit = errors.New("cannot edit the body")

// ApplyEdits returns body with edits applied and the edited paths. The
// body must be a JSON object; its members are re-encoded in sorted order.
func ApplyEdits(body []byte, edits []Edit) ([]byte, []string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, nil, fmt.Errorf("%w: the stored body is not a JSON object", ErrEdit)
	}
	var data map[string]json.RawMessage
	if raw, ok := top["data"]; ok {
		if err := json.Unmarshal(raw, &data); err != nil || data == nil {
			return nil, nil, fmt.Errorf("%w: the stored body's data is not a JSON object", ErrEdit)
		}
	} else {
		data = map[string]json.RawMessage{}
	}

	var paths []string
	for _, e := range edits {
		target, key := top, e.Path
		if field, ok := strings.CutPrefix(e.Path, "data."); ok && field != "" && !strings.Contains(field, ".") {
			target, key = data, field
		} else if e.Path != "occurred_at" {
			return nil, nil, fmt.Errorf("%w: %q: only data.<field> and occurred_at can be edited", ErrEdit, e.Path)
		}
		if e.Unset {
			delete(target, key)
		} else {
			target[key] = e.Value
		}
		if !slices.Contains(paths, e.Path) {
			paths = append(paths, e.Path)
		}
	}

	top["data"], _ = json.Marshal(data)
	out, err := json.Marshal(top)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrEdit, err)
	}
	return out, paths, nil
}

// ChangedPaths compares two command bodies and returns the top-level and
// data.* members that differ, sorted. ok is false when either is not a JSON
// object.
func ChangedPaths(before, after []byte) (paths []string, ok bool) {
	b, bData, ok1 := splitBody(before)
	a, aData, ok2 := splitBody(after)
	if !ok1 || !ok2 {
		return nil, false
	}
	diff := func(prefix string, x, y map[string]any) {
		for k := range maps.Keys(x) {
			if !jsonEqual(x[k], y[k]) || !hasKey(y, k) {
				paths = append(paths, prefix+k)
			}
		}
		for k := range maps.Keys(y) {
			if !hasKey(x, k) {
				paths = append(paths, prefix+k)
			}
		}
	}
	delete(b, "data")
	delete(a, "data")
	diff("", b, a)
	diff("data.", bData, aData)
	slices.Sort(paths)
	return slices.Compact(paths), true
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func jsonEqual(x, y any) bool {
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return bytes.Equal(bx, by)
}

func splitBody(body []byte) (top, data map[string]any, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil || top == nil {
		return nil, nil, false
	}
	data, _ = top["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	return top, data, true
}

// restorePassword replaces a masked data.password in body with the one in
// stored. It fails when body holds the mask and stored has no password to
// put back: sending "***" as a portal password would lock the contact out.
func restorePassword(body, stored []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return body, nil
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(top["data"], &data); err != nil {
		return body, nil
	}
	var pw string
	if json.Unmarshal(data["password"], &pw) != nil || pw != Masked {
		return body, nil
	}

	var storedTop map[string]json.RawMessage
	var storedData map[string]json.RawMessage
	var storedPw string
	if json.Unmarshal(stored, &storedTop) != nil ||
		json.Unmarshal(storedTop["data"], &storedData) != nil ||
		json.Unmarshal(storedData["password"], &storedPw) != nil {
		return nil, fmt.Errorf("%w: data.password is the mask %q and the dead letter holds no password to put back", ErrEdit, Masked)
	}
	data["password"] = storedData["password"]
	top["data"], _ = json.Marshal(data)
	return json.Marshal(top)
}
