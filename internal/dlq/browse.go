package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// Filter selects dead letters. A zero field selects everything; the fields
// combine with AND, the values of one field with OR.
type Filter struct {
	// Contacts are contact ids. The server filters them by subject, so a
	// contact's letters are found without reading the others.
	Contacts   []int64
	Reasons    []reason.Code
	Statuses   []int
	CommandIDs []string
	// Since and Until bound the time the dead-letter stream stored the
	// letter (Until is exclusive).
	Since, Until time.Time
}

// Match reports whether l passes every field of f.
func (f Filter) Match(l Letter) bool {
	if len(f.Contacts) > 0 && !slices.Contains(f.Contacts, ContactID(l.Subject)) {
		return false
	}
	if len(f.Reasons) > 0 && !slices.Contains(f.Reasons, l.Reason) {
		return false
	}
	if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, l.Status) {
		return false
	}
	if len(f.CommandIDs) > 0 && !slices.Contains(f.CommandIDs, l.CommandID) {
		return false
	}
	if !f.Since.IsZero() && l.StoredAt.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !l.StoredAt.Before(f.Until) {
		return false
	}
	return true
}

// IsZero reports whether f selects every letter.
func (f Filter) IsZero() bool {
	return len(f.Contacts) == 0 && len(f.Reasons) == 0 && len(f.Statuses) == 0 &&
		len(f.CommandIDs) == 0 && f.Since.IsZero() && f.Until.IsZero()
}

// ContactID is the contact id in a command or dead-letter subject (its
// last token), 0 when the subject does not end in one.
func ContactID(subject string) int64 {
	n, err := strconv.ParseInt(subject[strings.LastIndexByte(subject, '.')+1:], 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// ErrNoLetter is returned for a sequence the dead-letter stream does not
// hold (never stored, replayed, purged or aged out).
var ErrNoLetter = errors.New("no dead letter at this sequence")

// Browser reads dead letters without consuming or changing them: single
// letters with direct gets, ranges with short-lived ordered consumers that
// the server forgets on their own.
type Browser struct {
	js     jetstream.JetStream
	names  broker.Names
	stream jetstream.Stream
}

// NewBrowser looks up the dead-letter stream named by names.
func NewBrowser(ctx context.Context, js jetstream.JetStream, names broker.Names) (*Browser, error) {
	names = names.WithDefaults()
	st, err := js.Stream(ctx, names.DLQ)
	if err != nil {
		return nil, fmt.Errorf("looking up dead-letter stream %s: %w", names.DLQ, err)
	}
	return &Browser{js: js, names: names, stream: st}, nil
}

// Names are the broker names the browser works with.
func (b *Browser) Names() broker.Names { return b.names }

// Info returns the dead-letter stream's current configuration and state.
func (b *Browser) Info(ctx context.Context) (*jetstream.StreamInfo, error) {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s stream info: %w", b.names.DLQ, err)
	}
	return info, nil
}

// Get reads the letter at seq. A sequence without a message is ErrNoLetter;
// a message that is not a dead letter is ErrNotALetter.
func (b *Browser) Get(ctx context.Context, seq uint64) (Letter, error) {
	raw, err := b.GetRaw(ctx, seq)
	if err != nil {
		return Letter{}, err
	}
	return ParseLetter(raw)
}

// GetRaw reads the message at seq as stored, with every header.
func (b *Browser) GetRaw(ctx context.Context, seq uint64) (*jetstream.RawStreamMsg, error) {
	raw, err := b.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("sequence %d: %w", seq, ErrNoLetter)
	}
	if err != nil {
		return nil, fmt.Errorf("reading dead letter %d: %w", seq, err)
	}
	return raw, nil
}

// Delete removes the letter at seq. A letter already gone is ErrNoLetter.
func (b *Browser) Delete(ctx context.Context, seq uint64) error {
	err := b.stream.DeleteMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("sequence %d: %w", seq, ErrNoLetter)
	}
	if err != nil {
		return fmt.Errorf("deleting dead letter %d: %w", seq, err)
	}
	return nil
}

// ScanOptions change what Scan reads.
type ScanOptions struct {
	// HeadersOnly leaves the bodies on the server: Letter.Body is empty.
	// Listing and counting need only the headers.
	HeadersOnly bool
}

