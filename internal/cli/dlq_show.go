package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

type dlqShowCmd struct {
	natsFlags

	Seqs          []uint64 `arg:"" name:"seq" help:"Dead-letter sequences (as 'dlq list' shows them)."`
	RevealSecrets bool     `name:"reveal-secrets" help:"Show contact passwords instead of ***."`
	Output        string   `name:"output" short:"o" default:"text" enum:"text,json" help:"text or json (the export record of each letter)."`
}

func (c *dlqShowCmd) Help() string {
	return `Shows everything a dead letter holds: why it failed (reason, detail, HTTP
status, Perfex's per-field errors and reply excerpt), where the command came
from, its deliveries and replays, every header, and the body pretty-printed
with passwords masked (--reveal-secrets shows them).

Examples:
  perfex-worker dlq show 42
  perfex-worker dlq show 42 43 --output json`
}

func (c *dlqShowCmd) Run(e *env) error {
	s, err := openDLQ(e.ctx, &c.natsFlags, "dlq show")
	if err != nil {
		return err
	}
	defer s.Close()

	var errs []error
	for i, seq := range c.Seqs {
		raw, err := s.browser.GetRaw(e.ctx, seq)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l, err := dlq.ParseLetter(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c.Output == "json" {
			if err := json.NewEncoder(e.stdout).Encode(dlq.NewRecord(l, c.RevealSecrets)); err != nil {
				return err
			}
			continue
		}
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		writeLetter(e.stdout, s.browser.Names().DLQ, l, raw.Header, c.RevealSecrets)
	}
	for _, err := range errs {
		fmt.Fprintf(e.stderr, "%v\n", err)
	}
	if len(errs) > 0 {
		return errors.New(plural(len(errs), "letter", "letters") + " could not be shown")
	}
	return nil
}

func writeLetter(w io.Writer, stream string, l dlq.Letter, h nats.Header, reveal bool) {
	field := func(name, format string, args ...any) {
		fmt.Fprintf(w, "  %-14s %s\n", name, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(w, "Dead letter %d in %s, stored %s\n", l.Sequence, stream, l.StoredAt.UTC().Format("2006-01-02 15:04:05Z07:00"))
	field("reason", "%s: %s / %s", l.Reason, l.Reason.Message(reason.English), l.Reason.Message(reason.Portuguese))
	if l.Detail != "" {
		field("detail", "%s", dlq.Mask(l.Detail))
	}
	if l.Status > 0 {
		field("HTTP status", "%d", l.Status)
	} else {
		field("HTTP status", "none (no request was made)")
	}
	field("command", "%s", orDash(l.CommandID))
	field("subject", "%s (%s sequence %d)", l.OriginalSubject, l.OriginalStream, l.OriginalSequence)
	field("deliveries", "%d", l.Deliveries)
	field("failed at", "%s by worker %s", l.FailedAt.UTC().Format("2006-01-02 15:04:05Z07:00"), orDash(l.WorkerID))
	replays := fmt.Sprintf("%d", l.ReplayCount)
	if of := l.Headers.Get(dlq.HeaderReplayOf); of != "" {
		replays += " (last replayed from " + of
		if ed := l.Headers.Get(dlq.HeaderReplayEdited); ed != "" {
			replays += ", edited " + ed
		}
		replays += ")"
	}
	field("replays", "%s", replays)

	if len(l.FieldErrors) > 0 {
		fmt.Fprintln(w, "Perfex's field errors:")
		keys := make([]string, 0, len(l.FieldErrors))
		for k := range l.FieldErrors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %s\n", k, dlq.Mask(l.FieldErrors[k]))
		}
	}
	if l.Reply != "" {
		fmt.Fprintln(w, "Perfex's reply (excerpt):")
		fmt.Fprintf(w, "  %s\n", dlq.Mask(l.Reply))
	}

	fmt.Fprintln(w, "Headers:")
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			if !reveal {
				v = dlq.Mask(v)
			}
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}

	if reveal {
		fmt.Fprintln(w, "Body:")
		fmt.Fprintln(w, indent(prettyRevealed(l.Body)))
	} else {
		fmt.Fprintln(w, "Body (passwords masked; --reveal-secrets shows them):")
		fmt.Fprintln(w, indent(dlq.PrettyBody(l.Body)))
	}
}

func prettyRevealed(body []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		return strings.ToValidUTF8(string(body), "\uFFFD")
	}
	return buf.String()
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
