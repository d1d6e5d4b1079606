package consumer

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfexworker/perfex-worker/internal/broker"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"defaults", Config{}, ""},
		{"concurrency", Config{Concurrency: -1}, "Concurrency: -1"},
		{"max_deliver", Config{MaxDeliver: -2}, "MaxDeliver: -2 deliveries"},
		{"ack_wait", Config{AckWait: time.Millisecond}, "AckWait: 1ms is below 300ms"},
		{"retry_max", Config{RetryInitial: time.Second, RetryMax: time.Millisecond}, "RetryMax: 1ms is below RetryInitial"},
		{"multiplier", Config{RetryMultiplier: 0.5}, "RetryMultiplier: 0.5"},
		{"stall_timeout", Config{StallTimeout: time.Millisecond}, "StallTimeout: 1ms is below 100ms"},
		{"names", Config{Names: broker.Names{Prefix: "a.*"}}, "Names.Prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.withDefaults()
	if c.Concurrency != DefaultConcurrency || c.MaxDeliver != DefaultMaxDeliver || c.LocalRetries != DefaultLocalRetries ||
		c.Names.Durable != broker.DefaultDurable || c.WorkerID == "" || c.StallTimeout != DefaultStallTimeout {
		t.Errorf("defaults = %+v", c)
	}
	if got := (Config{LocalRetries: -1}).withDefaults().LocalRetries; got != 0 {
		t.Errorf("LocalRetries -1 became %d, want 0", got)
	}
}

// A dead process's lease must end well before AckWait, or the messages
// buffered behind commands waiting for it would be redelivered.
func TestConfigLeaseTTLFollowsAckWait(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{}, DefaultLeaseTTL},
		{Config{AckWait: 5 * time.Second}, 2500 * time.Millisecond},
		{Config{AckWait: 500 * time.Millisecond}, time.Second},
		{Config{AckWait: 5 * time.Second, LeaseTTL: 3 * time.Second}, 3 * time.Second},
	} {
		if got := tt.cfg.withDefaults().LeaseTTL; got != tt.want {
			t.Errorf("AckWait %s, LeaseTTL %s: default LeaseTTL %s, want %s", tt.cfg.AckWait, tt.cfg.LeaseTTL, got, tt.want)
		}
	}
}

func TestOutcomeFinal(t *testing.T) {
	t.Parallel()
	var final []string
	for _, k := range []string{Applied, Superseded, DeadLettered, Retried, Held} {
		if (Outcome{Kind: k}).Final() {
			final = append(final, k)
		}
	}
	if !slices.Equal(final, []string{Applied, Superseded, DeadLettered}) {
		t.Errorf("final kinds = %v", final)
	}
}