// Scan calls fn with every letter that matches f, newest first, until fn
// returns false. A message that is not a dead letter is passed with the
// parse error (and a Letter holding only its sequence, subject and time)
// whatever the filter.
//
// Scan reads backwards in ranges that grow from 512 to 64k sequences, each
// with an ordered consumer filtered by the contacts' subjects, so the
// newest letters come back at once from any stream size, and it stops at
// the first letter older than f.Since.
func (b *Browser) Scan(ctx context.Context, f Filter, opts ScanOptions, fn func(Letter, error) bool) error {
	info, err := b.Info(ctx)
	if err != nil {
		return err
	}
	first, last := info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 || last < first {
		return nil
	}

	var subjects []string
	for _, c := range f.Contacts {
		subjects = append(subjects, b.names.Prefix+".dlq.contact.update."+strconv.FormatInt(c, 10))
	}

	// seenAfter counts the matching messages above the current range, so
	// the consumer's pending count tells how many lie inside it.
	var seenAfter uint64
	chunk := uint64(512)
	for hi := last; hi >= first; {
		lo := first
		if hi-first+1 > chunk {
			lo = hi - chunk + 1
		}
		msgs, err := b.readRange(ctx, subjects, lo, hi, seenAfter, opts)
		if err != nil {
			return err
		}
		seenAfter += uint64(len(msgs))
		for i := len(msgs) - 1; i >= 0; i-- {
			l, perr := msgs[i].letter()
			if !f.Since.IsZero() && l.StoredAt.Before(f.Since) {
				return nil
			}
			if perr != nil {
				if !fn(l, perr) {
					return nil
				}
				continue
			}
			if f.Match(l) && !fn(l, nil) {
				return nil
			}
		}
		if lo == first {
			break
		}
		hi = lo - 1
		chunk = min(chunk*4, 64<<10)
	}
	return nil
}

type rangeMsg struct{ raw jetstream.RawStreamMsg }

func (m rangeMsg) letter() (Letter, error) {
	l, err := ParseLetter(&m.raw)
	if err != nil {
		return Letter{Sequence: m.raw.Sequence, Subject: m.raw.Subject, StoredAt: m.raw.Time}, err
	}
	return l, nil
}

// rangeWait bounds the wait for a message the server said was pending; it
// only matters when letters are deleted while a range is read.
const rangeWait = 3 * time.Second

// readRange reads the messages from lo to hi, in stream order, that match
// subjects (all when empty).
func (b *Browser) readRange(ctx context.Context, subjects []string, lo, hi, seenAfter uint64, opts ScanOptions) ([]rangeMsg, error) {
	cons, err := b.js.OrderedConsumer(ctx, b.names.DLQ, jetstream.OrderedConsumerConfig{
		FilterSubjects:    subjects,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       lo,
		HeadersOnly:       opts.HeadersOnly,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s from sequence %d: %w", b.names.DLQ, lo, err)
	}
	pending := cons.CachedInfo().NumPending
	if pending <= seenAfter {
		return nil, nil
	}
	want := pending - seenAfter

	it, err := cons.Messages(jetstream.PullMaxMessages(int(min(want, 1024))))
	if err != nil {
		return nil, fmt.Errorf("reading %s from sequence %d: %w", b.names.DLQ, lo, err)
	}
	defer it.Stop()

	out := make([]rangeMsg, 0, min(want, 4096))
	for uint64(len(out)) < want {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		msg, err := it.Next(jetstream.NextMaxWait(rangeWait))
		if errors.Is(err, nats.ErrTimeout) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s from sequence %d: %w", b.names.DLQ, lo, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return nil, fmt.Errorf("reading %s from sequence %d: %w", b.names.DLQ, lo, err)
		}
		if meta.Sequence.Stream > hi {
			break
		}
		out = append(out, rangeMsg{raw: jetstream.RawStreamMsg{
			Subject:  msg.Subject(),
			Sequence: meta.Sequence.Stream,
			Header:   msg.Headers(),
			Data:     msg.Data(),
			Time:     meta.Timestamp,
		}})
		if meta.NumPending == 0 {
			break
		}
	}
	return out, nil
}
