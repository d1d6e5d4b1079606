package cli

import (
	"reflect"
	"strings"
	"testing"
)

func TestPrintConfig(t *testing.T) {
	t.Setenv("PERFEX_WORKER_CONCURRENCY", "3")
	status, stdout, stderr := run(t, "run", "--print-config",
		"--perfex-url", "https://crm.example.com/api", "--perfex-token", "print-token-8a1f",
		"--nats-url", "nats://user:natspass@nats.example.com:4222", "--metrics-addr", "127.0.0.1:9191")
	if status != exitOK {
		t.Fatalf("status %d, want 0\n%s%s", status, stdout, stderr)
	}
	for _, secret := range []string{"print-token-8a1f", "natspass"} {
		if strings.Contains(stdout, secret) {
			t.Errorf("output contains %q:\n%s", secret, stdout)
		}
	}
	for _, want := range []string{
		"--perfex-token", "PERFEX_API_TOKEN", "***",
		"nats://***@nats.example.com:4222", "https://crm.example.com/api",
		"127.0.0.1:9191", "--log-format",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stdout, "PERFEX_WORKER_CONCURRENCY     3") {
		t.Errorf("the environment's concurrency is not shown:\n%s", stdout)
	}

	// Every flag of run is printed.
	entries := configEntries(reflect.ValueOf(&runCmd{}).Elem())
	for _, e := range entries {
		if !strings.Contains(stdout, "--"+e.flag+" ") {
			t.Errorf("--%s is missing", e.flag)
		}
	}

	status, stdout, _ = run(t, "run", "--print-config", "--perfex-token", "print-token-8a1f")
	if status != exitUsage || !strings.Contains(stdout, "--perfex-url") {
		t.Errorf("an incomplete configuration: status %d, want it printed and status 2", status)
	}
}
