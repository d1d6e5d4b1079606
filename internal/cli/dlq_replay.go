package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/clock"
	"github.com/perfexworker/perfex-worker/internal/dlq"
)

type dlqReplayCmd struct {
	natsFlags
	dlqFilterFlags

	Seqs       []uint64      `arg:"" optional:"" name:"seq" help:"Dead-letter sequences to replay."`
	All        bool          `name:"all" help:"Replay every dead letter."`
	Limit      int           `name:"limit" help:"With filters or --all, replay at most this many (the oldest first)."`
	FromFile   string        `name:"from-file" placeholder:"PATH" help:"Replay the letters of a 'dlq export' file ('-' for stdin), with the bodies it holds (perhaps fixed with jq)."`
	Set        []string      `name:"set" placeholder:"data.FIELD=VALUE" help:"Change a field before sending (repeatable): --set data.email=ana@example.com. The result is validated like a new command."`
	Unset      []string      `name:"unset" placeholder:"data.FIELD" help:"Remove a field before sending (repeatable)."`
	DryRun     bool          `name:"dry-run" help:"Print what would be sent (passwords masked) and change nothing."`
	Rate       string        `name:"rate" placeholder:"N/s" help:"At most this many letters per second or minute (5/s, 30/m); default unlimited."`
	MaxReplays int           `name:"max-replays" default:"3" help:"Refuse letters already replayed this many times."`
	Force      bool          `name:"force" help:"Replay letters past --max-replays."`
	Timeout    time.Duration `name:"timeout" default:"10s" help:"How long one letter's publish and removal may take."`
}

func (c *dlqReplayCmd) Help() string {
	return `Publishes each chosen letter's body, with its original application headers
(traceparent and the like), to its original command subject, oldest first,
and removes the letter once the command stream confirmed the new message.

Every replay of a letter carries the same Nats-Msg-Id,
replay:<dlq stream>:<seq>:<stored-at>, never the original command's id. A
replay interrupted at any point (Ctrl-C, a killed process, a lost
connection) can be run again with the same arguments within the command
stream's 10-minute duplicates window: letters already sent are recognised
by that id, removed and not sent again, so every letter is sent once in all.

The replayed command carries Perfex-Replay-Count (one more than the
letter's), Perfex-Replay-Of (<dlq stream>:<seq>) and, when edited,
Perfex-Replay-Edited (the changed fields). If it fails again, its new dead
letter shows the count; past --max-replays letters are refused unless
--force.

Examples:
  perfex-worker dlq replay 42 --dry-run
  perfex-worker dlq replay 42 --set data.email=diego.almeida@example.com.br
  perfex-worker dlq replay --reason max_deliveries --since 2h --rate 5/s
  perfex-worker dlq export --reason invalid_email > bad.jsonl
  jq -c '.body.data.email |= ascii_downcase' bad.jsonl > fixed.jsonl
  perfex-worker dlq replay --from-file fixed.jsonl

Exit status 1 when any letter was refused or failed; each is named with its
sequence and the cause.`
}

func (c *dlqReplayCmd) Run(e *env) error {
	f, err := c.filter(time.Now())
	if err != nil {
		return err
	}
	sel := selection{seqs: c.Seqs, all: c.All, filter: f, limit: c.Limit}
	if err := sel.validate(c.FromFile != ""); err != nil {
		return err
	}
	if c.MaxReplays < 1 {
		return usagef("--max-replays must be at least 1")
	}
	if c.Timeout <= 0 {
		return usagef("--timeout must be a positive duration with a unit, such as 10s")
	}
	limiter, err := parseRate(c.Rate)
	if err != nil {
		return err
	}
	edits, err := parseEdits(c.Set, c.Unset)
	if err != nil {
		return err
	}
	var file io.Reader
	switch c.FromFile {
	case "":
	case "-":
		file = os.Stdin
	default:
		fh, err := os.Open(c.FromFile)
		if err != nil {
			return usagef("--from-file: %v", err)
		}
		defer fh.Close()
		file = fh
	}

	s, err := openDLQ(e.ctx, &c.natsFlags, "dlq replay")
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := dlq.NewReplayer(e.ctx, s.js, s.browser, dlq.ReplayConfig{
		MaxReplays: c.MaxReplays, Force: c.Force, Timeout: c.Timeout,
	})
	if err != nil {
		return err
	}

	var items []replayItem
	var errs []error
	if file != nil {
		items, errs, err = readReplayFile(e.ctx, s.browser, file)
	} else {
		var letters []dlq.Letter
		letters, errs, err = sel.collect(e.ctx, s.browser, false)
		for _, l := range letters {
			items = append(items, replayItem{letter: l})
		}
	}
	if err != nil {
		return err
	}
	for _, err := range errs {
		fmt.Fprintf(e.stdout, "%v\n", err)
	}

	run := replayRun{cmd: c, r: r, out: e.stdout, limiter: limiter, edits: edits,
		progress: newProgress(e.stderr, len(items)), failed: len(errs)}
	if c.DryRun {
		// The per-field clock says which fields newer commands already
		// set; without it (a worker never ran here) nothing is skipped.
		run.clock, _ = clock.Open(e.ctx, s.js, broker.Names{Prefix: c.Prefix}.WithDefaults().Clock)
	}
	run.all(e.ctx, items)
	return run.summary(e.ctx, len(items))
}

