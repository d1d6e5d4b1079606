package metrics

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/crm"
)

// DefaultPollInterval is how often Poll reads the broker and the worker's
// state when no interval is given.
const DefaultPollInterval = 5 * time.Second

// pollTimeout bounds one read of stream or consumer information.
const pollTimeout = 5 * time.Second

// Sources are what Poll reads. A nil function is skipped, so Poll can run
// before the consumer exists.
type Sources struct {
	JS    jetstream.JetStream
	Names broker.Names
	// Status returns the consumer's state; nil until there is one.
	Status func() (consumer.Status, bool)
	// RateLimit returns Perfex's last reported rate limit.
	RateLimit func() crm.RateLimit
}

// Poll refreshes the gauges every interval until ctx ends.
func (m *Metrics) Poll(ctx context.Context, src Sources, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		m.PollOnce(ctx, src, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PollOnce refreshes the gauges once, as of now.
func (m *Metrics) PollOnce(ctx context.Context, src Sources, now time.Time) {
	if src.Status != nil {
		if s, ok := src.Status(); ok {
			m.SetStatus(s)
		}
	}
	if src.RateLimit != nil {
		m.SetRateLimit(src.RateLimit())
	}
	if src.JS == nil {
		return
	}
	names := src.Names.WithDefaults()

	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	if info, err := consumerInfo(ctx, src.JS, names); err != nil {
		m.pollErrors.WithLabelValues("consumer").Inc()
	} else {
		m.SetConsumerInfo(info)
	}
	if info, err := streamInfo(ctx, src.JS, names.DLQ); err != nil {
		m.pollErrors.WithLabelValues("dlq_stream").Inc()
	} else {
		m.SetDLQInfo(info, now)
	}
}

func consumerInfo(ctx context.Context, js jetstream.JetStream, names broker.Names) (*jetstream.ConsumerInfo, error) {
	c, err := js.Consumer(ctx, names.Commands, names.Durable)
	if err != nil {
		return nil, err
	}
	return c.Info(ctx)
}

func streamInfo(ctx context.Context, js jetstream.JetStream, name string) (*jetstream.StreamInfo, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

// SetConsumerInfo records the durable's backlog. Every worker on the
// durable reports the same numbers; dashboards take the max.
func (m *Metrics) SetConsumerInfo(info *jetstream.ConsumerInfo) {
	m.pending.Set(float64(info.NumPending))
	m.ackPending.Set(float64(info.NumAckPending))
}

// SetDLQInfo records the dead-letter stream's contents and how close it
// is to its limits.
func (m *Metrics) SetDLQInfo(info *jetstream.StreamInfo, now time.Time) {
	st, cfg := info.State, info.Config
	var age time.Duration
	if st.Msgs > 0 && !st.FirstTime.IsZero() {
		age = max(now.Sub(st.FirstTime), 0)
	}
	m.deadLetters.Set(float64(st.Msgs))
	m.dlqBytes.Set(float64(st.Bytes))
	m.dlqOldest.Set(age.Seconds())
	m.dlqFill.Set(FillRatio(cfg, st.Msgs, st.Bytes, age))
}

// FillRatio is the largest of age/MaxAge, bytes/MaxBytes and msgs/MaxMsgs
// over the limits the stream has; 0 when it has none. At 1 the server
// starts dropping the oldest letters.
func FillRatio(cfg jetstream.StreamConfig, msgs, bytes uint64, oldest time.Duration) float64 {
	ratio := 0.0
	if cfg.MaxAge > 0 {
		ratio = max(ratio, oldest.Seconds()/cfg.MaxAge.Seconds())
	}
	if cfg.MaxBytes > 0 {
		ratio = max(ratio, float64(bytes)/float64(cfg.MaxBytes))
	}
	if cfg.MaxMsgs > 0 {
		ratio = max(ratio, float64(msgs)/float64(cfg.MaxMsgs))
	}
	return ratio
}
