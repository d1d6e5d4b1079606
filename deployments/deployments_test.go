// Package deployments_test checks the files under deployments/ without
// Docker or a cluster: every YAML and JSON file parses, the nats CLI
// definitions equal the worker's own, and the dashboard and alert rules
// name only metrics the worker exports.
package deployments_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"go.yaml.in/yaml/v3"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/metrics"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// files returns the paths under deployments/ ending in one of exts.
func files(t *testing.T, exts ...string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, ext := range exts {
			if !d.IsDir() && strings.HasSuffix(path, ext) {
				out = append(out, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no %v files under deployments/", exts)
	}
	return out
}

func TestEveryFileParses(t *testing.T) {
	t.Parallel()
	for _, path := range files(t, ".yaml", ".yml", ".json") {
		t.Run(strings.ReplaceAll(path, "/", "_"), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(path, ".json") {
				var v any
				if err := json.Unmarshal(b, &v); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				return
			}
			dec := yaml.NewDecoder(bytes.NewReader(b))
			for n := 0; ; n++ {
				var doc map[string]any
				err := dec.Decode(&doc)
				if errors.Is(err, io.EOF) {
					if n == 0 {
						t.Fatalf("%s holds no document", path)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s, document %d: %v", path, n+1, err)
				}
				if strings.HasPrefix(path, "kubernetes") && (doc["apiVersion"] == nil || doc["kind"] == nil) {
					t.Errorf("%s, document %d: no apiVersion or kind", path, n+1)
				}
			}
		})
	}
}

// TestNATSDefinitionsMatchTheWorker keeps deployments/nats in step with
// internal/broker: the worker refuses to start on a stream or consumer
// created differently.
func TestNATSDefinitionsMatchTheWorker(t *testing.T) {
	t.Parallel()
	s := broker.Settings{}
	for _, tc := range []struct {
		file string
		got  any
		want any
	}{
		{"nats/commands-stream.json", &jetstream.StreamConfig{}, broker.CommandStreamConfig(s)},
		{"nats/dlq-stream.json", &jetstream.StreamConfig{}, broker.DLQStreamConfig(s)},
		{"nats/consumer.json", &jetstream.ConsumerConfig{}, broker.ConsumerConfig(s)},
	} {
		b, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, tc.got); err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		var got any
		switch v := tc.got.(type) {
		case *jetstream.StreamConfig:
			got = *v
		case *jetstream.ConsumerConfig:
			got = *v
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s differs from internal/broker (-worker +file):\n%s", tc.file, diff)
		}
	}
}

// exported returns the name of every metric the worker exports, with each
// vector given a value so that it shows up.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New("test")
	m.Observe(consumer.Outcome{Kind: consumer.Retried, Reason: reason.Connection})
	m.SetRateLimit(crm.RateLimit{Known: true, Limit: 10, Remaining: 5})
	m.SetConsumerInfo(&jetstream.ConsumerInfo{})
	m.SetDLQInfo(&jetstream.StreamInfo{}, time.Now())
	applier := m.Applier(nopApplier{})
	_, _ = applier.Update(t.Context(), 1, command.ContactData{})
	rt := m.Transport(nopTransport{})
	_, _ = rt.RoundTrip(mustRequest(t))
	m.PollOnce(t.Context(), metrics.Sources{JS: failingJS{}}, time.Now())

	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		name := f.GetName()
		names[name] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = true
			}
		}
	}
	return names
}

var metricName = regexp.MustCompile(`\bperfex_worker_[a-z0-9_]+`)

func TestDashboardAndRulesNameExportedMetrics(t *testing.T) {
	t.Parallel()
	names := exported(t)
	for _, want := range []string{
		"perfex_worker_commands_total", "perfex_worker_apply_duration_seconds",
		"perfex_worker_perfex_requests_total", "perfex_worker_retries_total",
		"perfex_worker_circuit_state", "perfex_worker_perfex_rate_limit_remaining",
		"perfex_worker_in_flight", "perfex_worker_consumer_pending", "perfex_worker_consumer_ack_pending",
		"perfex_worker_dlq_messages", "perfex_worker_dlq_fill_ratio", "perfex_worker_build_info",
		"perfex_worker_broker_poll_errors_total",
	} {
		if !names[want] {
			t.Errorf("the worker does not export %s", want)
		}
	}

	for _, path := range []string{"grafana/perfex-worker.json", "prometheus/alerts.yaml"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		found := metricName.FindAllString(string(b), -1)
		if len(found) == 0 {
			t.Errorf("%s names no metric", path)
		}
		for _, name := range found {
			if !names[name] {
				t.Errorf("%s uses %s, which the worker does not export", path, name)
			}
		}
	}
}
