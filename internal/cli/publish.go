package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/perfexworker/perfex-worker/command"
)

type publishCmd struct {
	natsFlags

	File         string            `name:"file" short:"f" help:"JSON lines file of commands, one per line ('-' for stdin). Blank lines and lines starting with # are skipped." placeholder:"PATH"`
	ContactID    int64             `name:"contact-id" help:"Publish one contact update for this contact, with the fields given by --set."`
	Set          []string          `name:"set" sep:"none" help:"A field of the update as name=value (repeatable): --set title=Director --set is_primary=true --set permissions=1,5."`
	ID           string            `name:"id" help:"Command id for the single command (default: a new ULID)."`
	OccurredAt   string            `name:"occurred-at" help:"When the change happened at the source (RFC 3339) for the single command."`
	Header       map[string]string `name:"header" short:"H" mapsep:"none" help:"Extra message header as name=value, such as traceparent=00-... (repeatable)."`
	AllowInvalid bool              `name:"allow-invalid" help:"Publish commands that fail validation anyway (they will be dead-lettered); useful to test the dead-letter path."`
	Timeout      time.Duration     `name:"timeout" default:"10s" help:"How long to wait for each acknowledgement, with a unit."`
}

func (c *publishCmd) Help() string {
	return `Examples:
  perfex-worker publish --contact-id 12 --set title=Director --set is_primary=true
  perfex-worker publish --file examples/commands.jsonl
  producer | perfex-worker publish --file -

Each command gets Nats-Msg-Id = its id, so re-sending a file within the
stream's duplicates window stores nothing twice; such re-sends are reported
as duplicates. Commands without an id get a new ULID. Invalid commands are
refused with the reason unless --allow-invalid is given.`
}

func (c *publishCmd) validate() error {
	if err := c.natsFlags.validate(); err != nil {
		return err
	}
	switch {
	case c.File != "" && c.ContactID != 0:
		return usagef("--file and --contact-id are alternatives; give one")
	case c.File == "" && c.ContactID == 0:
		return usagef("nothing to publish: give --contact-id with --set, or --file (use '-' for stdin)")
	case c.ContactID < 0:
		return usagef("--contact-id must be positive, got %d", c.ContactID)
	case c.ContactID != 0 && len(c.Set) == 0:
		return usagef("--contact-id needs at least one --set name=value")
	case c.File != "" && (len(c.Set) > 0 || c.ID != "" || c.OccurredAt != ""):
		return usagef("--set, --id and --occurred-at apply to a single command, not to --file")
	case c.Timeout <= 0:
		return usagef("--timeout must be a positive duration with a unit, such as 10s")
	}
	return nil
}

func (c *publishCmd) Run(e *env) error {
	if err := c.validate(); err != nil {
		return err
	}

	var lines io.Reader
	if c.ContactID != 0 {
		body, err := c.single()
		if err != nil {
			return err
		}
		lines = strings.NewReader(string(body) + "\n")
	} else if c.File == "-" {
		lines = os.Stdin
	} else {
		f, err := os.Open(c.File)
		if err != nil {
			return usagef("--file: %v", err)
		}
		defer f.Close()
		lines = f
	}

	nc, err := c.connect("perfex-worker publish", nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("using JetStream: %w", err)
	}

	p := linePublisher{js: js, prefix: c.Prefix, headers: c.Header, allowInvalid: c.AllowInvalid, timeout: c.Timeout}
	sum, err := p.publishAll(e.ctx, lines, e.stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "published %d (%d duplicates), refused %d, failed %d\n",
		sum.stored+sum.duplicates, sum.duplicates, sum.refused, sum.failed)
	if sum.refused+sum.failed > 0 {
		return fmt.Errorf("%d of %d commands were not published", sum.refused+sum.failed, sum.total())
	}
	return nil
}

// single builds the one command given by flags.
func (c *publishCmd) single() ([]byte, error) {
	data := map[string]any{}
	for _, kv := range c.Set {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, usagef("--set %q: want name=value", kv)
		}
		v, err := fieldValue(name, value)
		if err != nil {
			return nil, usagef("--set %s: %v", name, err)
		}
		data[name] = v
	}
	cmd := map[string]any{
		"type":       command.TypeContactUpdate,
		"contact_id": c.ContactID,
		"data":       data,
	}
	if c.ID != "" {
		cmd["id"] = c.ID
	}
	if c.OccurredAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, c.OccurredAt); err != nil {
			return nil, usagef("--occurred-at %q: want an RFC 3339 time such as 2026-12-03T10:00:00Z", c.OccurredAt)
		}
		cmd["occurred_at"] = c.OccurredAt
	}
	return json.Marshal(cmd)
}

