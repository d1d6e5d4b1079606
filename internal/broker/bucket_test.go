package broker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
)

func TestProvisionBuckets(t *testing.T) {
	t.Parallel()
	_, js := brokertest.Connect(t, brokertest.StartServer(t))
	ctx := t.Context()
	if err := broker.Provision(ctx, js, broker.Settings{}); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if err := broker.Provision(ctx, js, broker.Settings{}); err != nil {
		t.Fatalf("second Provision: %v", err)
	}

	lease, err := js.Stream(ctx, "KV_"+broker.DefaultLeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := lease.CachedInfo().Config; !cfg.AllowMsgTTL || cfg.SubjectDeleteMarkerTTL != broker.LeaseMarkerTTL {
		t.Errorf("lease bucket without per-key TTLs: %+v", cfg)
	}
	if _, err := js.KeyValue(ctx, broker.DefaultClockBucket); err != nil {
		t.Errorf("clock bucket: %v", err)
	}
}

func TestProvisionReportsBucketMismatch(t *testing.T) {
	t.Parallel()
	_, js := brokertest.Connect(t, brokertest.StartServer(t))
	ctx := t.Context()
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: broker.DefaultClockBucket, History: 5, TTL: time.Hour,
	}); err != nil {
		t.Fatal(err)
	}

	err := broker.Provision(ctx, js, broker.Settings{})
	var mismatch *broker.ConfigMismatchError
	if !errors.As(err, &mismatch) || mismatch.Kind != "KV bucket" || len(mismatch.Diffs) != 2 {
		t.Fatalf("Provision = %v, want a KV bucket mismatch on History and TTL", err)
	}
	kv, err := js.KeyValue(ctx, broker.DefaultClockBucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil || st.History() != 5 {
		t.Errorf("the existing bucket was changed: %v, %v", st, err)
	}
}
