//go:build chaos

// Package chaos runs perfex-worker processes against the Perfex simulator
// under random faults, a full outage, worker kills and a NATS restart, and
// then checks that Perfex holds exactly what the commands say.
//
// Commands are published interleaved: in bursts spread over time, each
// picking contacts at random, so many commands per contact are in flight
// at once while workers die and NATS restarts. The expected state of each
// contact is computed field by field from the commands in stream order.
//
//	make chaos                                   # full size
//	go test -tags chaos -count=1 -timeout 60m ./chaos/ -args -commands=1500 -contacts=150 -outage=5s
//
// Flags (after -args): -commands, -contacts, -bursts, -publish-for,
// -fault-rate, -outage, -workers, -kill-every, -seed, -invalid-every,
// -log-dir.
package chaos

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

var (
	flagCommands     = flag.Int("commands", 10000, "commands to publish")
	flagContacts     = flag.Int("contacts", 1000, "contacts the commands are spread over")
	flagBursts       = flag.Int("bursts", 10, "bursts to publish the commands in, not waiting for the workers")
	flagPublishFor   = flag.Duration("publish-for", time.Minute, "time the bursts are spread over (first at 0, last at this)")
	flagFaultRate    = flag.Float64("fault-rate", 0.25, "probability that a request to the simulator is faulted")
	flagOutage       = flag.Duration("outage", 30*time.Second, "length of the full Perfex outage")
	flagWorkers      = flag.Int("workers", 3, "worker processes")
	flagKillEvery    = flag.Duration("kill-every", 3*time.Second, "mean time between worker kills")
	flagSeed         = flag.Uint64("seed", 0, "random seed; 0 picks one")
	flagSettleWithin = flag.Duration("settle-within", 40*time.Minute, "how long the workers may take, under faults and kills, to empty the command stream")
	flagInvalid      = flag.Int("invalid-every", 97, "every n-th command is invalid by construction")
	flagLogDir       = flag.String("log-dir", "", "keep the workers' logs (debug level) here, not in a temporary directory")
)

// One command in hotShare goes to one of a few hot contacts (a twentieth
// of them), so that those have dozens of commands in flight at once.
const hotShare = 4

const token = "chaos-token-3b1f9e07c2d84a65"

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "perfex-worker-chaos")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "perfex-worker")
	build := exec.Command("go", "build", "-o", binary, "../worker")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building perfex-worker:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestChaos is the whole suite; see the package comment.
