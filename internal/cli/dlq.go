package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/term"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// dlqCmd groups the dead-letter operations.
type dlqCmd struct {
	List   dlqListCmd   `cmd:"" help:"List dead letters, newest first, with filters."`
	Show   dlqShowCmd   `cmd:"" help:"Show dead letters in full: body, headers, Perfex's errors."`
	Replay dlqReplayCmd `cmd:"" help:"Send dead letters again to their command subject, optionally edited."`
	Purge  dlqPurgeCmd  `cmd:"" help:"Delete chosen dead letters."`
	Stats  dlqStatsCmd  `cmd:"" help:"Count dead letters by reason, HTTP status and age; check the stream's limits."`
	Export dlqExportCmd `cmd:"" help:"Write chosen dead letters as JSON lines, for bulk fixes and replay --from-file."`
}

func (c *dlqCmd) Help() string {
	return `Dead letters live in the PERFEX_DLQ stream. Browsing (list, show, stats,
export) never consumes or changes them; replay removes a letter only after
the command stream confirmed its new copy; purge asks first.

Examples:
  perfex-worker dlq list --reason invalid_email --since 24h
  perfex-worker dlq show 42
  perfex-worker dlq replay 42 --set data.email=ana@example.com
  perfex-worker dlq stats`
}

// dlqFilterFlags select letters by their headers.
type dlqFilterFlags struct {
	Reason    []string `name:"reason" sep:"," help:"Only these reason codes (comma-separated or repeated): malformed, unknown_operation, invalid_email, not_found, validation_failed, conflict, rejected, max_deliveries."`
	Contact   []int64  `name:"contact" sep:"," help:"Only these contact ids."`
	Status    []int    `name:"status" sep:"," help:"Only these HTTP statuses from Perfex (0: no request was made)."`
	Since     string   `name:"since" help:"Only letters stored since then: a duration back from now (24h, 90m) or a time (2026-12-03, 2026-12-03T10:00:00Z)."`
	Until     string   `name:"until" help:"Only letters stored before then: a duration back from now or a time."`
	CommandID []string `name:"command-id" sep:"," help:"Only the letters of these command ids."`
}

func (f *dlqFilterFlags) filter(now time.Time) (dlq.Filter, error) {
	var out dlq.Filter
	for _, r := range f.Reason {
		code := reason.Code(strings.TrimSpace(r))
		if !slices.Contains(reason.DeadLetterReasons, code) {
			return out, usagef("--reason %q is not a dead-letter reason (one of %s)", r, reasonList())
		}
		out.Reasons = append(out.Reasons, code)
	}
	for _, c := range f.Contact {
		if c <= 0 {
			return out, usagef("--contact %d: contact ids are positive", c)
		}
	}
	out.Contacts, out.Statuses, out.CommandIDs = f.Contact, f.Status, f.CommandID
	var err error
	if out.Since, err = parseWhen("--since", f.Since, now); err != nil {
		return out, err
	}
	if out.Until, err = parseWhen("--until", f.Until, now); err != nil {
		return out, err
	}
	if !out.Since.IsZero() && !out.Until.IsZero() && !out.Since.Before(out.Until) {
		return out, usagef("--since %s is not before --until %s", f.Since, f.Until)
	}
	return out, nil
}

func reasonList() string {
	var s []string
	for _, r := range reason.DeadLetterReasons {
		s = append(s, string(r))
	}
	return strings.Join(s, ", ")
}

// parseWhen reads a duration back from now or an absolute time.
func parseWhen(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, usagef("%s %s: give a positive duration back from now", flag, v)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("%s %q: want a duration (24h) or a time (2026-12-03 or 2026-12-03T10:00:00Z)", flag, v)
}

// dlqSession is an open connection to the dead-letter stream.
type dlqSession struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	browser *dlq.Browser
}

func openDLQ(ctx context.Context, f *natsFlags, name string) (*dlqSession, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	nc, err := f.connect("perfex-worker "+name, nil)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("using JetStream: %w", err)
	}
	b, err := dlq.NewBrowser(ctx, js, broker.Names{Prefix: f.Prefix})
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &dlqSession{nc: nc, js: js, browser: b}, nil
}

func (s *dlqSession) Close() { s.nc.Close() }

// selection is which letters replay, purge and export work on: explicit
// sequences, a filter, or all.
type selection struct {
	seqs   []uint64
	all    bool
	filter dlq.Filter
	limit  int
}

func (s selection) validate(hasFile bool) error {
	chosen := 0
	if len(s.seqs) > 0 {
		chosen++
	}
	if s.all {
		chosen++
	}
	if !s.filter.IsZero() {
		chosen++
	}
	if hasFile {
		chosen++
	}
	switch {
	case chosen == 0:
		return usagef("choose the letters: sequences, filters (--reason, --contact, ...) or --all")
	case chosen > 1:
		return usagef("sequences, filters, --all and --from-file are alternatives; give one")
	case s.limit < 0:
		return usagef("--limit must not be negative")
	}
	return nil
}

// collect reads the selected letters in stream order (oldest first), so a
// replay keeps the order in which commands failed. Missing sequences are
// reported in errs and skipped.
func (s selection) collect(ctx context.Context, b *dlq.Browser, headersOnly bool) (letters []dlq.Letter, errs []error, err error) {
	if len(s.seqs) > 0 {
		for _, seq := range s.seqs {
			l, err := b.Get(ctx, seq)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			letters = append(letters, l)
		}
		return letters, errs, nil
	}
	err = b.Scan(ctx, s.filter, dlq.ScanOptions{HeadersOnly: headersOnly}, func(l dlq.Letter, perr error) bool {
		if perr != nil {
			errs = append(errs, fmt.Errorf("sequence %d: %w", l.Sequence, perr))
			return true
		}
		letters = append(letters, l)
		return s.limit == 0 || len(letters) < s.limit
	})
	slices.Reverse(letters)
	return letters, errs, err
}

// isTerminal reports whether f is a terminal; tests replace it.
var isTerminal = func(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// stdin is where purge reads its confirmation; tests replace it.
var stdin io.Reader = os.Stdin

// terminalWidth is w's width when it is a terminal, else 0.
func terminalWidth(w io.Writer) int {
	file, ok := w.(*os.File)
	if !ok || !isTerminal(w) {
		return 0
	}
	width, _, err := term.GetSize(int(file.Fd()))
	if err != nil {
		return 0
	}
	return width
}

// reportErrors prints per-letter errors and returns a failure when any.
func reportErrors(w io.Writer, errs []error) error {
	for _, err := range errs {
		fmt.Fprintf(w, "%v\n", err)
	}
	if len(errs) > 0 {
		return errors.New(plural(len(errs), "letter", "letters") + " could not be read")
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
