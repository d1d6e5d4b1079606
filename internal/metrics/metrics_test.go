package metrics

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

func TestFillRatio(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for _, tc := range []struct {
		name   string
		cfg    jetstream.StreamConfig
		msgs   uint64
		bytes  uint64
		oldest time.Duration
		want   float64
	}{
		{"no_limits", jetstream.StreamConfig{}, 10, 100, day, 0},
		{"age", jetstream.StreamConfig{MaxAge: 30 * day}, 10, 100, 24 * day, 0.8},
		{"bytes_wins", jetstream.StreamConfig{MaxAge: 30 * day, MaxBytes: 1000}, 10, 900, day, 0.9},
		{"msgs", jetstream.StreamConfig{MaxMsgs: 20, MaxBytes: -1}, 10, 0, 0, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := FillRatio(tc.cfg, tc.msgs, tc.bytes, tc.oldest); got < tc.want-1e-9 || got > tc.want+1e-9 {
				t.Errorf("FillRatio = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLabelsStayBounded(t *testing.T) {
	t.Parallel()
	m := New("test")
	m.Observe(consumer.Outcome{Kind: "weird", Reason: "contact 123 said no", ContactID: 123, CommandID: "01J"})
	m.Observe(consumer.Outcome{Kind: consumer.Retried, Reason: reason.RateLimited})
	if got := testutil.ToFloat64(m.commands.WithLabelValues("other", "other")); got != 1 {
		t.Errorf("unknown kind and reason counted %v times under other, want 1", got)
	}
	if got := testutil.ToFloat64(m.retries.WithLabelValues("rate_limited")); got != 1 {
		t.Errorf("retries{rate_limited} = %v, want 1", got)
	}
	if codeLabel(1234) != "other" || methodLabel("BREW") != "other" || codeLabel(503) != "503" {
		t.Error("status or method labels are not bounded")
	}
}

func TestCircuitState(t *testing.T) {
	t.Parallel()
	m := New("test")
	for _, tc := range []struct {
		status consumer.Status
		want   string
	}{
		{consumer.Status{Bound: true}, StateClosed},
		{consumer.Status{Bound: true, Outage: true}, StateOutage},
		{consumer.Status{Bound: true, Held: true, Outage: true}, StateHeld},
	} {
		m.SetStatus(tc.status)
		for _, s := range []string{StateClosed, StateOutage, StateHeld} {
			want := 0.0
			if s == tc.want {
				want = 1
			}
			if got := testutil.ToFloat64(m.circuit.WithLabelValues(s)); got != want {
				t.Errorf("%+v: circuit_state{state=%q} = %v, want %v", tc.status, s, got, want)
			}
		}
	}
}
