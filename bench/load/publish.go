package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// body is command i of a run: a realistic partial update that always
// changes the contact (the title is unique) and carries permissions, so
// that the worker reads no permissions table (see BENCHMARKS.md).
func body(run string, i, contact int) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"id":"bench-`...)
	b = append(b, run...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","type":"contact.update","contact_id":`...)
	b = strconv.AppendInt(b, int64(contact), 10)
	b = append(b, `,"occurred_at":"2026-12-03T10:00:00Z","data":{"title":"b`...)
	b = append(b, run...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","phonenumber":"+55 11 90000-`...)
	b = strconv.AppendInt(b, int64(i%10000), 10)
	b = append(b, `","active":true,"permissions":[1,2,5]}}`...)
	return b
}

// load says which commands a run publishes.
type load struct {
	run      string
	n        int
	contacts int // spread over this many contacts, round robin
}

func (l load) msg(prefix string, i int) *nats.Msg {
	contact := firstBenchContact + i%l.contacts
	m := nats.NewMsg(prefix + ".cmd.contact.update." + strconv.Itoa(contact))
	m.Data = body(l.run, i, contact)
	m.Header.Set(jetstream.MsgIDHeader, "bench-"+l.run+"-"+strconv.Itoa(i))
	return m
}

// publishBacklog stores every command of l, at most window unconfirmed at
// a time, and returns when the stream confirmed them all, with when each
// was handed to the client (unix nanos, by index).
func (s *stack) publishBacklog(ctx context.Context, l load, window int, progress func(int)) ([]int64, error) {
	sent := make([]int64, l.n)
	for start := 0; start < l.n; start += window {
		end := min(start+window, l.n)
		futures := make([]jetstream.PubAckFuture, 0, end-start)
		for i := start; i < end; i++ {
			m := l.msg(s.names.Prefix, i)
			sent[i] = time.Now().UnixNano()
			f, err := s.js.PublishMsgAsync(m)
			if err != nil {
				return nil, fmt.Errorf("publishing command %d: %w", i, err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return nil, fmt.Errorf("publishing: %w", err)
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if progress != nil {
			progress(end)
		}
	}
	return sent, nil
}

// publishPaced publishes l at rate commands per second and returns when
// each command was handed to the client (unix nanos, by index).
func (s *stack) publishPaced(ctx context.Context, l load, rate float64) ([]int64, error) {
	sent := make([]int64, l.n)
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	i := 0
	for i < l.n {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		due := min(int(time.Since(start).Seconds()*rate), l.n)
		for ; i < due; i++ {
			m := l.msg(s.names.Prefix, i)
			sent[i] = time.Now().UnixNano()
			if _, err := s.js.PublishMsgAsync(m); err != nil {
				return nil, fmt.Errorf("publishing command %d: %w", i, err)
			}
		}
	}
	select {
	case <-s.js.PublishAsyncComplete():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return sent, nil
}
