package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

// simToken is the simulator's API token; nothing secret.
const simToken = "bench-token-0123456789abcdef"

// stack is the orchestrator's side of a run: JetStream and the Perfex
// simulator, both in this process so that the worker's process holds
// nothing but the worker.
type stack struct {
	ns   *server.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	sim  *perfexsim.Sim
	http *http.Server
	url  string // the simulator's API base URL

	names broker.Names
	track *tracker
}

func startStack(dir string, contacts int, rate int, window time.Duration) (*stack, error) {
	ns, err := server.NewServer(&server.Options{
		ServerName: "bench", Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true,
	})
	if err != nil {
		return nil, err
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		return nil, fmt.Errorf("the NATS server did not start")
	}
	s := &stack{ns: ns, names: broker.DefaultNames(), track: &tracker{}}

	s.nc, err = nats.Connect(ns.ClientURL(), nats.Name("bench orchestrator"))
	if err != nil {
		return nil, err
	}
	s.js, err = jetstream.New(s.nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	// The settings perfex-worker run uses by default, so that it binds
	// to what is provisioned here instead of refusing a mismatch.
	settings := broker.Settings{Names: s.names}
	if err := broker.Provision(context.Background(), s.js, settings); err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}

	s.sim = perfexsim.New(perfexsim.Options{
		Token: simToken, Seed: true, PasswordCost: 4, RateLimit: rate, RateWindow: window,
	})
	for id := int64(firstBenchContact); id < int64(firstBenchContact+contacts); id++ {
		s.sim.PutContact(perfexsim.Contact{
			ID: id, UserID: 1 + id%7, FirstName: "Bench", LastName: "Contact " + strconv.FormatInt(id, 10),
			Email: "bench" + strconv.FormatInt(id, 10) + "@example.com", Active: true,
			DateCreated: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Permissions: []int{1, 5},
		})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.http = &http.Server{Handler: s.track.wrap(s.sim), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	s.url = "http://" + ln.Addr().String() + "/api"
	return s, nil
}

func (s *stack) close() {
	_ = s.http.Close()
	s.nc.Close()
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// pending is how many commands the stream still holds (a work queue
// deletes a message once it is acked).
func (s *stack) pending(ctx context.Context) (uint64, error) {
	st, err := s.js.Stream(ctx, s.names.Commands)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// firstBenchContact is the first id of the contacts added for the load, far
// from the seeded 1..36 (some of which are locked or read-only on purpose).
const firstBenchContact = 1000

// tracker sees every request the simulator answers. It recognises the
// command a successful PUT applied by its title, "b<run>-<index>", and
// records when it was applied.
type tracker struct {
	mu      sync.Mutex
	run     string
	applied []int64 // unix nanos by index, 0 until applied
	count   atomic.Int64
	first   atomic.Int64
	last    atomic.Int64
}

func (t *tracker) reset(run string, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.run = run
	t.applied = make([]int64, n)
	t.count.Store(0)
	t.first.Store(0)
	t.last.Store(0)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

var titleKey = []byte(`"title":"b`)

func (t *tracker) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			h.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		if sw.status != http.StatusOK {
			return
		}
		t.record(body, time.Now().UnixNano())
	})
}

func (t *tracker) record(body []byte, now int64) {
	i := bytes.Index(body, titleKey)
	if i < 0 {
		return
	}
	rest := body[i+len(titleKey):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return
	}
	run, idx, ok := bytes.Cut(rest[:end], []byte("-"))
	if !ok {
		return
	}
	n, err := strconv.Atoi(string(idx))
	if err != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if string(run) != t.run || n < 0 || n >= len(t.applied) || t.applied[n] != 0 {
		return
	}
	t.applied[n] = now
	t.first.CompareAndSwap(0, now)
	t.last.Store(now)
	t.count.Add(1)
}

func (t *tracker) snapshot() []int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]int64(nil), t.applied...)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/load: "+format+"\n", args...)
	os.Exit(1)
}