type replayItem struct {
	letter dlq.Letter
	// body is the export file's body; nil replays the stored one.
	body []byte
}

// readReplayFile pairs each record of an export with the letter still
// stored under its sequence. A record whose letter is gone, or whose
// sequence now holds another letter, is an error.
func readReplayFile(ctx context.Context, b *dlq.Browser, r io.Reader) ([]replayItem, []error, error) {
	var items []replayItem
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4*command.MaxSize+64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rec, body, err := dlq.ParseRecord([]byte(line))
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			continue
		}
		l, err := b.Get(ctx, rec.Sequence)
		if errors.Is(err, dlq.ErrNoLetter) {
			errs = append(errs, fmt.Errorf("%d: not replayed: the letter is no longer in the dead-letter stream (already replayed or purged)", rec.Sequence))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%d: %w", rec.Sequence, err))
			continue
		}
		if !rec.StoredAt.IsZero() && !rec.StoredAt.Equal(l.StoredAt) {
			errs = append(errs, fmt.Errorf("%d: not replayed: the stream holds another letter under this sequence (stored %s, the file says %s)",
				rec.Sequence, l.StoredAt.UTC().Format(time.RFC3339Nano), rec.StoredAt.UTC().Format(time.RFC3339Nano)))
			continue
		}
		items = append(items, replayItem{letter: l, body: body})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading --from-file: %w", err)
	}
	return items, errs, nil
}

type replayRun struct {
	cmd      *dlqReplayCmd
	r        *dlq.Replayer
	out      io.Writer
	limiter  *rate.Limiter
	edits    []dlq.Edit
	progress *progress
	// clock, in a dry run, tells which fields would be skipped.
	clock *clock.Store

	sent, already, refused, failed, done int
}

func (run *replayRun) all(ctx context.Context, items []replayItem) {
	for _, it := range items {
		if ctx.Err() != nil {
			return
		}
		seq := it.letter.Sequence
		rp, err := run.r.Prepare(it.letter, it.body, run.edits)
		switch {
		case errors.Is(err, dlq.ErrRefused):
			run.refused++
			fmt.Fprintf(run.out, "%d: %v\n", seq, err)
		case err != nil:
			run.failed++
			fmt.Fprintf(run.out, "%d: failed: %v\n", seq, err)
		case run.cmd.DryRun:
			run.sent++
			writePlan(run.out, rp)
			run.writeSuperseded(ctx, rp)
		default:
			if run.limiter != nil && run.limiter.Wait(ctx) != nil {
				return
			}
			run.send(ctx, rp)
		}
		run.done++
		run.progress.set(run.done, run.refused+run.failed)
	}
}

func (run *replayRun) send(ctx context.Context, rp *dlq.Replay) {
	seq, l := rp.Letter.Sequence, rp.Letter
	res, err := run.r.Send(ctx, rp)
	if err != nil {
		run.failed++
		fmt.Fprintf(run.out, "%d: failed: %v\n", seq, err)
		return
	}
	what := fmt.Sprintf("command %s, replay %d", orDash(l.CommandID), l.ReplayCount+1)
	if len(rp.Edited) > 0 {
		what += ", edited " + strings.Join(rp.Edited, ",")
	}
	removed := "letter removed"
	if res.LetterGone {
		removed = "the letter was already removed"
	}
	if res.AlreadySent {
		run.already++
		how := "checked against the stored message"
		if !res.Verified {
			how = "the worker has consumed it; the replay id is this letter's alone"
		}
		fmt.Fprintf(run.out, "%d: already sent by an earlier run as %s sequence %d (%s; %s); %s\n",
			seq, run.r.CommandsStream(), res.CommandSeq, what, how, removed)
		return
	}
	run.sent++
	fmt.Fprintf(run.out, "%d: sent to %s as %s sequence %d (%s); %s\n",
		seq, rp.Msg.Subject, run.r.CommandsStream(), res.CommandSeq, what, removed)
}

