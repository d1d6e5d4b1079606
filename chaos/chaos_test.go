//go:build chaos

// Package chaos runs perfex-worker processes against the Perfex simulator
// under random faults, a full outage, worker kills and a NATS restart, and
// then checks that Perfex holds exactly what the commands say.
//
//	make chaos                                   # full size
//	go test -tags chaos -count=1 -timeout 60m ./chaos/ -args -commands=1500 -contacts=150 -outage=5s
//
// Flags (after -args): -commands, -contacts, -waves, -fault-rate, -outage,
// -workers, -kill-every, -seed, -invalid-every.
package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/command"
	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

var (
	flagCommands  = flag.Int("commands", 10000, "commands to publish")
	flagContacts  = flag.Int("contacts", 1000, "contacts the commands are spread over (at least commands/waves)")
	flagWaves     = flag.Int("waves", 10, "waves; a wave holds at most one command per contact")
	flagFaultRate = flag.Float64("fault-rate", 0.25, "probability that a request to the simulator is faulted")
	flagOutage    = flag.Duration("outage", 30*time.Second, "length of the full Perfex outage")
	flagWorkers   = flag.Int("workers", 3, "worker processes")
	flagKillEvery = flag.Duration("kill-every", 3*time.Second, "mean time between worker kills")
	flagSeed      = flag.Uint64("seed", 0, "random seed; 0 picks one")
	flagInvalid   = flag.Int("invalid-every", 97, "every n-th command is invalid by construction")
	flagLogDir    = flag.String("log-dir", "", "keep the workers' logs (level info) in this directory")
)

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
//
// TODO(ordering): commands are published in waves with at most one
// command per contact each, and a wave starts only when the previous one
// has left the stream, because per-contact order is not guaranteed across
// processes and redeliveries yet (and two processes updating one contact
// at once could each write back the other's stale fields). Once the
// per-contact ordering work lands, publish every command at once (many per
// contact in flight) and keep the same field-by-field model check.
func TestChaos(t *testing.T) {
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	perWave := (*flagCommands + *flagWaves - 1) / *flagWaves
	if *flagContacts < perWave {
		t.Fatalf("-contacts %d is below commands per wave %d", *flagContacts, perWave)
	}
	t.Logf("seed %d: %d commands over %d contacts in %d waves, fault rate %.2f, outage %s, %d workers",
		seed, *flagCommands, *flagContacts, *flagWaves, *flagFaultRate, *flagOutage, *flagWorkers)
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
	model := map[int64]perfexsim.Contact{}
	var contacts []int64
	for i := range *flagContacts {
		id := sim.PutContact(perfexsim.Contact{UserID: 1, FirstName: "Caos", LastName: strconv.Itoa(i),
			Email: fmt.Sprintf("caos.%d@example.com", i), Active: true})
		c, _ := sim.Contact(id)
		model[id] = c
		contacts = append(contacts, id)
	}
	faultKinds := []perfexsim.FaultKind{perfexsim.FaultRefuse, perfexsim.FaultReset, perfexsim.FaultTimeout,
		perfexsim.FaultStatus500, perfexsim.FaultHTML503, perfexsim.FaultHTML502, perfexsim.FaultStatus429}
	faults := perfexsim.Faults{Rate: *flagFaultRate, Kinds: faultKinds, Seed: seed,
		TimeoutMax: 500 * time.Millisecond, RetryAfter: 500 * time.Millisecond, RefuseFor: 100 * time.Millisecond}
	sim.SetFaults(faults)

	// Worker processes, killed and restarted at random.
	fleet := &fleet{t: t, natsURL: ns.url, simURL: simURL}
	for i := range *flagWorkers {
		fleet.start(i)
	}
	stopChaos := make(chan struct{})
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		fleet.killAtRandom(rand.New(rand.NewPCG(seed+1, seed)), *flagKillEvery, stopChaos)
	}()

	// Publish wave by wave; the outage and the NATS restart happen during
	// chosen waves.
	pub := &publisher{t: t, js: js}
	invalid := map[string]bool{}
	valid := 0
	outageWave, restartWave := *flagWaves/3, 2**flagWaves/3
	n := 0
	for w := 0; w < *flagWaves && n < *flagCommands; w++ {
		order := slices.Clone(contacts)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, id := range order[:min(perWave, *flagCommands-n)] {
			n++
			cmdID := fmt.Sprintf("chaos-%d-%d", seed, n)
			if *flagInvalid > 0 && n%*flagInvalid == 0 {
				invalid[cmdID] = true
				pub.publish(id, invalidBody(rng, cmdID, id), cmdID)
				continue
			}
			data := randomData(rng, id, w)
			c := model[id]
			applyModel(&c, data)
			model[id] = c
			valid++
			pub.publish(id, validBody(cmdID, id, data), cmdID)
		}
		switch w {
		case outageWave:
			t.Logf("wave %d: Perfex down for %s", w, *flagOutage)
			_ = sim.SetDown(true)
			time.Sleep(*flagOutage)
			_ = sim.SetDown(false)
		case restartWave:
			time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
			t.Logf("wave %d: restarting NATS", w)
			ns.restart(t)
		}
		waitEmpty(t, js, 10*time.Minute+*flagOutage)
		t.Logf("wave %d done after %s", w, time.Since(start).Round(time.Second))
	}
	close(stopChaos)
	<-chaosDone
	sim.SetFaults(perfexsim.Faults{})
	waitEmpty(t, js, time.Minute)
	stats := sim.Stats()
	fleet.stopAll()

	// Checks.
	mismatches := 0
	for _, id := range contacts {
		got, _ := sim.Contact(id)
		if diff := diffContact(model[id], got); diff != "" {
			mismatches++
			if mismatches <= 20 {
				t.Errorf("contact %d differs from the model: %s", id, diff)
			}
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
	row("commands published", n)
	row("  valid", valid)
	row("  invalid by construction", len(invalid))
	row("contacts", len(contacts))
	row("waves", *flagWaves)
	row("requests to Perfex", stats.Total())
	row("faults injected", fmt.Sprintf("%d (%.1f%%)", faultTotal, 100*float64(faultTotal)/float64(max(1, stats.Total()))))
	for _, k := range faultKinds {
		row("  "+k.String(), stats.Faults[k])
	}
	row("429 answers / injected", fmt.Sprintf("%d / %d", stats.RateLimited, injected429))
	row("PUTs applied", stats.Applied)
	row("outage", *flagOutage)
	row("NATS restarts", 1)
	row("worker kills (SIGKILL)", fleet.kills.Load())
	row("worker stops (SIGTERM)", fleet.terms.Load())
	row("worker starts", fleet.starts.Load())
	row("dead letters", len(letters))
	row("contacts differing from model", mismatches)
	row("valid commands dead-lettered", wrongLetters)
	row("invalid commands not dead-lettered", missingLetters)
	row("commands dead-lettered twice", doubleLetters)
	row("duration", time.Since(start).Round(time.Second))
	_ = tw.Flush()
}

// randomData sets one to three random fields of contact id to values that
// name the wave, so a lost command shows.
func randomData(rng *rand.Rand, id int64, wave int) command.ContactData {
	var d command.ContactData
	tag := fmt.Sprintf("w%d-%d", wave, rng.IntN(1_000_000))
	for range 1 + rng.IntN(3) {
		switch rng.IntN(9) {
		case 0:
			d.FirstName = command.String("First " + tag)
		case 1:
			d.LastName = command.String("Last " + tag)
		case 2:
			d.Title = command.String("Title " + tag)
		case 3:
			d.PhoneNumber = command.String("+55 11 " + strconv.Itoa(rng.IntN(100_000_000)))
		case 4:
			d.Email = command.String(fmt.Sprintf("caos.%d.%s@example.com", id, tag))
		case 5:
			d.Direction = command.String([]string{"", "ltr", "rtl"}[rng.IntN(3)])
		case 6:
			var p []int
			for perm := 1; perm <= 6; perm++ {
				if rng.IntN(2) == 0 {
					p = append(p, perm)
				}
			}
			if p == nil {
				p = []int{}
			}
			d.Permissions = &p
		default:
			b := rng.IntN(2) == 0
			flags := []**bool{&d.InvoiceEmails, &d.EstimateEmails, &d.CreditNoteEmails, &d.ContractEmails,
				&d.TaskEmails, &d.ProjectEmails, &d.TicketEmails}
			*flags[rng.IntN(len(flags))] = &b
		}
	}
	return d
}

// applyModel is what Perfex should hold after d.
func applyModel(c *perfexsim.Contact, d command.ContactData) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.FirstName, d.FirstName)
	set(&c.LastName, d.LastName)
	set(&c.Title, d.Title)
	set(&c.PhoneNumber, d.PhoneNumber)
	set(&c.Email, d.Email)
	set(&c.Direction, d.Direction)
	setB(&c.InvoiceEmails, d.InvoiceEmails)
	setB(&c.EstimateEmails, d.EstimateEmails)
	setB(&c.CreditNoteEmails, d.CreditNoteEmails)
	setB(&c.ContractEmails, d.ContractEmails)
	setB(&c.TaskEmails, d.TaskEmails)
	setB(&c.ProjectEmails, d.ProjectEmails)
	setB(&c.TicketEmails, d.TicketEmails)
	if d.Permissions != nil {
		c.Permissions = slices.Sorted(slices.Values(*d.Permissions))
	}
}

