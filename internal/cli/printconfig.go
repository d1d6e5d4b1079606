package cli

import (
	"fmt"
	"io"
	"reflect"
	"text/tabwriter"
	"time"

	"github.com/perfexworker/perfex-worker/internal/redact"
)

// secretFlags are printed masked by --print-config.
var secretFlags = map[string]bool{"perfex-token": true}

// configEntry is one setting as --print-config shows it.
type configEntry struct {
	flag, env, value string
}

// printConfig writes the effective configuration (flags over environment
// over defaults) with secrets masked, then reports whether it is valid:
// the exit status is 0 for a configuration run would accept.
func (c *runCmd) printConfig(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "# perfex-worker run: effective configuration, secrets masked")
	fmt.Fprintln(tw, "FLAG\tENVIRONMENT\tVALUE")
	for _, e := range configEntries(reflect.ValueOf(c).Elem()) {
		fmt.Fprintf(tw, "--%s\t%s\t%s\n", e.flag, e.env, e.value)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return c.validate()
}

// configEntries walks the flag structs of a command in declaration order.
func configEntries(v reflect.Value) []configEntry {
	var out []configEntry
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, configEntries(v.Field(i))...)
			continue
		}
		name := f.Tag.Get("name")
		if name == "" || name == "print-config" || !f.IsExported() {
			continue
		}
		out = append(out, configEntry{flag: name, env: f.Tag.Get("env"), value: configValue(name, v.Field(i))})
	}
	return out
}

func configValue(name string, v reflect.Value) string {
	var s string
	switch x := v.Interface().(type) {
	case time.Duration:
		s = x.String()
	default:
		s = fmt.Sprint(x)
	}
	switch {
	case s == "":
		return `""`
	case secretFlags[name]:
		return redact.Mask
	case name == "nats-url":
		return redactURL(s)
	}
	return s
}
