package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/clock"
)

// Headers a replay adds to the republished command. The worker copies them
// into a new dead letter like any application header, so a letter that
// failed again tells where it came from; a replay replaces them.
const (
	// HeaderReplayOf is "<dead-letter stream>:<sequence>" of the letter
	// the command was replayed from.
	HeaderReplayOf = "Perfex-Replay-Of"
	// HeaderReplayEdited lists the edited fields, comma-separated
	// ("data.email,data.title"); absent when the body went out as stored.
	HeaderReplayEdited = "Perfex-Replay-Edited"
	// HeaderOriginalSequence is the command stream sequence the command
	// had when it was first published; the worker ranks a replay there so
	// that it never overwrites what newer commands set (internal/clock
	// reads it). A replay of a replay keeps the first value.
	HeaderOriginalSequence = clock.OriginalSequenceHeader
)

// DefaultMaxReplays is how often a command may be replayed before Prepare
// refuses it unless forced.
const DefaultMaxReplays = 3

// ReplayMsgID is the Nats-Msg-Id a replay of l publishes under. It derives
// from the letter alone (its stream, sequence and storage time), so every
// attempt to replay the same letter carries the same id and the command
// stream stores it at most once within its duplicates window. The storage
// time keeps the id unique if the dead-letter stream is ever recreated and
// its sequences start again; the original command's id is never reused,
// so a replay inside the original's window is stored.
func ReplayMsgID(dlqStream string, l Letter) string {
	return "replay:" + dlqStream + ":" + strconv.FormatUint(l.Sequence, 10) + ":" +
		strconv.FormatInt(l.StoredAt.UnixNano(), 10)
}

// Errors a replay returns; each leaves the letter in place.
var (
	// ErrRefused marks a letter that was not sent: past the replay limit,
	// an edited body that fails validation, or no command subject.
	ErrRefused = errors.New("refused")
	// ErrDuplicate marks a publish the command stream reported as a
	// duplicate of a message other than this replay.
	ErrDuplicate = errors.New("duplicate")
)

// ReplayConfig limits replays.
type ReplayConfig struct {
	// MaxReplays is the replay count from which letters are refused; zero
	// means DefaultMaxReplays.
	MaxReplays int
	// Force sends letters past MaxReplays.
	Force bool
	// Timeout bounds one letter's publish, check and delete; zero means
	// 10s.
	Timeout time.Duration
}

// Replayer republishes dead letters to their command subjects.
type Replayer struct {
	js       jetstream.JetStream
	browser  *Browser
	commands jetstream.Stream
	names    broker.Names
	cfg      ReplayConfig
}

// NewReplayer returns a Replayer that sends to the command stream and
// removes letters through b.
func NewReplayer(ctx context.Context, js jetstream.JetStream, b *Browser, cfg ReplayConfig) (*Replayer, error) {
	if cfg.MaxReplays == 0 {
		cfg.MaxReplays = DefaultMaxReplays
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	names := b.Names()
	st, err := js.Stream(ctx, names.Commands)
	if err != nil {
		return nil, fmt.Errorf("looking up command stream %s: %w", names.Commands, err)
	}
	return &Replayer{js: js, browser: b, commands: st, names: names, cfg: cfg}, nil
}

// Replay is a prepared replay of one letter.
type Replay struct {
	Letter Letter
	// Msg is what Send publishes.
	Msg *nats.Msg
	// Edited are the paths that differ from the stored body.
	Edited []string
}

// Prepare builds the replay of l. The body is the stored one, or body when
// given (a line of an export, perhaps edited; a masked password in it is
// replaced by the stored one), with edits applied on top. A body that
// differs from the stored one must pass command.Decode like a new command.
func (r *Replayer) Prepare(l Letter, body []byte, edits []Edit) (*Replay, error) {
	if l.ReplayCount >= r.cfg.MaxReplays && !r.cfg.Force {
		return nil, fmt.Errorf("%w: replayed %d times already (the limit is %d; --force sends it anyway)",
			ErrRefused, l.ReplayCount, r.cfg.MaxReplays)
	}
	if _, err := Subject(r.names.Prefix, l.OriginalSubject); err != nil {
		return nil, fmt.Errorf("%w: original subject: %v", ErrRefused, err)
	}

	out, edited := l.Body, []string(nil)
	if body != nil {
		restored, err := restorePassword(body, l.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrRefused, err)
		}
		paths, ok := ChangedPaths(l.Body, restored)
		switch {
		case ok && len(paths) == 0:
			// The same command, perhaps reformatted: send the stored bytes.
		case ok:
			out, edited = compact(restored), paths
		case !bytes.Equal(bytes.TrimSpace(restored), bytes.TrimSpace(l.Body)):
			out, edited = restored, []string{"body"}
		}
	}
	if len(edits) > 0 {
		b, paths, err := ApplyEdits(out, edits)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrRefused, err)
		}
		out = b
		for _, p := range paths {
			if !slices.Contains(edited, p) {
				edited = append(edited, p)
			}
		}
		slices.Sort(edited)
	}

	subject := l.OriginalSubject
	if len(edited) > 0 {
		if slices.Contains(edited, "contact_id") {
			var c struct {
				ContactID int64 `json:"contact_id"`
			}
			if json.Unmarshal(out, &c) == nil && c.ContactID > 0 {
				subject = command.Subject(r.names.Prefix, c.ContactID)
			}
		}
		if _, err := command.Decode(subject, out); err != nil {
			return nil, fmt.Errorf("%w: the edited command is invalid: %v", ErrRefused, err)
		}
	}

	msg := nats.NewMsg(subject)
	msg.Data = out
	for k, vs := range l.Headers {
		if strings.EqualFold(k, HeaderReplayOf) || strings.EqualFold(k, HeaderReplayEdited) {
			continue
		}
		for _, v := range vs {
			msg.Header.Add(k, v)
		}
	}
	if msg.Header.Get(HeaderOriginalSequence) == "" && l.OriginalSequence > 0 {
		msg.Header.Set(HeaderOriginalSequence, strconv.FormatUint(l.OriginalSequence, 10))
	}
	msg.Header.Set(HeaderReplayCount, strconv.Itoa(l.ReplayCount+1))
	msg.Header.Set(HeaderReplayOf, r.names.DLQ+":"+strconv.FormatUint(l.Sequence, 10))
	if len(edited) > 0 {
		msg.Header.Set(HeaderReplayEdited, strings.Join(edited, ","))
	}
	msg.Header.Set(jetstream.MsgIDHeader, ReplayMsgID(r.names.DLQ, l))
	return &Replay{Letter: l, Msg: msg, Edited: edited}, nil
}

