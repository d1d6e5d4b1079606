package consumer

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/clock"
)

// publishData stores a command with the given data and extra headers, and
// returns its id and stream sequence.
func (f *fixture) publishData(contact int64, id string, data map[string]any, headers ...string) uint64 {
	f.t.Helper()
	body, err := json.Marshal(map[string]any{
		"id": id, "type": command.TypeContactUpdate, "contact_id": contact, "data": data,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	msg := nats.NewMsg(command.Subject(f.names.Prefix, contact))
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, id)
	for i := 0; i+1 < len(headers); i += 2 {
		msg.Header.Set(headers[i], headers[i+1])
	}
	ack, err := f.js.PublishMsg(f.t.Context(), msg)
	if err != nil {
		f.t.Fatal(err)
	}
	return ack.Sequence
}

func (f *fixture) clockOf(contact int64) clock.Record {
	f.t.Helper()
	s, err := clock.Open(f.t.Context(), f.js, f.names.Clock)
	if err != nil {
		f.t.Fatal(err)
	}
	rec, err := s.Get(f.t.Context(), contact)
	if err != nil {
		f.t.Fatal(err)
	}
	return rec
}

// A replay ranked at its original sequence leaves alone every field a
// newer command set: all of them (superseded) or some (applied, the rest
// skipped).
func TestReplayRankedAtOriginalSequence(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.start()

	old := f.publishData(1, "old", map[string]any{"firstname": "old", "lastname": "old"})
	f.publishData(1, "new", map[string]any{"firstname": "new"})
	f.eventually("both settled", func() bool { return len(f.rec.final()) == 2 })
	calls := f.applier.totalCalls()

	orig := strconv.FormatUint(old, 10)
	f.publishData(1, "replay-1", map[string]any{"firstname": "old"}, clock.OriginalSequenceHeader, orig)
	f.publishData(1, "replay-2", map[string]any{"firstname": "old", "title": "t"}, clock.OriginalSequenceHeader, orig)
	f.eventually("replays settled", func() bool { return len(f.rec.final()) == 4 })

	final := f.rec.final()
	if o := final["replay-1"]; o.Kind != Superseded || o.Rank != old || !cmp.Equal(o.Skipped, []string{"firstname"}) {
		t.Errorf("replay-1: %+v, want superseded at rank %d skipping firstname", o, old)
	}
	if o := final["replay-2"]; o.Kind != Applied || !cmp.Equal(o.Skipped, []string{"firstname"}) {
		t.Errorf("replay-2: %+v, want applied skipping firstname", o)
	}
	if n := f.applier.totalCalls() - calls; n != 1 {
		t.Errorf("%d updates for the replays, want 1 (replay-2's title)", n)
	}
	f.applier.mu.Lock()
	tags := f.applier.tags[1]
	f.applier.mu.Unlock()
	if last := tags[len(tags)-1]; last != "" {
		t.Errorf("replay-2 sent firstname %q; it was set by a newer command", last)
	}

	rec := f.clockOf(1)
	if rec.Fields["firstname"].Seq != old+1 || rec.Fields["lastname"].Seq != old || rec.Fields["title"].Seq != old {
		t.Errorf("clock = %+v", rec.Fields)
	}
}

// A command whose clock entry is its own (written before a crash lost the
// ack) is acked as applied without a request.
func TestRedeliveryAfterRecordIsNotSentAgain(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s, err := clock.Open(t.Context(), f.js, f.names.Clock)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Record(t.Context(), 3, nil, clock.Mark{Fields: []string{"firstname"}, Stamp: clock.Stamp{Seq: 1}}); err != nil {
		t.Fatal(err)
	}
	id := f.publish(3, "x") // stream sequence 1
	f.start()

	f.eventually("settled", func() bool { return f.rec.final()[id].Kind == Applied })
	if n := f.applier.totalCalls(); n != 0 {
		t.Errorf("%d updates for a command already recorded", n)
	}
}

// Commands waiting together for one contact go out as one update; each
// keeps its own outcome, and an invalid one among them is dead-lettered
// alone.
func TestCoalescing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.cfg.Concurrency = 8
	release, entered := make(chan struct{}), make(chan struct{})
	f.applier.script(func(_ context.Context, _ int64, _ string, call int) error {
		if call == 1 {
			close(entered)
			<-release // the others queue up behind the first
		}
		return nil
	}, nil)
	f.publishData(2, "c1", map[string]any{"firstname": "a"})
	c, _ := f.start()
	<-entered
	f.publishRaw(command.Subject(f.names.Prefix, 2),
		[]byte(`{"id":"bad","type":"contact.update","contact_id":2,"data":{"nope":1}}`), "bad")
	f.publishData(2, "c2", map[string]any{"firstname": "b", "title": "x"})
	f.publishData(2, "c3", map[string]any{"firstname": "c"})
	f.publishData(2, "c4", map[string]any{"lastname": "z"})
	f.eventually("all in hand", func() bool { return c.Status().InHand == 5 })
	close(release)

	f.eventually("all settled", func() bool { return len(f.rec.final()) == 5 })
	final := f.rec.final()
	if final["bad"].Kind != DeadLettered {
		t.Errorf("invalid command: %+v", final["bad"])
	}
	want := map[string]Outcome{
		"c1": {Kind: Applied},
		"c2": {Kind: Applied, Coalesced: 3, Skipped: []string{"firstname"}},
		"c3": {Kind: Applied, Coalesced: 3},
		"c4": {Kind: Applied, Coalesced: 3},
	}
	for id, w := range want {
		o := final[id]
		if o.Kind != w.Kind || o.Coalesced != w.Coalesced || !cmp.Equal(o.Skipped, w.Skipped, cmpopts.EquateEmpty()) {
			t.Errorf("%s: %+v, want %+v", id, o, w)
		}
	}
	if n := f.applier.totalCalls(); n != 2 {
		t.Errorf("%d updates, want 2 (c1 alone, then c2 to c4 together)", n)
	}
	if s := c.Status(); s.RequestsSaved != 4 || s.Coalesced != 3 {
		t.Errorf("status: %d requests saved, %d coalesced; want 4 and 3", s.RequestsSaved, s.Coalesced)
	}
	f.applier.mu.Lock()
	tags := f.applier.tags[2]
	f.applier.mu.Unlock()
	if !cmp.Equal(tags, []string{"a", "c"}) {
		t.Errorf("first names sent %v, want [a c]", tags)
	}
}
