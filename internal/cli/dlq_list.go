package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/perfexworker/perfex-worker/internal/dlq"
)

type dlqListCmd struct {
	natsFlags
	dlqFilterFlags

	Limit  int    `name:"limit" default:"50" help:"Show at most this many letters (0: all)."`
	Output string `name:"output" short:"o" default:"table" enum:"table,json,jsonl" help:"table, json (one array) or jsonl (one object a line)."`
}

func (c *dlqListCmd) Help() string {
	return `Newest first. Reads only the letters' headers and never consumes or changes
anything; --contact is filtered by the server, so it stays quick on a large
stream. Bodies are never listed: see 'dlq show' or 'dlq export'.

Examples:
  perfex-worker dlq list
  perfex-worker dlq list --reason invalid_email,validation_failed --since 24h
  perfex-worker dlq list --contact 4 --output json
  perfex-worker dlq list --status 409 --limit 0 --output jsonl | jq -r .command_id`
}

// listRow is one letter in json and jsonl output. It holds no body, so no
// password can reach a listing.
type listRow struct {
	Sequence    uint64    `json:"sequence"`
	StoredAt    time.Time `json:"stored_at"`
	Reason      string    `json:"reason"`
	Status      int       `json:"status,omitempty"`
	ContactID   int64     `json:"contact_id,omitempty"`
	CommandID   string    `json:"command_id,omitempty"`
	Error       string    `json:"error"`
	Subject     string    `json:"subject"`
	Deliveries  uint64    `json:"deliveries,omitempty"`
	ReplayCount int       `json:"replay_count"`
	FailedAt    time.Time `json:"failed_at,omitzero"`
}

func newListRow(l dlq.Letter) listRow {
	return listRow{
		Sequence: l.Sequence, StoredAt: l.StoredAt.UTC(), Reason: string(l.Reason), Status: l.Status,
		ContactID: dlq.ContactID(l.OriginalSubject), CommandID: l.CommandID, Error: oneLine(l),
		Subject: l.OriginalSubject, Deliveries: l.Deliveries, ReplayCount: l.ReplayCount, FailedAt: l.FailedAt,
	}
}

// oneLine is the letter's error on one line: the detail, else the
// message, masked again in case an older writer let a secret through.
func oneLine(l dlq.Letter) string {
	s := l.Detail
	if s == "" {
		s = l.Message
	}
	return strings.Join(strings.Fields(dlq.Mask(s)), " ")
}

func (c *dlqListCmd) Run(e *env) error {
	if c.Limit < 0 {
		return usagef("--limit must not be negative")
	}
	f, err := c.filter(time.Now())
	if err != nil {
		return err
	}
	s, err := openDLQ(e.ctx, &c.natsFlags, "dlq list")
	if err != nil {
		return err
	}
	defer s.Close()

	var rows []listRow
	var bad []error
	err = s.browser.Scan(e.ctx, f, dlq.ScanOptions{HeadersOnly: true}, func(l dlq.Letter, perr error) bool {
		if perr != nil {
			bad = append(bad, fmt.Errorf("sequence %d: %w", l.Sequence, perr))
			return true
		}
		rows = append(rows, newListRow(l))
		return c.Limit == 0 || len(rows) < c.Limit
	})
	if err != nil {
		return err
	}

	switch c.Output {
	case "json":
		if rows == nil {
			rows = []listRow{}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return err
		}
	case "jsonl":
		enc := json.NewEncoder(e.stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	default:
		writeTable(e.stdout, rows, terminalWidth(e.stdout))
		if len(rows) == 0 {
			fmt.Fprintln(e.stderr, "no dead letters match")
		} else if c.Limit > 0 && len(rows) == c.Limit {
			fmt.Fprintf(e.stderr, "(the newest %d; --limit 0 lists all)\n", c.Limit)
		}
	}
	return reportErrors(e.stderr, bad)
}

// writeTable prints rows aligned; with a width, the error column is cut
// so that each line fits.
func writeTable(w io.Writer, rows []listRow, width int) {
	cells := [][]string{{"SEQ", "STORED (UTC)", "REASON", "STATUS", "CONTACT", "COMMAND ID", "ERROR"}}
	for _, r := range rows {
		status, contact := "-", "-"
		if r.Status > 0 {
			status = strconv.Itoa(r.Status)
		}
		if r.ContactID > 0 {
			contact = strconv.FormatInt(r.ContactID, 10)
		}
		cells = append(cells, []string{
			strconv.FormatUint(r.Sequence, 10), r.StoredAt.Format("2006-01-02 15:04:05"), r.Reason,
			status, contact, r.CommandID, r.Error,
		})
	}
	if width > 0 {
		used := 0
		for col := range len(cells[0]) - 1 {
			widest := 0
			for _, row := range cells {
				widest = max(widest, len([]rune(row[col])))
			}
			used += widest + 2
		}
		room := max(width-used-1, 10)
		for _, row := range cells[1:] {
			if r := []rune(row[6]); len(r) > room {
				row[6] = string(r[:room-1]) + "…"
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range cells {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
}
