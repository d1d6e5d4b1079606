package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsAndHealth runs the worker with its metrics server, applies
// one command and dead-letters another, and reads /metrics and /readyz.
func TestMetricsAndHealth(t *testing.T) {
	t.Parallel()
	const token = "telemetry-token-5b7e1c"
	srv := brokertest.StartServer(t)
	nc, js := brokertest.Connect(t, srv)
	_ = nc
	sim := perfexsim.New(perfexsim.Options{Token: token, Seed: true, PasswordCost: 4})
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- runWorker(ctx, zap.NewNop(), workerSetup{
			nats:      natsFlags{NATSURL: srv.ClientURL(), Prefix: "perfex"},
			perfex:    perfexFlags{PerfexURL: simURL, PerfexTimeout: 5 * time.Second, PermissionsSource: "customtable"},
			worker:    devWorkerFlags(),
			telemetry: telemetryFlags{MetricsAddr: addr, StatsInterval: 100 * time.Millisecond},
			token:     token,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runWorker: %v", err)
		}
	})
	base := "http://" + addr

	waitUntil(t, "/readyz answers 200", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}

	pub := command.NewPublisher(js, "perfex")
	good := command.NewContactUpdate(1, command.ContactData{Title: command.String("Director"), Password: command.String("pw-in-metrics-1")})
	if _, err := pub.Publish(ctx, good); err != nil {
		t.Fatal(err)
	}
	missing := command.NewContactUpdate(999999, command.ContactData{Title: command.String("Nobody")})
	if _, err := pub.Publish(ctx, missing); err != nil {
		t.Fatal(err)
	}

	var body string
	waitUntil(t, "both outcomes and the dead letter are counted", func() bool {
		_, body = get(t, base+"/metrics")
		return strings.Contains(body, `perfex_worker_commands_total{outcome="applied",reason="none"} 1`) &&
			strings.Contains(body, `perfex_worker_commands_total{outcome="dead_lettered",reason="not_found"} 1`) &&
			strings.Contains(body, "perfex_worker_dlq_messages 1")
	})
	for _, want := range []string{
		`perfex_worker_perfex_requests_total{code="200",method="GET"}`,
		`perfex_worker_apply_duration_seconds_count{result="applied"} 1`,
		`perfex_worker_circuit_state{state="closed"} 1`,
		`perfex_worker_consumer_bound 1`,
		`perfex_worker_consumer_pending 0`,
		`perfex_worker_build_info{`,
		`perfex_worker_dlq_fill_ratio `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, secret := range []string{token, "pw-in-metrics-1", good.ID, missing.ID} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics contains %q", secret)
		}
	}
}