func TestChaos(t *testing.T) {
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	if *flagCommands < 1 || *flagContacts < 1 || *flagBursts < 1 || *flagWorkers < 1 {
		t.Fatal("-commands, -contacts, -bursts and -workers must be at least 1")
	}
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	t.Logf("seed %d: %d commands over %d contacts in %d bursts over %s, fault rate %.2f, outage %s, %d workers",
		seed, *flagCommands, *flagContacts, *flagBursts, *flagPublishFor, *flagFaultRate, *flagOutage, *flagWorkers)
	start := time.Now()

	// NATS, in process, restartable with the same store and port.
	ns := startNATS(t)
	nc, err := nats.Connect(ns.url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := broker.Provision(context.Background(), js, broker.Settings{AckWait: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}

	// The simulator with a real rate limit, and its contacts.
	sim := perfexsim.New(perfexsim.Options{Token: token, PasswordCost: 4, RateLimit: 3000, RateWindow: time.Second})
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	sim.AddCustomer(1)
	initial := map[int64]perfexsim.Contact{}
	var contacts []int64
	for i := range *flagContacts {
		id := sim.PutContact(perfexsim.Contact{UserID: 1, FirstName: "Caos", LastName: strconv.Itoa(i),
			Email: fmt.Sprintf("caos.%d@example.com", i), Active: true})
		c, _ := sim.Contact(id)
		initial[id] = c
		contacts = append(contacts, id)
	}
	faultKinds := []perfexsim.FaultKind{perfexsim.FaultRefuse, perfexsim.FaultReset, perfexsim.FaultTimeout,
		perfexsim.FaultStatus500, perfexsim.FaultHTML503, perfexsim.FaultHTML502, perfexsim.FaultStatus429}
	faults := perfexsim.Faults{Rate: *flagFaultRate, Kinds: faultKinds, Seed: seed,
		TimeoutMax: 500 * time.Millisecond, RetryAfter: 500 * time.Millisecond, RefuseFor: 100 * time.Millisecond}
	sim.SetFaults(faults)

	// Worker processes, killed and restarted at random.
	logDir := workerLogDir(t, *flagLogDir)
	fleet := &fleet{t: t, natsURL: ns.url, simURL: simURL, logDir: logDir}
	for i := range *flagWorkers {
		fleet.start(i)
	}
	if t.Failed() {
		fleet.stopAll()
		t.FailNow()
	}
	stopChaos := make(chan struct{})
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		fleet.killAtRandom(rand.New(rand.NewPCG(seed+1, seed)), *flagKillEvery, stopChaos)
	}()

	// Publish everything without waiting for the workers, then let them
	// finish under faults and kills, and finally without either.
	pr := &publishRun{t: t, rng: rng, seed: seed, js: js, ns: ns, sim: sim, contacts: contacts}
	cmds := pr.run()
	waitEmpty(t, js, *flagSettleWithin)
	t.Logf("command stream empty after %s", time.Since(start).Round(time.Second))
	close(stopChaos)
	<-chaosDone
	sim.SetFaults(perfexsim.Faults{})
	waitEmpty(t, js, time.Minute)
	stats := sim.Stats()
	fleet.stopAll()

	// Checks.
	m := buildModel(t, initial, cmds)
	mismatches := 0
	for _, id := range contacts {
		got, _ := sim.Contact(id)
		if diff := diffContact(m.contacts[id], got); diff != "" {
			mismatches++
			if mismatches <= 20 {
				t.Errorf("contact %d differs from the model: %s", id, diff)
			}
		}
	}
	clocksDiffering := checkClock(t, js, m, contacts)

	invalid := map[string]bool{}
	for _, c := range cmds {
		if c.invalid {
			invalid[c.id] = true
		}
	}
	letters := readLetters(t, js)
	lettersFor := map[string]int{}
	for _, l := range letters {
		lettersFor[l.CommandID]++
	}
	wrongLetters, missingLetters, doubleLetters := 0, 0, 0
	for id, k := range lettersFor {
		switch {
		case !invalid[id]:
			wrongLetters++
			t.Errorf("valid command %s was dead-lettered", id)
		case k > 1:
			doubleLetters++
			t.Errorf("command %s dead-lettered %d times", id, k)
		}
	}
	for id := range invalid {
		if lettersFor[id] == 0 {
			missingLetters++
			t.Errorf("invalid command %s was not dead-lettered", id)
		}
	}
	outcomes := checkOutcomes(t, cmds, m, readOutcomes(t, logDir))
	injected429 := stats.Faults[perfexsim.FaultStatus429]
	if stats.RateLimited != injected429 {
		t.Errorf("%d 429 answers, %d of them injected: the worker provoked %d", stats.RateLimited, injected429, stats.RateLimited-injected429)
	}

	faultTotal := 0
	for _, k := range stats.Faults {
		faultTotal += k
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\t\n", k, v) }
	fmt.Fprintln(tw, "chaos summary\t\t")
	row("seed", seed)
	row("commands published", len(cmds))
	row("  valid", len(cmds)-len(invalid))
	row("  invalid by construction", len(invalid))
	row("contacts", len(contacts))
	row("bursts", fmt.Sprintf("%d over %s", *flagBursts, *flagPublishFor))
	row("publishes re-sent / already stored", fmt.Sprintf("%d / %d", pr.pub.resent, pr.pub.duplicates))
	row("commands for one contact, most", pr.mostForOne)
	row("in the stream at once, most", pr.peakMsgs)
	row("  for one contact", pr.peakPerContact)
	row("requests to Perfex", stats.Total())
	row("faults injected", fmt.Sprintf("%d (%.1f%%)", faultTotal, 100*float64(faultTotal)/float64(max(1, stats.Total()))))
	for _, k := range faultKinds {
		row("  "+k.String(), stats.Faults[k])
	}
	row("429 answers / injected", fmt.Sprintf("%d / %d", stats.RateLimited, injected429))
	row("PUTs applied", stats.Applied)
	row("outage", *flagOutage)
	row("NATS restarts", pr.natsRestarts)
	row("worker kills (SIGKILL)", fleet.kills.Load())
	row("worker stops (SIGTERM)", fleet.terms.Load())
	row("worker starts", fleet.starts.Load())
	row("outcomes logged: applied", outcomes.byKind[consumer.Applied])
	row("  superseded", outcomes.byKind[consumer.Superseded])
	row("  dead-lettered", outcomes.byKind[consumer.DeadLettered])
	row("  more than one (after a lost ack)", fmt.Sprintf("%d (%d)", outcomes.multiple, outcomes.afterAckLost))
	row("  none (killed after the ack)", outcomes.unlogged)
	row("deliveries of one command, most", outcomes.mostDeliveries)
	row("dead letters", len(letters))
	row("contacts differing from model", mismatches)
	row("clocks differing from model", clocksDiffering)
	row("outcomes the kind forbids", outcomes.wrongKind)
	row("last writers superseded", outcomes.lastSuperseded)
	row("valid commands dead-lettered", wrongLetters)
	row("invalid commands not dead-lettered", missingLetters)
	row("commands dead-lettered twice", doubleLetters)
	row("duration", time.Since(start).Round(time.Second))
	_ = tw.Flush()
}

// publishRun publishes every command in -bursts bursts spread evenly over
// -publish-for, from one goroutine, each command after the previous one's
// PubAck, so the stream holds them in publish order; the model still
// orders them by the sequence each PubAck names. Each command picks its
// contact at random (one in hotShare among the hot contacts), so commands
// for one contact are interleaved with others' and pile up behind each
// other. Perfex goes down just before the burst a third of the way in, so
// that burst (and more if the outage is long) is published into the
// outage, and NATS restarts halfway through the burst two thirds of the
// way in, so the rest of it is re-sent until the server is back.
type publishRun struct {
	t        *testing.T
	rng      *rand.Rand
	seed     uint64
	js       jetstream.JetStream
	ns       *natsServer
	sim      *perfexsim.Sim
	contacts []int64
	pub      *publisher

	// What the stream held at the end of each burst, at most.
	peakMsgs, peakPerContact uint64
	mostForOne               int
	natsRestarts             int
}

func (p *publishRun) run() []sent {
	bursts := *flagBursts
	perBurst := (*flagCommands + bursts - 1) / bursts
	gap := time.Duration(0)
	if bursts > 1 {
		gap = *flagPublishFor / time.Duration(bursts-1)
	}
	hot := slices.Clone(p.contacts)
	p.rng.Shuffle(len(hot), func(i, j int) { hot[i], hot[j] = hot[j], hot[i] })
	hot = hot[:max(1, len(hot)/20)]

	p.pub = &publisher{t: p.t, js: p.js}
	var disruptions sync.WaitGroup
	var cmds []sent
	perContact := map[int64]int{}
	begin := time.Now()
	for b := 0; b < bursts && len(cmds) < *flagCommands; b++ {
		time.Sleep(time.Until(begin.Add(time.Duration(b) * gap)))
		if b == bursts/3 {
			p.t.Logf("burst %d: Perfex down for %s", b, *flagOutage)
			disruptions.Go(p.outage)
		}

		n := min(perBurst, *flagCommands-len(cmds))
		for i := range n {
			if b == 2*bursts/3 && i == n/2 {
				p.t.Logf("burst %d: restarting NATS halfway through", b)
				disruptions.Go(p.restartNATS)
			}
			c, body := p.next(len(cmds)+1, hot)
			c.seq = p.pub.publish(c.contact, body, c.id)
			cmds = append(cmds, c)
			perContact[c.contact]++
			p.mostForOne = max(p.mostForOne, perContact[c.contact])
		}

		if msgs, one, ok := backlog(p.js); ok {
			p.peakMsgs, p.peakPerContact = max(p.peakMsgs, msgs), max(p.peakPerContact, one)
			p.t.Logf("burst %d published after %s: %d commands in the stream, at most %d for one contact",
				b, time.Since(begin).Round(time.Millisecond), msgs, one)
		}
	}
	disruptions.Wait()
	return cmds
}

// next makes the n-th command and its body: every -invalid-every-th is
// invalid by construction.
func (p *publishRun) next(n int, hot []int64) (sent, []byte) {
	contact := p.contacts[p.rng.IntN(len(p.contacts))]
	if p.rng.IntN(hotShare) == 0 {
		contact = hot[p.rng.IntN(len(hot))]
	}
	c := sent{id: fmt.Sprintf("chaos-%d-%d", p.seed, n), contact: contact}
	var body []byte
	if *flagInvalid > 0 && n%*flagInvalid == 0 {
		c.invalid = true
		body = invalidBody(p.rng, c.id, contact)
	} else {
		c.data = randomData(p.rng, contact, n)
		body = validBody(c.id, contact, c.data)
	}
	return c, body
}

func (p *publishRun) outage() {
	_ = p.sim.SetDown(true)
	time.Sleep(*flagOutage)
	_ = p.sim.SetDown(false)
	p.t.Logf("Perfex up again")
}

func (p *publishRun) restartNATS() {
	if err := p.ns.restart(); err != nil {
		p.t.Errorf("restarting NATS: %v", err)
		return
	}
	p.natsRestarts++
}