func (run *replayRun) summary(ctx context.Context, total int) error {
	run.progress.finish()
	if run.cmd.DryRun {
		fmt.Fprintf(run.out, "dry run: would replay %d, refused %d, failed %d; nothing was changed\n", run.sent, run.refused, run.failed)
	} else {
		fmt.Fprintf(run.out, "replayed %d, already sent %d, refused %d, failed %d\n", run.sent, run.already, run.refused, run.failed)
	}
	if ctx.Err() != nil && run.done < total {
		return fmt.Errorf("interrupted after %d of %d letters; run the same command again within %s: letters already sent are recognised and not sent twice",
			run.done, total, broker.DuplicatesWindow)
	}
	if n := run.refused + run.failed; n > 0 {
		return errors.New(plural(n, "letter was", "letters were") + " not replayed")
	}
	return nil
}

// writePlan prints a dry run's message with passwords masked.
func writePlan(w io.Writer, rp *dlq.Replay) {
	fmt.Fprintf(w, "%d: would send to %s\n", rp.Letter.Sequence, rp.Msg.Subject)
	keys := make([]string, 0, len(rp.Msg.Header))
	for k := range rp.Msg.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range rp.Msg.Header[k] {
			fmt.Fprintf(w, "  %s: %s\n", k, dlq.Mask(v))
		}
	}
	fmt.Fprintf(w, "  body: %s\n", dlq.MaskBody(rp.Msg.Data))
}

// writeSuperseded prints, for a dry run, the fields the worker would skip
// because a newer command for the contact already set them.
func (run *replayRun) writeSuperseded(ctx context.Context, rp *dlq.Replay) {
	if run.clock == nil {
		return
	}
	cmd, err := command.Decode(rp.Msg.Subject, rp.Msg.Data)
	if err != nil {
		return
	}
	rank, _ := clock.Rank(rp.Letter.OriginalSequence, rp.Msg.Header)
	rec, err := run.clock.Get(ctx, cmd.ContactID)
	if err != nil {
		fmt.Fprintf(run.out, "  superseded fields: unknown (%v)\n", err)
		return
	}
	v := rec.Judge(cmd.Data.Fields(), rank)
	switch {
	case len(v.Stale) == 0:
		fmt.Fprintf(run.out, "  superseded fields: none\n")
	case len(v.Fresh) == 0 && len(v.Done) == 0:
		fmt.Fprintf(run.out, "  superseded fields: %s (all: the replay would end superseded)\n", strings.Join(v.Stale, ", "))
	default:
		fmt.Fprintf(run.out, "  superseded fields: %s (newer commands set them; they would be skipped)\n", strings.Join(v.Stale, ", "))
	}
}

// parseRate reads N/s, N/m or N/h; empty means unlimited (nil).
func parseRate(v string) (*rate.Limiter, error) {
	if v == "" {
		return nil, nil
	}
	n, unit, ok := strings.Cut(v, "/")
	count, err := strconv.ParseFloat(n, 64)
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "min": time.Minute, "h": time.Hour}[unit]
	if !ok || err != nil || count <= 0 || per == 0 {
		return nil, usagef("--rate %q: want a count per second, minute or hour, such as 5/s or 30/m", v)
	}
	return rate.NewLimiter(rate.Limit(count/per.Seconds()), 1), nil
}

// parseEdits turns --set and --unset into edits with typed JSON values.
func parseEdits(set, unset []string) ([]dlq.Edit, error) {
	var edits []dlq.Edit
	for _, kv := range set {
		path, value, ok := strings.Cut(kv, "=")
		if !ok || path == "" {
			return nil, usagef("--set %q: want data.FIELD=VALUE", kv)
		}
		var v any
		switch field, isData := strings.CutPrefix(path, "data."); {
		case isData:
			fv, err := fieldValue(field, value)
			if err != nil {
				return nil, usagef("--set %s: %v", path, err)
			}
			v = fv
		case path == "occurred_at":
			if _, err := time.Parse(time.RFC3339Nano, value); err != nil {
				return nil, usagef("--set occurred_at=%q: want an RFC 3339 time", value)
			}
			v = value
		default:
			return nil, usagef("--set %s: only data.FIELD and occurred_at can be edited", path)
		}
		raw, _ := json.Marshal(v)
		edits = append(edits, dlq.Edit{Path: path, Value: raw})
	}
	for _, path := range unset {
		if _, isData := strings.CutPrefix(path, "data."); !isData && path != "occurred_at" {
			return nil, usagef("--unset %s: only data.FIELD and occurred_at can be removed", path)
		}
		edits = append(edits, dlq.Edit{Path: path, Unset: true})
	}
	return edits, nil
}

// progress draws a one-line bar on a terminal and nothing elsewhere.
type progress struct {
	w     io.Writer
	total int
	on    bool
	last  time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, on: isTerminal(w) && total > 1}
}

func (p *progress) set(done, problems int) {
	if !p.on || (time.Since(p.last) < 100*time.Millisecond && done < p.total) {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := width * done / max(p.total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d, %d not replayed ", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, p.total, problems)
}

func (p *progress) finish() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