// fieldValue converts a --set value to the JSON type of the named field.
func fieldValue(name, value string) (any, error) {
	switch name {
	case "userid":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %q", value)
		}
		return n, nil
	case "is_primary", "active", "invoice_emails", "estimate_emails", "credit_note_emails",
		"contract_emails", "task_emails", "project_emails", "ticket_emails":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return nil, fmt.Errorf("want true or false, got %q", value)
		}
		return b, nil
	case "permissions":
		ids := []int{}
		for _, s := range strings.Split(value, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, fmt.Errorf("want comma-separated permission ids, got %q", value)
			}
			ids = append(ids, n)
		}
		return ids, nil
	case "firstname", "lastname", "email", "phonenumber", "title", "direction", "password":
		return value, nil
	}
	return nil, fmt.Errorf("unknown field (known: userid, firstname, lastname, email, phonenumber, title, direction, is_primary, password, active, permissions and the *_emails flags)")
}

// linePublisher publishes JSON lines, one command per line.
type linePublisher struct {
	js           jetstream.JetStream
	prefix       string
	headers      map[string]string
	allowInvalid bool
	timeout      time.Duration
	// track, when set, is called with the id of every newly stored command.
	track func(id string)
}

type publishSummary struct{ stored, duplicates, refused, failed int }

func (s publishSummary) total() int { return s.stored + s.duplicates + s.refused + s.failed }

func (p *linePublisher) publishAll(ctx context.Context, r io.Reader, out io.Writer) (publishSummary, error) {
	var sum publishSummary
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), command.MaxSize+1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		res, err := p.publishLine(ctx, []byte(line))
		switch {
		case errors.As(err, new(refusal)):
			sum.refused++
			fmt.Fprintf(out, "line %d: not published: %v\n", n, err)
		case err != nil:
			sum.failed++
			fmt.Fprintf(out, "line %d: failed: %v\n", n, err)
		case res.duplicate:
			sum.duplicates++
			fmt.Fprintf(out, "line %d: %s: duplicate (%s)\n", n, res.id, res.detail)
		default:
			sum.stored++
			if p.track != nil {
				p.track(res.id)
			}
			fmt.Fprintf(out, "line %d: %s: %s\n", n, res.id, res.detail)
		}
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
	}
	if err := sc.Err(); err != nil {
		return sum, fmt.Errorf("reading commands: %w", err)
	}
	return sum, nil
}

// refusal is a line that is not published, with the reason.
type refusal struct{ reason string }

func (r refusal) Error() string { return r.reason }

func refusef(format string, args ...any) error {
	return refusal{fmt.Sprintf(format, args...)}
}

type lineResult struct {
	id        string
	duplicate bool
	detail    string
}

// publishLine gives a line an id when it has none, checks it, and
// publishes it with Nats-Msg-Id set to the id. The line is published as
// written: an id is spliced in, never re-encoded, so the worker decodes the
// very bytes the strict check here decoded.
func (p *linePublisher) publishLine(ctx context.Context, line []byte) (lineResult, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil || obj == nil {
		return lineResult{}, refusef("not a JSON object")
	}

	var id string
	if raw, ok := obj["id"]; !ok {
		id = ulid.Make().String()
		line = spliceID(line, id)
	} else if err := json.Unmarshal(raw, &id); err != nil || id == "" {
		if !p.allowInvalid {
			return lineResult{}, refusef("malformed: id: must be a non-empty string")
		}
		id = ulid.Make().String()
	}

	var contactID int64
	if err := json.Unmarshal(obj["contact_id"], &contactID); err != nil || contactID <= 0 {
		return lineResult{}, refusef("contact_id must be a positive integer to choose the subject")
	}
	subject := command.Subject(p.prefix, contactID)

	if _, err := command.Decode(subject, line); err != nil && !p.allowInvalid {
		return lineResult{}, refusef("%v", err)
	}

	msg := nats.NewMsg(subject)
	msg.Data = line
	for k, v := range p.headers {
		msg.Header.Set(k, v)
	}
	msg.Header.Set(jetstream.MsgIDHeader, id)

	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	ack, err := p.js.PublishMsg(ctx, msg)
	if err != nil {
		return lineResult{}, fmt.Errorf("publishing %s to %s: %w", id, subject, err)
	}
	if ack.Duplicate {
		return lineResult{id: id, duplicate: true, detail: fmt.Sprintf("already stored as %s sequence %d within the duplicates window", ack.Stream, ack.Sequence)}, nil
	}
	return lineResult{id: id, detail: fmt.Sprintf("stored in %s as sequence %d on %s", ack.Stream, ack.Sequence, subject)}, nil
}

// spliceID inserts "id" as the first member of the JSON object line, which
// must start with '{' once leading white space is skipped.
func spliceID(line []byte, id string) []byte {
	trimmed := bytes.TrimLeft(line, " \t")
	member, _ := json.Marshal(id)
	out := make([]byte, 0, len(trimmed)+len(member)+8)
	out = append(out, '{')
	out = append(out, `"id":`...)
	out = append(out, member...)
	rest := bytes.TrimLeft(trimmed[1:], " \t")
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}