// diffContact names every field in which got differs from want.
func diffContact(want, got perfexsim.Contact) string {
	var out []string
	cmp := func(name string, w, g any) {
		if fmt.Sprint(w) != fmt.Sprint(g) {
			out = append(out, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	cmp("firstname", want.FirstName, got.FirstName)
	cmp("lastname", want.LastName, got.LastName)
	cmp("title", want.Title, got.Title)
	cmp("phonenumber", want.PhoneNumber, got.PhoneNumber)
	cmp("email", want.Email, got.Email)
	cmp("direction", want.Direction, got.Direction)
	cmp("invoice_emails", want.InvoiceEmails, got.InvoiceEmails)
	cmp("estimate_emails", want.EstimateEmails, got.EstimateEmails)
	cmp("credit_note_emails", want.CreditNoteEmails, got.CreditNoteEmails)
	cmp("contract_emails", want.ContractEmails, got.ContractEmails)
	cmp("task_emails", want.TaskEmails, got.TaskEmails)
	cmp("project_emails", want.ProjectEmails, got.ProjectEmails)
	cmp("ticket_emails", want.TicketEmails, got.TicketEmails)
	cmp("permissions", want.Permissions, got.Permissions)
	cmp("userid", want.UserID, got.UserID)
	cmp("active", want.Active, got.Active)
	cmp("is_primary", want.IsPrimary, got.IsPrimary)
	return strings.Join(out, "; ")
}

func validBody(id string, contact int64, d command.ContactData) []byte {
	b, err := json.Marshal(struct {
		ID        string              `json:"id"`
		Type      string              `json:"type"`
		ContactID int64               `json:"contact_id"`
		Data      command.ContactData `json:"data"`
	}{id, "contact.update", contact, d})
	if err != nil {
		panic(err)
	}
	return b
}

// invalidBody is a command the worker must dead-letter without a request:
// malformed, an unknown field, or an email the policy refuses.
func invalidBody(rng *rand.Rand, id string, contact int64) []byte {
	switch rng.IntN(3) {
	case 0:
		return fmt.Appendf(nil, `{"id":%q,"type":"contact.update","contact_id":%d,"data":{"title":5}}`, id, contact)
	case 1:
		return fmt.Appendf(nil, `{"id":%q,"type":"contact.update","contact_id":%d,"data":{"nickname":"x"}}`, id, contact)
	default:
		return fmt.Appendf(nil, `{"id":%q,"type":"contact.update","contact_id":%d,"data":{"email":"Ana <ana@example.com>"}}`, id, contact)
	}
}

// publisher publishes with retries: the dedupe window makes a re-send
// after a lost acknowledgement harmless.
type publisher struct {
	t  *testing.T
	js jetstream.JetStream
}

func (p *publisher) publish(contact int64, body []byte, id string) {
	msg := nats.NewMsg("perfex.cmd.contact.update." + strconv.FormatInt(contact, 10))
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, id)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := p.js.PublishMsg(ctx, msg)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("publishing %s: %v", id, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitEmpty waits until the command stream holds nothing.
func waitEmpty(t *testing.T, js jetstream.JetStream, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := js.Stream(ctx, "PERFEX_COMMANDS")
		var info *jetstream.StreamInfo
		if err == nil {
			info, err = st.Info(ctx)
		}
		cancel()
		if err == nil && info.State.Msgs == 0 {
			return
		}
		if time.Now().After(deadline) {
			msgs := uint64(0)
			if info != nil {
				msgs = info.State.Msgs
			}
			t.Fatalf("the command stream still holds %d commands after %s (last error: %v)", msgs, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readLetters(t *testing.T, js jetstream.JetStream) []dlq.Letter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, "PERFEX_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []dlq.Letter
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		raw, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		l, err := dlq.ParseLetter(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// natsServer is an in-process JetStream server that restarts on the same
// port with the same store.
type natsServer struct {
	dir  string
	url  string
	port int
	srv  *server.Server
}

func startNATS(t *testing.T) *natsServer {
	n := &natsServer{dir: t.TempDir(), port: -1}
	n.start(t)
	n.port = n.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { n.srv.Shutdown(); n.srv.WaitForShutdown() })
	return n
}

func (n *natsServer) start(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: n.port, JetStream: true,
		StoreDir: n.dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	n.srv, n.url = s, s.ClientURL()
}

func (n *natsServer) restart(t *testing.T) {
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	n.start(t)
}

// fleet runs the worker processes; a process that exits by itself (for
// example because NATS was down when it started) is started again.
type fleet struct {
	t       *testing.T
	natsURL string
	simURL  string

	mu     sync.Mutex
	procs  map[int]*exec.Cmd
	exited map[int]chan struct{}
	closed bool

	kills, terms, starts atomic.Int64
}

func (f *fleet) start(i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	if f.procs == nil {
		f.procs, f.exited = map[int]*exec.Cmd{}, map[int]chan struct{}{}
	}
	level, dir := "error", f.t.TempDir()
	if *flagLogDir != "" {
		level, dir = "info", *flagLogDir
	}
	cmd := exec.Command(binary, "run", "--log-level", level, "--metrics-addr=",
		"--concurrency", "8", "--max-deliveries", "30", "--ack-wait", "5s",
		"--retry-initial", "50ms", "--retry-max", "1s", "--drain-timeout", "3s",
		"--perfex-timeout", "1s", "--perfex-recovery-ramp", "3s", "--worker-id", "chaos-"+strconv.Itoa(i))
	cmd.Env = append(os.Environ(), "NATS_URL="+f.natsURL, "PERFEX_API_URL="+f.simURL, "PERFEX_API_TOKEN="+token)
	logf, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("worker-%d.log", i)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err == nil {
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	if err := cmd.Start(); err != nil {
		f.t.Errorf("starting worker %d: %v", i, err)
		return
	}
	f.starts.Add(1)
	done := make(chan struct{})
	f.procs[i], f.exited[i] = cmd, done
	go func() {
		_ = cmd.Wait()
		if logf != nil {
			logf.Close()
		}
		close(done)
		f.mu.Lock()
		mine := f.procs[i] == cmd
		closed := f.closed
		f.mu.Unlock()
		if mine && !closed {
			time.Sleep(500 * time.Millisecond)
			f.mu.Lock()
			again := f.procs[i] == cmd
			f.mu.Unlock()
			if again {
				f.start(i)
			}
		}
	}()
}

// killAtRandom kills (SIGKILL, or now and then SIGTERM) a random worker
// about every mean, and starts it again, until stop closes.
func (f *fleet) killAtRandom(rng *rand.Rand, mean time.Duration, stop <-chan struct{}) {
	for {
		d := time.Duration(rng.Int64N(int64(2 * mean)))
		select {
		case <-stop:
			return
		case <-time.After(d):
		}
		f.mu.Lock()
		ids := make([]int, 0, len(f.procs))
		for i := range f.procs {
			ids = append(ids, i)
		}
		sort.Ints(ids)
		i := ids[rng.IntN(len(ids))]
		cmd, done := f.procs[i], f.exited[i]
		f.procs[i] = nil // the watcher does not restart it: we do
		f.mu.Unlock()

		sig := syscall.SIGKILL
		if rng.IntN(4) == 0 {
			sig = syscall.SIGTERM
			f.terms.Add(1)
		} else {
			f.kills.Add(1)
		}
		_ = cmd.Process.Signal(sig)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		f.start(i)
	}
}

func (f *fleet) stopAll() {
	f.mu.Lock()
	f.closed = true
	procs := make(map[int]*exec.Cmd, len(f.procs))
	for i, c := range f.procs {
		procs[i] = c
	}
	exited := f.exited
	f.mu.Unlock()
	for i, c := range procs {
		if c == nil {
			continue
		}
		_ = c.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited[i]:
		case <-time.After(30 * time.Second):
			_ = c.Process.Kill()
		}
	}
}
