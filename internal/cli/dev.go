package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

type devCmd struct {
	DataDir      string        `name:"data-dir" default:".dev-data" type:"path" help:"Where the embedded JetStream server keeps its streams."`
	NATSListen   string        `name:"nats-listen" default:"127.0.0.1:4222" help:"Address of the embedded NATS server (loopback)."`
	PerfexListen string        `name:"perfex-listen" default:"127.0.0.1:8780" help:"Address of the Perfex simulator (loopback)."`
	Prefix       string        `name:"prefix" default:"perfex" help:"Subject prefix."`
	Publish      string        `name:"publish" type:"existingfile" placeholder:"PATH" help:"JSON lines file of commands to publish once the worker is ready; a summary of their outcomes is printed."`
	ExitAfter    bool          `name:"exit" help:"Exit after the published commands reached their outcomes (for scripts)."`
	Wait         time.Duration `name:"wait" default:"2m" help:"How long to wait for the published commands' outcomes before the summary, with a unit."`
	LogLevel     string        `name:"log-level" env:"LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level."`
}

func (c *devCmd) Help() string {
	return `Starts an embedded NATS server with JetStream, a Perfex API simulator
seeded with fictitious contacts, and the worker between them, all on
loopback. Prints the addresses and the simulator's token so that other
commands (publish, the nats CLI, curl) can be pointed at them.

Example:
  perfex-worker dev --publish examples/commands.jsonl`
}

func (c *devCmd) Run(e *env) error {
	if c.Wait <= 0 {
		return usagef("--wait must be a positive duration with a unit, such as 2m")
	}
	if c.ExitAfter && c.Publish == "" {
		return usagef("--exit needs --publish")
	}
	token, err := randomToken()
	if err != nil {
		return err
	}
	log, err := (&logFlags{LogLevel: c.LogLevel, LogFormat: "console"}).logger(e.stderr, token)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	ns, err := c.startNATS()
	if err != nil {
		return err
	}
	defer func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	}()

	sim := perfexsim.New(perfexsim.Options{Token: token, Seed: true})
	// One poison contact shows the max_deliveries path: every request about
	// it fails with a 503 page while the other contacts work.
	sim.SetFaults(perfexsim.Faults{Rate: 1, Contacts: []int64{devPoisonContact}, Kinds: []perfexsim.FaultKind{perfexsim.FaultHTML503}})
	simURL, err := sim.Start(c.PerfexListen)
	if err != nil {
		return fmt.Errorf("starting the Perfex simulator on %s: %w", c.PerfexListen, err)
	}
	defer sim.Close()

	fmt.Fprintf(e.stdout, "NATS (JetStream):  %s   data in %s\n", ns.ClientURL(), c.DataDir)
	fmt.Fprintf(e.stdout, "Perfex simulator:  %s   token %s\n", simURL, token)
	fmt.Fprintf(e.stdout, "Try: curl -H 'authtoken: %s' %s/contacts/1\n\n", token, simURL)

	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()

	tally := newTally()
	ready := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		done <- runWorker(ctx, log, workerSetup{
			nats: natsFlags{NATSURL: ns.ClientURL(), Prefix: c.Prefix},
			perfex: perfexFlags{
				PerfexURL: simURL, PerfexTimeout: 5 * time.Second,
				PermissionsSource: "customtable",
			},
			worker:   devWorkerFlags(),
			token:    token,
			observer: tally.observe,
			ready:    func() { once.Do(func() { close(ready) }) },
		})
	}()

	select {
	case <-ready:
	case err := <-done:
		return err
	}

	if c.Publish != "" {
		if err := c.publishAndSummarise(ctx, e.stdout, ns.ClientURL(), tally); err != nil {
			cancel()
			<-done
			return err
		}
		if c.ExitAfter {
			cancel()
			return <-done
		}
		fmt.Fprintln(e.stdout, "\nThe worker keeps running; press Ctrl-C to stop.")
	}
	return <-done
}

// devPoisonContact is the seeded contact whose requests always fail in dev
// mode.
const devPoisonContact = 29

// devWorkerFlags are the run defaults with retries short enough to watch.
func devWorkerFlags() workerFlags {
	return workerFlags{
		Concurrency: 8, MaxDeliveries: 3, AckWait: 30 * time.Second,
		RetryInitial: 200 * time.Millisecond, RetryMax: 2 * time.Second,
		DrainTimeout: 10 * time.Second, DLQMaxAge: 30 * 24 * time.Hour,
		Replicas: 1, WorkerID: "dev",
	}
}

