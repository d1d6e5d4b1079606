// Package clock keeps, per contact and per field, which command last set
// the field in Perfex: its rank (the stream sequence of the command as
// first published) and its occurred_at. It is what lets any number of
// workers apply commands out of order, redelivered or replayed, and still
// leave every field as publish order would: a command skips every field a
// newer command already set.
//
// The record lives in a JetStream KV bucket, one key per contact, updated
// by compare-and-set. Recording merges field by field, keeping the higher
// rank, so two writers racing on one key cannot move a field backwards.
package clock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stamp says which command set a field.
type Stamp struct {
	// Seq is the command's rank: its stream sequence, or for a replayed
	// dead letter the sequence of the command as first published.
	Seq uint64 `json:"seq"`
	// At is the command's occurred_at, when it carried one. It is kept for
	// diagnosis only; it does not take part in ordering.
	At *time.Time `json:"at,omitempty"`
}

// Record is what the clock holds for one contact: the stamp of the
// command that last set each field, keyed by the field's wire name.
type Record struct {
	Fields map[string]Stamp `json:"fields"`

	// Where the record was read from: rev is the key's revision (0: no
	// key yet) and read says whether the record came from the store at
	// all, as opposed to a zero Record.
	rev  uint64
	read bool
}

// Verdict sorts the fields a command sets against a Record.
type Verdict struct {
	// Fresh fields were last set by an older command, or never: send them.
	Fresh []string
	// Stale fields were set by a newer command: leave them alone.
	Stale []string
	// Done fields were set by this very command (a redelivery after the
	// record was written): Perfex already holds them.
	Done []string
}

// Judge sorts fields by comparing each field's stamp with rank.
func (r Record) Judge(fields []string, rank uint64) Verdict {
	var v Verdict
	for _, f := range fields {
		s, ok := r.Fields[f]
		switch {
		case !ok || s.Seq < rank:
			v.Fresh = append(v.Fresh, f)
		case s.Seq > rank:
			v.Stale = append(v.Stale, f)
		default:
			v.Done = append(v.Done, f)
		}
	}
	return v
}

// Merge sets each field to stamp unless the record already holds a newer
// one, and reports whether anything changed.
func (r *Record) Merge(fields []string, stamp Stamp) bool {
	if r.Fields == nil {
		r.Fields = map[string]Stamp{}
	}
	changed := false
	for _, f := range fields {
		if s, ok := r.Fields[f]; ok && s.Seq >= stamp.Seq {
			continue
		}
		r.Fields[f] = stamp
		changed = true
	}
	return changed
}

// Store reads and records per-contact clocks in a KV bucket.
type Store struct {
	kv     jetstream.KeyValue
	nc     *nats.Conn
	bucket string
}

// Open returns a Store on the bucket (made by broker.ClockBucketConfig).
// It returns an error matching jetstream.ErrBucketNotFound when the
// bucket is missing.
func Open(ctx context.Context, js jetstream.JetStream, bucket string) (*Store, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("opening the clock bucket %q: %w", bucket, err)
	}
	return &Store{kv: kv, nc: js.Conn(), bucket: bucket}, nil
}

// Key is the KV key of a contact's record.
func Key(contactID int64) string {
	return "contact." + strconv.FormatInt(contactID, 10)
}

// Get returns the contact's record; an empty one if none was written.
func (s *Store) Get(ctx context.Context, contactID int64) (Record, error) {
	r, rev, err := s.get(ctx, contactID)
	r.rev, r.read = rev, err == nil
	return r, err
}

func (s *Store) get(ctx context.Context, contactID int64) (Record, uint64, error) {
	value, rev, err := s.readLeader(ctx, Key(contactID))
	if err != nil {
		return Record{}, 0, fmt.Errorf("reading the clock of contact %d: %w", contactID, err)
	}
	if rev == 0 || len(value) == 0 {
		return Record{Fields: map[string]Stamp{}}, rev, nil
	}
	var r Record
	if err := json.Unmarshal(value, &r); err != nil {
		return Record{}, 0, fmt.Errorf("reading the clock of contact %d: %w", contactID, err)
	}
	if r.Fields == nil {
		r.Fields = map[string]Stamp{}
	}
	return r, rev, nil
}

// maxConflicts bounds the read-merge-write rounds of one Record call.
const maxConflicts = 16

// Mark is one command's fields and stamp, for Record.
type Mark struct {
	Fields []string
	Stamp  Stamp
}

// Record stamps the fields of each mark, keeping any newer stamp already
// there, and writes the result by compare-and-set.
//
// seen is the contact's record as this process last read or wrote it, or
// nil. The first write is tried against seen's revision, which saves a
// read when nothing changed since (the usual case for a process holding
// the contact's lease). On a conflict (another writer got in between) it
// reads, merges and writes again. On success *seen becomes what was
// written, so a caller can record again without reading.
func (s *Store) Record(ctx context.Context, contactID int64, seen *Record, marks ...Mark) error {
	key := Key(contactID)
	var base Record
	if seen != nil {
		base = *seen
	}
	for range maxConflicts {
		if !base.read {
			var err error
			if base, err = s.Get(ctx, contactID); err != nil {
				return err
			}
		}
		r := Record{Fields: maps.Clone(base.Fields), rev: base.rev, read: true}
		changed := false
		for _, m := range marks {
			changed = r.Merge(m.Fields, m.Stamp) || changed
		}
		if !changed {
			if seen != nil {
				*seen = base
			}
			return nil
		}
		body, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encoding the clock of contact %d: %w", contactID, err)
		}
		if r.rev == 0 {
			r.rev, err = s.kv.Create(ctx, key, body)
		} else {
			r.rev, err = s.kv.Update(ctx, key, body, r.rev)
		}
		switch {
		case err == nil:
			if seen != nil {
				*seen = r
			}
			return nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			base = Record{}
		default:
			return fmt.Errorf("recording the clock of contact %d: %w", contactID, err)
		}
	}
	return fmt.Errorf("recording the clock of contact %d: %d conflicting writers in a row", contactID, maxConflicts)
}
