package consumer

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zapcore"
)

// silentIter is a pull iterator that never delivers, like one stalled
// after a consumer-leader change while heartbeats go on: Next blocks
// until Stop or Drain.
type silentIter struct {
	once    sync.Once
	closed  chan struct{}
	stopped atomic.Bool
}

func newSilentIter() *silentIter { return &silentIter{closed: make(chan struct{})} }

func (s *silentIter) Next(...jetstream.NextOpt) (jetstream.Msg, error) {
	<-s.closed
	return nil, jetstream.ErrMsgIteratorClosed
}

func (s *silentIter) Stop() {
	s.stopped.Store(true)
	s.once.Do(func() { close(s.closed) })
}

func (s *silentIter) Drain() { s.once.Do(func() { close(s.closed) }) }

func TestStalledPullIsRestarted(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.cfg.StallTimeout = 300 * time.Millisecond
	silent := newSilentIter()
	var opened atomic.Int32
	f.beforeRun = func(c *Consumer) {
		open := c.messages
		c.messages = func(cons jetstream.Consumer, opts ...jetstream.PullMessagesOpt) (jetstream.MessagesContext, error) {
			if opened.Add(1) == 1 {
				return silent, nil
			}
			return open(cons, opts...)
		}
	}
	quiet := 3 * f.cfg.StallTimeout

	f.start()

	// Asserting an absence, time must pass: with nothing pending, and
	// then with the durable paused by an operator, silence is expected.
	time.Sleep(quiet)
	if silent.stopped.Load() {
		t.Fatal("watchdog fired with nothing pending")
	}
	if _, err := f.js.PauseConsumer(t.Context(), f.names.Commands, f.names.Durable, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("pausing the durable: %v", err)
	}
	ids := []string{f.publish(1, "a"), f.publish(2, "b"), f.publish(3, "c")}
	time.Sleep(quiet)
	if silent.stopped.Load() {
		t.Fatal("watchdog fired while the durable was paused")
	}

	if _, err := f.js.ResumeConsumer(t.Context(), f.names.Commands, f.names.Durable); err != nil {
		t.Fatalf("resuming the durable: %v", err)
	}

	f.eventually("silent iterator stopped", silent.stopped.Load)
	f.eventually("all applied", func() bool { return f.rec.count(Applied) == len(ids) })
	if n := opened.Load(); n != 2 {
		t.Errorf("%d iterators opened, want 2", n)
	}
	warned := 0
	for _, e := range f.logs.All() {
		if e.Level == zapcore.WarnLevel {
			if s, _ := e.ContextMap()["error"].(string); strings.Contains(s, "pull stalled") {
				warned++
			}
		}
	}
	if warned != 1 {
		t.Errorf("%d warnings about the stall, want 1", warned)
	}
}