func (c *devCmd) startNATS() (*server.Server, error) {
	host, port, err := splitHostPort(c.NATSListen)
	if err != nil {
		return nil, usagef("--nats-listen %q: %v", c.NATSListen, err)
	}
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "perfex-dev", Host: host, Port: port,
		JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true,
	})
	if err != nil {
		return nil, fmt.Errorf("configuring the embedded NATS server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("the embedded NATS server did not start on %s (is the port in use? try --nats-listen 127.0.0.1:0)", c.NATSListen)
	}
	return ns, nil
}

func (c *devCmd) publishAndSummarise(ctx context.Context, out io.Writer, url string, tally *tally) error {
	f, err := os.Open(c.Publish)
	if err != nil {
		return usagef("--publish: %v", err)
	}
	defer f.Close()

	nc, err := nats.Connect(url, nats.Name("perfex-worker dev publish"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "Publishing %s:\n", c.Publish)
	p := linePublisher{js: js, prefix: c.Prefix, allowInvalid: true, timeout: 10 * time.Second, track: tally.expect}
	sum, err := p.publishAll(ctx, f, out)
	if err != nil {
		return err
	}

	waitCtx, cancel := context.WithTimeout(ctx, c.Wait)
	defer cancel()
	complete := tally.wait(waitCtx)
	tally.print(out, sum, complete, url, c.Prefix)
	return nil
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a token: %w", err)
	}
	return "dev-" + hex.EncodeToString(b), nil
}

// tally counts the outcomes of the commands dev mode published.
type tally struct {
	mu       sync.Mutex
	expected map[string]bool
	outcomes map[string]consumer.Outcome
	changed  chan struct{}
}

func newTally() *tally {
	return &tally{expected: map[string]bool{}, outcomes: map[string]consumer.Outcome{}, changed: make(chan struct{}, 1)}
}

func (t *tally) expect(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expected[id] = true
}

func (t *tally) observe(o consumer.Outcome) {
	if !o.Final() {
		return
	}
	t.mu.Lock()
	t.outcomes[o.CommandID] = o
	t.mu.Unlock()
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

func (t *tally) pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for id := range t.expected {
		if _, ok := t.outcomes[id]; !ok {
			n++
		}
	}
	return n
}

func (t *tally) wait(ctx context.Context) bool {
	for t.pending() > 0 {
		select {
		case <-t.changed:
		case <-ctx.Done():
			return false
		case <-time.After(500 * time.Millisecond):
		}
	}
	return true
}

func (t *tally) print(out io.Writer, sum publishSummary, complete bool, url, prefix string) {
	t.mu.Lock()
	defer t.mu.Unlock()

	byKind := map[string]int{}
	byReason := map[reason.Code]int{}
	for id := range t.expected {
		o, ok := t.outcomes[id]
		if !ok {
			continue
		}
		byKind[o.Kind]++
		if o.Kind == consumer.DeadLettered {
			byReason[o.Reason]++
		}
	}

	fmt.Fprintf(out, "\nWhat happened to the %d commands published (%d duplicates, %d not publishable):\n",
		sum.stored, sum.duplicates, sum.refused+sum.failed)
	fmt.Fprintf(out, "  applied        %4d\n", byKind[consumer.Applied])
	if n := byKind[consumer.Superseded]; n > 0 {
		fmt.Fprintf(out, "  superseded     %4d\n", n)
	}
	fmt.Fprintf(out, "  dead-lettered  %4d\n", byKind[consumer.DeadLettered])
	codes := make([]string, 0, len(byReason))
	for c := range byReason {
		codes = append(codes, string(c))
	}
	sort.Strings(codes)
	for _, c := range codes {
		code := reason.Code(c)
		fmt.Fprintf(out, "    %-18s %4d  %s / %s\n", c, byReason[code], code.Message(reason.English), code.Message(reason.Portuguese))
	}
	if !complete {
		fmt.Fprintf(out, "  still pending  %4d (waiting longer than --wait; the worker keeps going)\n", len(t.expected)-len(t.outcomes))
	}

	fmt.Fprintf(out, "\nLook further (in another terminal while dev runs; bin/perfex-worker is what `make build` makes):\n")
	fmt.Fprintf(out, "  bin/perfex-worker dlq list  --nats-url %s --prefix %s\n", url, prefix)
	fmt.Fprintf(out, "  bin/perfex-worker dlq stats --nats-url %s --prefix %s\n", url, prefix)
	fmt.Fprintf(out, "  bin/perfex-worker dlq show SEQ --nats-url %s --prefix %s\n", url, prefix)
	fmt.Fprintf(out, "  bin/perfex-worker publish --nats-url %s --prefix %s --contact-id 1 --set title=Director\n", url, prefix)
}

// splitHostPort splits a loopback listen address; port 0 picks a free one.
func splitHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	if !isLoopback(host) {
		return "", 0, fmt.Errorf("dev mode listens on loopback only (127.0.0.1, ::1 or localhost), not %q", host)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}
