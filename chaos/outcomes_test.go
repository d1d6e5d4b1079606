//go:build chaos

package chaos

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/perfexworker/perfex-worker/internal/consumer"
)

// loggedOutcomes are the final outcomes the workers logged, by stream
// sequence, in the order each slot's log holds them.
type loggedOutcomes struct {
	final map[uint64][]string
	// ackLost counts "acknowledgement not confirmed" warnings: the
	// command may come back and reach a second outcome.
	ackLost map[uint64]int
	// deliveries is the highest delivery count logged for the command.
	deliveries map[uint64]int
}

// readOutcomes reads the workers' logs in dir. A final outcome is a line
// with outcome applied, superseded or dead_lettered (consumer.Outcome.Final)
// other than the unconfirmed-ack warning, which carries the outcome it
// was settling too.
func readOutcomes(t *testing.T, dir string) loggedOutcomes {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "worker-*.log"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no worker logs in %s (%v)", dir, err)
	}

	o := loggedOutcomes{final: map[uint64][]string{}, ackLost: map[uint64]int{}, deliveries: map[uint64]int{}}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
		for sc.Scan() {
			var line struct {
				Msg     string `json:"msg"`
				Outcome string `json:"outcome"`
				Seq     uint64 `json:"stream_seq"`
				Attempt int    `json:"attempt"`
			}
			// A process killed mid-write can leave a torn line; skip it.
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.Seq == 0 {
				continue
			}
			o.deliveries[line.Seq] = max(o.deliveries[line.Seq], line.Attempt)
			switch {
			case strings.HasPrefix(line.Msg, "acknowledgement not confirmed"):
				o.ackLost[line.Seq]++
			case (consumer.Outcome{Kind: line.Outcome}).Final():
				o.final[line.Seq] = append(o.final[line.Seq], line.Outcome)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
	}
	return o
}

// outcomeTally counts commands by the outcome they were logged with.
type outcomeTally struct {
	byKind map[string]int // by the last logged final outcome
	// multiple were logged with more than one final outcome: two
	// deliveries of the command were settled, because one expired
	// unseen in a worker's client buffer while the other was taken, or an
	// ack was not confirmed (afterAckLost of them). The clock makes the
	// second harmless.
	multiple, afterAckLost int
	// mostDeliveries is the highest delivery count logged.
	mostDeliveries int
	// unlogged left the stream without a logged outcome: a process killed
	// between the acknowledgement and the log line.
	unlogged int
	// wrongKind is a valid command logged as dead-lettered or an invalid
	// one logged as applied or superseded; lastSuperseded a command logged
	// as superseded although the model keeps one of its values.
	wrongKind, lastSuperseded int
}

// checkOutcomes holds the logged outcomes against the commands and the
// model. Every command left the stream (checked by the caller); here each
// must have reached only outcomes its kind allows: applied or superseded
// for a valid command, dead-lettered for an invalid one. A command that is
// the last to set some field must not be superseded, however often it was
// delivered. A command may be logged more than once, or not at all, for
// the reasons outcomeTally gives; those are counted, not failed.
func checkOutcomes(t *testing.T, cmds []sent, m model, o loggedOutcomes) outcomeTally {
	t.Helper()
	tally := outcomeTally{byKind: map[string]int{}}
	for _, c := range cmds {
		kinds := o.final[c.seq]
		tally.mostDeliveries = max(tally.mostDeliveries, o.deliveries[c.seq])
		switch {
		case len(kinds) == 0:
			tally.unlogged++
			t.Logf("command %s (seq %d) left the stream without a logged outcome", c.id, c.seq)
			continue
		case len(kinds) > 1:
			tally.multiple++
			if o.ackLost[c.seq] > 0 {
				tally.afterAckLost++
			}
		}
		tally.byKind[kinds[len(kinds)-1]]++

		allowed := []string{consumer.Applied, consumer.Superseded}
		if c.invalid {
			allowed = []string{consumer.DeadLettered}
		}
		if slices.ContainsFunc(kinds, func(k string) bool { return !slices.Contains(allowed, k) }) {
			tally.wrongKind++
			t.Errorf("command %s (seq %d, invalid %t) was logged as %v", c.id, c.seq, c.invalid, kinds)
		}
		if last := m.lastFor(c); len(last) > 0 && slices.Contains(kinds, consumer.Superseded) {
			tally.lastSuperseded++
			t.Errorf("command %s (seq %d) was superseded although no later command sets %v", c.id, c.seq, last)
		}
	}
	return tally
}
