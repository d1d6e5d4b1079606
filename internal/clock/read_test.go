package clock

import (
	"testing"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
)

// On a bucket of one replica the clock is read with a direct get; both
// ways of reading must give the same answer for a written, a missing and
// a deleted key.
func TestDirectReadMatchesLeaderRead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, js := brokertest.Connect(t, brokertest.StartServer(t))
	if err := broker.Provision(ctx, js, broker.Settings{}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, js, broker.DefaultClockBucket)
	if err != nil {
		t.Fatal(err)
	}
	if !s.direct {
		t.Fatal("a one-replica clock bucket is not read directly")
	}
	if err := s.Record(ctx, 1, nil, Mark{Fields: []string{"title"}, Stamp: Stamp{Seq: 4}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, 2, nil, Mark{Fields: []string{"title"}, Stamp: Stamp{Seq: 5}}); err != nil {
		t.Fatal(err)
	}
	if err := s.kv.Delete(ctx, Key(2)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{1, 2, 3} {
		lv, lrev, lerr := s.readLeader(ctx, Key(id))
		dv, drev, derr := s.readDirect(ctx, Key(id))
		if lerr != nil || derr != nil {
			t.Fatalf("contact %d: leader read error %v, direct read error %v", id, lerr, derr)
		}
		if string(lv) != string(dv) || (lrev != drev && len(lv) > 0) {
			t.Errorf("contact %d: leader read %q at %d, direct read %q at %d", id, lv, lrev, dv, drev)
		}
	}
}
