package consumer

import (
	"context"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// lossyMsg drops the plain Ack of a message's first delivery, as a worker
// killed before its ack left the socket would.
type lossyMsg struct {
	jetstream.Msg
}

func (m lossyMsg) Ack() error { return nil }

type lossyIter struct {
	jetstream.MessagesContext
	mu   sync.Mutex
	seen map[uint64]bool
}

func (it *lossyIter) Next(opts ...jetstream.NextOpt) (jetstream.Msg, error) {
	m, err := it.MessagesContext.Next(opts...)
	if err != nil {
		return m, err
	}
	meta, merr := m.Metadata()
	if merr != nil {
		return m, err
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if !it.seen[meta.Sequence.Stream] {
		it.seen[meta.Sequence.Stream] = true
		return lossyMsg{m}, nil
	}
	return m, nil
}

func loseFirstAcks(c *Consumer) {
	c.messages = func(cons jetstream.Consumer, opts ...jetstream.PullMessagesOpt) (jetstream.MessagesContext, error) {
		mc, err := cons.Messages(opts...)
		if err != nil {
			return nil, err
		}
		return &lossyIter{MessagesContext: mc, seen: map[uint64]bool{}}, nil
	}
}

// An applied command whose ack is lost is redelivered, judged done from
// the clock and acked without a second call to Perfex.
func TestLostAckOfAppliedCommand(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.beforeRun = loseFirstAcks
	f.start()
	f.publish(5, "a")

	f.eventually("the redelivery settled", func() bool { return f.rec.count(Applied) >= 2 })
	f.eventually("the stream empty", func() bool { return f.streamMsgs(f.names.Commands) == 0 })
	if n := f.applier.totalCalls(); n != 1 {
		t.Errorf("Perfex called %d times, want 1", n)
	}
}

// A dead-lettered command whose ack is lost is redelivered: the letter is
// stored once (dedupe), but Perfex is asked again, since nothing records
// a dead letter the way the clock records an applied command.
func TestLostAckOfDeadLetter(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.beforeRun = loseFirstAcks
	f.applier.script(func(context.Context, int64, string, int) error {
		return &crm.PermanentError{Reason: reason.ValidationFailed, Status: 422, Message: "bad"}
	}, nil)
	f.start()
	f.publish(6, "a")

	f.eventually("the redelivery settled", func() bool { return f.rec.count(DeadLettered) >= 2 })
	f.eventually("the stream empty", func() bool { return f.streamMsgs(f.names.Commands) == 0 })
	if n := len(f.letters()); n != 1 {
		t.Errorf("%d dead letters, want 1", n)
	}
	// Perfex is asked again (nothing records a dead letter the way the
	// clock records an applied command), but once per delivery only.
	if n := f.applier.totalCalls(); n > 2 {
		t.Errorf("Perfex called %d times for two deliveries", n)
	}
}
