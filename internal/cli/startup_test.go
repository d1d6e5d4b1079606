package cli

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

// lockedBuffer is a bytes.Buffer for a logger written from goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestWorkerWaitsForNATS: a worker started before its NATS server waits,
// says so once, and starts consuming when the server comes up.
func TestWorkerWaitsForNATS(t *testing.T) {
	t.Parallel()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	sim := perfexsim.New(perfexsim.Options{Token: "startup-token-1", Seed: true, PasswordCost: 4})
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)

	logs := &lockedBuffer{}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(logs), zapcore.InfoLevel))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		done <- runWorker(ctx, log, workerSetup{
			nats:   natsFlags{NATSURL: "nats://127.0.0.1:" + strconv.Itoa(port), Prefix: "perfex"},
			perfex: perfexFlags{PerfexURL: simURL, PerfexTimeout: 5 * time.Second, PermissionsSource: "customtable"},
			worker: devWorkerFlags(),
			token:  "startup-token-1",
			ready:  func() { once.Do(func() { close(ready) }) },
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	waitUntil(t, "the worker to report that it waits", func() bool {
		return strings.Contains(logs.String(), "waiting for NATS JetStream")
	})
	select {
	case err := <-done:
		t.Fatalf("the worker gave up without NATS: %v\n%s", err, logs.String())
	default:
	}

	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })

	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("the worker stopped: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the worker did not bind after NATS came up:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "waiting for NATS JetStream"); n != 1 {
		t.Errorf("the wait was logged %d times, want once", n)
	}
}
