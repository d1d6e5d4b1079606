package clock_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
	"github.com/perfexworker/perfex-worker/internal/clock"
)

func TestJudge(t *testing.T) {
	t.Parallel()
	rec := clock.Record{Fields: map[string]clock.Stamp{
		"title": {Seq: 10}, "email": {Seq: 5}, "active": {Seq: 7},
	}}
	got := rec.Judge([]string{"title", "email", "active", "firstname"}, 7)
	want := clock.Verdict{Fresh: []string{"email", "firstname"}, Stale: []string{"title"}, Done: []string{"active"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Judge (-want +got):\n%s", diff)
	}
}

func TestMergeNeverMovesBack(t *testing.T) {
	t.Parallel()
	var rec clock.Record
	if !rec.Merge([]string{"title"}, clock.Stamp{Seq: 9}) {
		t.Error("first merge changed nothing")
	}
	if rec.Merge([]string{"title"}, clock.Stamp{Seq: 3}) {
		t.Error("an older stamp replaced a newer one")
	}
	if rec.Fields["title"].Seq != 9 {
		t.Errorf("title stamped %d, want 9", rec.Fields["title"].Seq)
	}
}

func TestRank(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		header string
		rank   uint64
		ok     bool
	}{
		{"no_header", "", 50, true},
		{"earlier", "12", 12, true},
		{"same", "50", 50, false},
		{"later", "99", 50, false},
		{"zero", "0", 50, false},
		{"garbage", "x1", 50, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := nats.Header{}
			if tt.header != "" {
				h.Set(clock.OriginalSequenceHeader, tt.header)
			}
			rank, ok := clock.Rank(50, h)
			if rank != tt.rank || ok != tt.ok {
				t.Errorf("Rank = %d, %v; want %d, %v", rank, ok, tt.rank, tt.ok)
			}
		})
	}
}

func open(t *testing.T) *clock.Store {
	t.Helper()
	_, js := brokertest.Connect(t, brokertest.StartServer(t))
	if err := broker.Provision(t.Context(), js, broker.Settings{}); err != nil {
		t.Fatal(err)
	}
	s, err := clock.Open(t.Context(), js, broker.DefaultClockBucket)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreRecordsAndKeepsNewest(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()

	rec, err := s.Get(ctx, 7)
	if err != nil || len(rec.Fields) != 0 {
		t.Fatalf("Get of an unknown contact = %+v, %v", rec, err)
	}
	if err := s.Record(ctx, 7, nil, clock.Mark{Fields: []string{"title", "email"}, Stamp: clock.Stamp{Seq: 4}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, 7, nil,
		clock.Mark{Fields: []string{"title"}, Stamp: clock.Stamp{Seq: 2}},
		clock.Mark{Fields: []string{"active"}, Stamp: clock.Stamp{Seq: 6}},
	); err != nil {
		t.Fatal(err)
	}
	rec, err = s.Get(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]clock.Stamp{"title": {Seq: 4}, "email": {Seq: 4}, "active": {Seq: 6}}
	if diff := cmp.Diff(want, rec.Fields); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

// Concurrent writers to one key all land: compare-and-set conflicts are
// re-read and merged, never lost.
func TestStoreConcurrentWritersMerge(t *testing.T) {
	t.Parallel()
	s := open(t)
	fields := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	var wg sync.WaitGroup
	errs := make(chan error, len(fields))
	for i, f := range fields {
		wg.Go(func() {
			errs <- s.Record(context.Background(), 1, nil, clock.Mark{Fields: []string{f}, Stamp: clock.Stamp{Seq: uint64(i + 1)}})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rec, err := s.Get(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range fields {
		if rec.Fields[f].Seq != uint64(i+1) {
			t.Errorf("field %s stamped %d, want %d", f, rec.Fields[f].Seq, i+1)
		}
	}
}

// Recording over a record read earlier writes against its revision; when
// another writer got in between, the write is refused, the record read
// again and merged, so nothing the other writer stamped is lost.
func TestStoreRecordOverSeen(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()

	seen, err := s.Get(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, 9, &seen, clock.Mark{Fields: []string{"title"}, Stamp: clock.Stamp{Seq: 3}}); err != nil {
		t.Fatal(err)
	}
	if seen.Fields["title"].Seq != 3 {
		t.Fatalf("seen after Record = %+v, want title at 3", seen.Fields)
	}
	// Another process stamps a field after seen was written.
	if err := s.Record(ctx, 9, nil, clock.Mark{Fields: []string{"email"}, Stamp: clock.Stamp{Seq: 8}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, 9, &seen, clock.Mark{Fields: []string{"active", "email"}, Stamp: clock.Stamp{Seq: 5}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]clock.Stamp{"title": {Seq: 3}, "email": {Seq: 8}, "active": {Seq: 5}}
	got, err := s.Get(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.Fields); diff != "" {
		t.Errorf("stored record (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, seen.Fields); diff != "" {
		t.Errorf("seen after the conflict (-want +got):\n%s", diff)
	}
}

// A stale seen (another writer set a newer stamp on the same field since)
// never moves the field back, and seen is refreshed to the stored record.
func TestStaleSeenNeverMovesBack(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	if err := s.Record(ctx, 6, nil, clock.Mark{Fields: []string{"title"}, Stamp: clock.Stamp{Seq: 3}}); err != nil {
		t.Fatal(err)
	}
	seen, err := s.Get(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, 6, nil, clock.Mark{Fields: []string{"title"}, Stamp: clock.Stamp{Seq: 9}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, 6, &seen, clock.Mark{Fields: []string{"title"}, Stamp: clock.Stamp{Seq: 5}}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, 6)
	if got.Fields["title"].Seq != 9 || seen.Fields["title"].Seq != 9 {
		t.Errorf("store title at %d, seen at %d; want 9", got.Fields["title"].Seq, seen.Fields["title"].Seq)
	}
	// And a failed write must not leave seen claiming what was not stored.
	seen2 := seen
	if err := s.Record(ctx, 6, &seen2, clock.Mark{Fields: []string{"email"}, Stamp: clock.Stamp{Seq: 10}}); err != nil {
		t.Fatal(err)
	}
	if seen.Fields["email"].Seq != 0 {
		t.Errorf("Record wrote through to a copy's shared map: %+v", seen.Fields)
	}
}
