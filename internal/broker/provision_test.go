package broker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
)

func TestProvisionFresh(t *testing.T) {
	t.Parallel()
	_, js := brokertest.Connect(t, brokertest.StartServer(t))
	ctx := t.Context()

	if err := broker.Provision(ctx, js, broker.Settings{}); err != nil {
		t.Fatalf("Provision: %v", err)
	}

	cmd, err := js.Stream(ctx, "PERFEX_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	cfg := cmd.CachedInfo().Config
	if diff := cmp.Diff([]string{"perfex.cmd.>"}, cfg.Subjects); diff != "" {
		t.Errorf("command subjects (-want +got):\n%s", diff)
	}
	if cfg.Retention != jetstream.WorkQueuePolicy || cfg.Discard != jetstream.DiscardNew ||
		cfg.Duplicates != broker.DuplicatesWindow || !cfg.AllowDirect || cfg.Storage != jetstream.FileStorage {
		t.Errorf("command stream config = %+v", cfg)
	}

	dlqStream, err := js.Stream(ctx, "PERFEX_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	dcfg := dlqStream.CachedInfo().Config
	if dcfg.Retention != jetstream.LimitsPolicy || dcfg.MaxAge != broker.DefaultDLQMaxAge ||
		dcfg.DenyDelete || !dcfg.AllowDirect || dcfg.Subjects[0] != "perfex.dlq.>" {
		t.Errorf("DLQ stream config = %+v", dcfg)
	}

	cons, err := js.Consumer(ctx, "PERFEX_COMMANDS", "perfex-worker")
	if err != nil {
		t.Fatal(err)
	}
	ccfg := cons.CachedInfo().Config
	if ccfg.MaxDeliver != -1 || ccfg.AckWait != broker.DefaultAckWait || ccfg.MaxAckPending != broker.DefaultMaxAckPending ||
		ccfg.AckPolicy != jetstream.AckExplicitPolicy || ccfg.FilterSubject != "perfex.cmd.>" || ccfg.InactiveThreshold != 0 {
		t.Errorf("consumer config = %+v", ccfg)
	}
}

func TestProvisionTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	_, js := brokertest.Connect(t, brokertest.StartServer(t))
	ctx := t.Context()
	settings := broker.Settings{Names: broker.Names{Prefix: "acme.crm"}, AckWait: 10 * time.Second}

	if err := broker.Provision(ctx, js, settings); err != nil {
		t.Fatalf("first Provision: %v", err)
	}
	before, err := js.Consumer(ctx, "PERFEX_COMMANDS", "perfex-worker")
	if err != nil {
		t.Fatal(err)
	}
	if err := broker.Provision(ctx, js, settings); err != nil {
		t.Fatalf("second Provision: %v", err)
	}
	after, err := js.Consumer(ctx, "PERFEX_COMMANDS", "perfex-worker")
	if err != nil {
		t.Fatal(err)
	}
	if !before.CachedInfo().Created.Equal(after.CachedInfo().Created) {
		t.Error("the consumer was recreated")
	}
}

func TestProvisionReportsMismatch(t *testing.T) {
	t.Parallel()
	_, js := brokertest.Connect(t, brokertest.StartServer(t))
	ctx := t.Context()

	// Someone created the command stream by hand with other choices.
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:      "PERFEX_COMMANDS",
		Subjects:  []string{"perfex.cmd.>"},
		Retention: jetstream.LimitsPolicy,
		Storage:   jetstream.FileStorage,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = js.CreateConsumer(ctx, "PERFEX_COMMANDS", jetstream.ConsumerConfig{
		Durable:       "perfex-worker",
		AckPolicy:     jetstream.AckExplicitPolicy,
		FilterSubject: "perfex.cmd.>",
		MaxDeliver:    5,
		AckWait:       30 * time.Second,
		MaxAckPending: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}

	err = broker.Provision(ctx, js, broker.Settings{})
	if err == nil {
		t.Fatal("Provision accepted a mismatching stream and consumer")
	}
	msg := err.Error()
	for _, want := range []string{
		`stream "PERFEX_COMMANDS"`, "Retention is Limits, want WorkQueue", "Discard is DiscardOld, want DiscardNew",
		"Duplicates is 2m0s, want 10m0s", "AllowDirect is false, want true",
		`consumer "PERFEX_COMMANDS/perfex-worker"`, "MaxDeliver is 5, want -1",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}

	var mismatch *broker.ConfigMismatchError
	if !errors.As(err, &mismatch) || mismatch.Kind != "stream" {
		t.Fatalf("error %T is not a stream *ConfigMismatchError first", err)
	}
	if diff := cmp.Diff(broker.FieldDiff{Field: "Retention", Existing: "Limits", Wanted: "WorkQueue"}, mismatch.Diffs[0]); diff != "" {
		t.Errorf("first diff (-want +got):\n%s", diff)
	}

	// Nothing was changed behind the operator's back.
	stream, err := js.Stream(ctx, "PERFEX_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	if stream.CachedInfo().Config.Retention != jetstream.LimitsPolicy {
		t.Error("the stream was updated")
	}
	// The DLQ stream, which did not exist, was created.
	if _, err := js.Stream(ctx, "PERFEX_DLQ"); err != nil {
		t.Errorf("DLQ stream: %v", err)
	}
}

func TestProvisionCreatesMissingConsumer(t *testing.T) {
	t.Parallel()
	_, js := brokertest.Connect(t, brokertest.StartServer(t))
	ctx := t.Context()
	settings := broker.Settings{MaxAckPending: 20}

	if err := broker.Provision(ctx, js, settings); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteConsumer(ctx, "PERFEX_COMMANDS", "perfex-worker"); err != nil {
		t.Fatal(err)
	}

	if err := broker.Provision(ctx, js, settings); err != nil {
		t.Fatalf("Provision with streams only: %v", err)
	}
	cons, err := js.Consumer(ctx, "PERFEX_COMMANDS", "perfex-worker")
	if err != nil {
		t.Fatalf("consumer not recreated: %v", err)
	}
	if got := cons.CachedInfo().Config.MaxAckPending; got != 20 {
		t.Errorf("MaxAckPending = %d, want 20", got)
	}
}

func TestRestartKeepsStore(t *testing.T) {
	t.Parallel()
	s := brokertest.StartServer(t)
	nc, js := brokertest.Connect(t, s)
	if err := broker.Provision(t.Context(), js, broker.Settings{}); err != nil {
		t.Fatal(err)
	}

	brokertest.Restart(t, s)

	deadline := time.Now().Add(5 * time.Second)
	for !nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := js.Consumer(t.Context(), "PERFEX_COMMANDS", "perfex-worker"); err != nil {
		t.Errorf("consumer after restart: %v", err)
	}
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    broker.Settings
		want string
	}{
		{"defaults", broker.Settings{}, ""},
		{"replicas", broker.Settings{Replicas: 7}, "Replicas: 7"},
		{"ack_wait", broker.Settings{AckWait: time.Millisecond}, "AckWait: 1ms is below 1s"},
		{"dlq_age", broker.Settings{DLQMaxAge: time.Minute}, "DLQMaxAge: 1m0s"},
		{"prefix", broker.Settings{Names: broker.Names{Prefix: "a..b"}}, "Names.Prefix"},
		{"stream_name", broker.Settings{Names: broker.Names{DLQ: "A.B"}}, "Names.DLQ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
