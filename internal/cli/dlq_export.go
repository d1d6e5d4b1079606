package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/perfexworker/perfex-worker/internal/dlq"
)

type dlqExportCmd struct {
	natsFlags
	dlqFilterFlags

	Seqs          []uint64 `arg:"" optional:"" name:"seq" help:"Dead-letter sequences to export."`
	All           bool     `name:"all" help:"Export every dead letter."`
	Limit         int      `name:"limit" help:"With filters or --all, export at most this many (the newest)."`
	Out           string   `name:"out" default:"-" placeholder:"PATH" help:"File to write ('-': stdout)."`
	RevealSecrets bool     `name:"reveal-secrets" help:"Write contact passwords instead of ***."`
}

func (c *dlqExportCmd) Help() string {
	return `Writes one JSON object a line per letter, oldest first: sequence, stored_at,
reason, status, field errors, replay count, application headers and the body
(under "body" when it is JSON). Passwords read "***" unless
--reveal-secrets; 'dlq replay --from-file' puts the stored password back in
place of "***", so a masked export can be fixed and replayed safely. Changes
nothing.

A replay from the file uses each record's sequence and stored_at to find the
letter still stored, and takes the subject, headers and replay count from
it; only the body comes from the file, validated like a new command when it
differs from the stored one.

Examples:
  perfex-worker dlq export --reason invalid_email --out bad.jsonl
  jq -c 'select(.contact_id == 4) | .body.data.email = "diego@example.com.br"' bad.jsonl > fixed.jsonl
  perfex-worker dlq replay --from-file fixed.jsonl --dry-run`
}

func (c *dlqExportCmd) Run(e *env) error {
	f, err := c.filter(time.Now())
	if err != nil {
		return err
	}
	sel := selection{seqs: c.Seqs, all: c.All, filter: f, limit: c.Limit}
	if err := sel.validate(false); err != nil {
		return err
	}
	out := e.stdout
	var file *os.File
	if c.Out != "-" {
		file, err = os.OpenFile(c.Out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return usagef("--out: %v", err)
		}
		defer file.Close()
		out = file
	}

	s, err := openDLQ(e.ctx, &c.natsFlags, "dlq export")
	if err != nil {
		return err
	}
	defer s.Close()
	letters, errs, err := sel.collect(e.ctx, s.browser, false)
	if err != nil {
		return err
	}
	if err := writeRecords(out, letters, c.RevealSecrets); err != nil {
		return fmt.Errorf("writing the export: %w", err)
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return fmt.Errorf("writing the export: %w", err)
		}
		fmt.Fprintf(e.stderr, "exported %s to %s\n", plural(len(letters), "letter", "letters"), c.Out)
	}
	return reportErrors(e.stderr, errs)
}

func writeRecords(w io.Writer, letters []dlq.Letter, reveal bool) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, l := range letters {
		if err := enc.Encode(dlq.NewRecord(l, reveal)); err != nil {
			return err
		}
	}
	return bw.Flush()
}
