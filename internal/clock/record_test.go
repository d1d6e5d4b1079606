package clock

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
)

func openInternal(t *testing.T) (*Store, *nats.Conn) {
	t.Helper()
	nc, js := brokertest.Connect(t, brokertest.StartServer(t))
	if err := broker.Provision(t.Context(), js, broker.Settings{}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), js, broker.DefaultClockBucket)
	if err != nil {
		t.Fatal(err)
	}
	return s, nc
}

// Recording over a record just read or written makes no read of its own;
// recording without one reads first.
func TestRecordOverSeenSkipsTheRead(t *testing.T) {
	t.Parallel()
	s, nc := openInternal(t)
	ctx := t.Context()
	// A synchronous subscription queues what it receives in the read loop,
	// so once a Flush returns every request sent before it is counted.
	sub, err := nc.SubscribeSync("$JS.API.STREAM.MSG.GET.>")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	countReads := func(do func()) int {
		t.Helper()
		before, _, _ := sub.Pending()
		do()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		after, _, _ := sub.Pending()
		return after - before
	}

	var seen Record
	if n := countReads(func() {
		var err error
		if seen, err = s.Get(ctx, 3); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Fatalf("Get made %d reads, want 1", n)
	}
	for i, fields := range [][]string{{"title"}, {"email"}} {
		if n := countReads(func() {
			if err := s.Record(ctx, 3, &seen, Mark{Fields: fields, Stamp: Stamp{Seq: uint64(i + 1)}}); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Record %d over seen made %d reads, want 0", i, n)
		}
	}
	if n := countReads(func() {
		if err := s.Record(ctx, 3, nil, Mark{Fields: []string{"active"}, Stamp: Stamp{Seq: 3}}); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Errorf("Record without seen made %d reads, want 1", n)
	}
}

// Over a deleted or purged key the record reads empty, and writing over
// it with seen lands and leaves seen at the stored revision.
func TestRecordOverDeletedKey(t *testing.T) {
	t.Parallel()
	for _, op := range []string{"delete", "purge"} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			s, _ := openInternal(t)
			ctx := t.Context()
			if err := s.Record(ctx, 5, nil, Mark{Fields: []string{"title"}, Stamp: Stamp{Seq: 2}}); err != nil {
				t.Fatal(err)
			}
			var err error
			if op == "delete" {
				err = s.kv.Delete(ctx, Key(5))
			} else {
				err = s.kv.Purge(ctx, Key(5))
			}
			if err != nil {
				t.Fatal(err)
			}
			seen, err := s.Get(ctx, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(seen.Fields) != 0 {
				t.Fatalf("%sd key read as %+v", op, seen.Fields)
			}
			if err := s.Record(ctx, 5, &seen, Mark{Fields: []string{"email"}, Stamp: Stamp{Seq: 7}}); err != nil {
				t.Fatalf("Record over a %s marker: %v", op, err)
			}
			got, err := s.Get(ctx, 5)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]Stamp{"email": {Seq: 7}}, got.Fields); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			if got.rev != seen.rev {
				t.Errorf("seen at revision %d, the store at %d", seen.rev, got.rev)
			}
		})
	}
}
