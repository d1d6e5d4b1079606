package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/broker/brokertest"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

func run(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = Main(args, &out, &errOut)
	return status, out.String(), errOut.String()
}

func TestUsageErrors(t *testing.T) {
	// Not parallel: kong reads the environment, which some cases set.
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"duration_without_unit", nil, []string{"run", "--ack-wait", "30"}, `missing unit in duration "30"`},
		{"duration_without_unit_from_env", map[string]string{"PERFEX_WORKER_ACK_WAIT": "30"}, []string{"run"}, "PERFEX_WORKER_ACK_WAIT"},
		{"flag_typo", nil, []string{"run", "--nats-ulr", "x"}, `did you mean "--nats-url"`},
		{"no_perfex_url", nil, []string{"run", "--perfex-token", "abcd"}, "PERFEX_API_URL"},
		{"no_token", nil, []string{"run", "--perfex-url", "https://crm.example.com/api"}, "PERFEX_API_TOKEN"},
		{"two_tokens", nil, []string{"run", "--perfex-url", "https://crm.example.com/api", "--perfex-token", "abcd", "--perfex-token-file", "/etc/hostname"}, "alternatives"},
		{"plain_http_elsewhere", nil, []string{"run", "--perfex-url", "http://crm.example.com/api", "--perfex-token", "abcd"}, "in clear"},
		{"token_in_url_query", nil, []string{"run", "--perfex-url", "https://crm.example.com/api?authtoken=x", "--perfex-token", "abcd"}, "authtoken header"},
		{"zero_concurrency", nil, []string{"run", "--perfex-url", "https://crm.example.com/api", "--perfex-token", "abcd", "--concurrency", "0"}, "--concurrency"},
		{"retry_max_below_initial", nil, []string{"run", "--perfex-url", "https://crm.example.com/api", "--perfex-token", "abcd", "--retry-initial", "2m", "--retry-max", "1m"}, "--retry-max"},
		{"bad_log_level", nil, []string{"run", "--log-level", "loud"}, "--log-level"},
		{"publish_nothing", nil, []string{"publish"}, "nothing to publish"},
		{"publish_bad_set", nil, []string{"publish", "--contact-id", "3", "--set", "title"}, "name=value"},
		{"publish_unknown_field", nil, []string{"publish", "--contact-id", "3", "--set", "nickname=x"}, "unknown field"},
		{"dev_off_loopback", nil, []string{"dev", "--nats-listen", "0.0.0.0:4222"}, "loopback only"},
		{"unknown_command", nil, []string{"frobnicate"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			status, _, stderr := run(t, tc.args...)
			if status != exitUsage {
				t.Errorf("status = %d, want %d; stderr:\n%s", status, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not mention %q:\n%s", tc.want, stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"dev", "--help"}, {"publish", "--help"}, {"--version"}} {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			status, stdout, stderr := run(t, args...)
			if status != exitOK || stdout == "" {
				t.Errorf("status %d, stdout %q, stderr %q", status, stdout, stderr)
			}
		})
	}
}

func TestPublish(t *testing.T) {
	t.Parallel()
	srv := brokertest.StartServer(t)
	_, js := brokertest.Connect(t, srv)
	if err := broker.Provision(t.Context(), js, broker.Settings{}); err != nil {
		t.Fatal(err)
	}
	url := srv.ClientURL()

	status, stdout, stderr := run(t, "publish", "--nats-url", url, "--contact-id", "12",
		"--set", "title=Director", "--set", "is_primary=true", "--set", "permissions=1,5", "-H", "traceparent=00-abc-def-01")
	if status != exitOK || !strings.Contains(stdout, "stored in PERFEX_COMMANDS as sequence 1") {
		t.Fatalf("single publish: status %d\n%s%s", status, stdout, stderr)
	}

	file := filepath.Join(t.TempDir(), "cmds.jsonl")
	lines := `# a comment
{"id":"dup-1","type":"contact.update","contact_id":3,"data":{"title":"A"}}
{"id":"dup-1","type":"contact.update","contact_id":3,"data":{"title":"A"}}
{"type":"contact.update","contact_id":4,"data":{"email":"not an email"}}
not json
{"type":"contact.update","contact_id":6,"data":{"title":"A"},"data":{"title":"B"}}

{"type":"contact.update","contact_id":5,"data":{"lastname":"Souza"}}
`
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	status, stdout, _ = run(t, "publish", "--nats-url", url, "--file", file)
	if status != exitFailure {
		t.Errorf("a file with refused lines exited %d, want %d", status, exitFailure)
	}
	for _, want := range []string{"line 3: dup-1: duplicate", "line 4: not published: invalid_email", "line 5: not published", `line 6: not published: malformed: body repeats the field "data"`, "published 3 (1 duplicates), refused 3, failed 0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	st, err := js.Stream(t.Context(), "PERFEX_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(t.Context())
	if info.State.Msgs != 3 {
		t.Errorf("stream holds %d commands, want 3", info.State.Msgs)
	}
	msg, err := st.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("traceparent") == "" || msg.Header.Get(jetstream.MsgIDHeader) == "" {
		t.Errorf("headers = %v", msg.Header)
	}
}

// TestDevRunsTheExamples is `make run` without the terminal: dev mode
// publishes examples/commands.jsonl and every dead-letter reason the
// simulator can trigger shows up in the summary.
func TestDevRunsTheExamples(t *testing.T) {
	t.Parallel()
	status, stdout, stderr := run(t, "dev", "--data-dir", t.TempDir(),
		"--nats-listen", "127.0.0.1:0", "--perfex-listen", "127.0.0.1:0",
		"--publish", "../../examples/commands.jsonl", "--exit", "--log-level", "warn")
	if status != exitOK {
		t.Fatalf("dev exited %d\n%s\n%s", status, stdout, stderr)
	}
	if strings.Contains(stdout, "still pending") {
		t.Errorf("commands were still pending:\n%s", stdout)
	}
	if !strings.Contains(stdout, "applied") || !strings.Contains(stdout, "duplicate") {
		t.Errorf("summary lacks applied commands or the duplicate:\n%s", stdout)
	}
	for _, code := range reason.DeadLetterReasons {
		if !strings.Contains(stdout, string(code)+" ") {
			t.Errorf("no %s dead letter in the summary:\n%s", code, stdout)
		}
	}
	if strings.Contains(stdout+stderr, "Nova-Senha-Portal-2026") {
		t.Error("a password from the examples reached the output")
	}
}