func compact(b []byte) []byte {
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return b
	}
	return out.Bytes()
}

// Result is what happened to a letter that Send did not fail.
type Result struct {
	// CommandSeq is the command's sequence in the command stream.
	CommandSeq uint64
	// AlreadySent is true when an earlier run had stored this replay (it
	// stopped between the server's confirmation and the letter's removal)
	// and this run only removed the letter.
	AlreadySent bool
	// Verified is true when AlreadySent was checked against the stored
	// message; false when the worker had consumed it already, and the
	// replay id alone (unique to the letter) vouches for it.
	Verified bool
	// LetterGone is true when the letter had been removed by someone else
	// (a concurrent replay or purge) before this run could.
	LetterGone bool
}

// Send publishes rp and then removes its letter. The letter is removed
// only after the command stream confirmed the message as new, or when the
// confirmation says this very replay was stored by an earlier run.
//
// Send finishes what it started even when ctx is cancelled (an operator's
// Ctrl-C): the publish and the removal run under the configured timeout,
// so an interrupt never falls between them.
func (r *Replayer) Send(ctx context.Context, rp *Replay) (Result, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Timeout)
	defer cancel()
	seq, id := rp.Letter.Sequence, rp.Msg.Header.Get(jetstream.MsgIDHeader)

	ack, err := r.js.PublishMsg(ctx, rp.Msg, jetstream.WithExpectStream(r.names.Commands))
	if err != nil {
		return Result{}, fmt.Errorf("publishing to %s: %w (the letter stays; re-running within %s sends it at most once)",
			rp.Msg.Subject, err, broker.DuplicatesWindow)
	}
	res := Result{CommandSeq: ack.Sequence}
	if ack.Duplicate {
		verified, err := r.checkDuplicate(ctx, ack.Sequence, id, rp.Msg.Data)
		if err != nil {
			return Result{}, err
		}
		res.AlreadySent, res.Verified = true, verified
	}

	if err := r.browser.Delete(ctx, seq); errors.Is(err, ErrNoLetter) {
		res.LetterGone = true
	} else if err != nil {
		return res, fmt.Errorf("sent as %s sequence %d, but removing the letter failed: %w (re-running within %s removes it without sending it again)",
			r.names.Commands, ack.Sequence, err, broker.DuplicatesWindow)
	}
	return res, nil
}

// checkDuplicate decides whether a duplicate acknowledgement means this
// replay was stored by an earlier run (nil, and whether the stored message
// could be compared) or something else holds the id (ErrDuplicate). The id names this letter alone, so a duplicate of a
// message the worker has already consumed can only be an earlier replay of
// it; a message still stored is compared with what this run would send.
func (r *Replayer) checkDuplicate(ctx context.Context, cmdSeq uint64, id string, body []byte) (bool, error) {
	raw, err := r.commands.GetMsg(ctx, cmdSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w of %s sequence %d, which could not be read to check it: %v (the letter stays)",
			ErrDuplicate, r.names.Commands, cmdSeq, err)
	}
	if got := raw.Header.Get(jetstream.MsgIDHeader); got != id {
		return false, fmt.Errorf("%w: %s sequence %d holds another message with this replay's id (%q, id reused); the letter stays",
			ErrDuplicate, r.names.Commands, cmdSeq, got)
	}
	if !bytes.Equal(raw.Data, body) {
		return false, fmt.Errorf("%w: already replayed within the %s duplicates window as %s sequence %d with a different body; these edits were not sent and the letter stays",
			ErrDuplicate, broker.DuplicatesWindow, r.names.Commands, cmdSeq)
	}
	return true, nil
}

// CommandsStream is the name of the stream replays go to.
func (r *Replayer) CommandsStream() string { return r.names.Commands }
