package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/perfexworker/perfex-worker/internal/clock"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

var (
	orderRuns  = flag.Int("order.runs", 2, "random runs of TestOrderProperty")
	orderSteps = flag.Int("order.steps", 40, "steps in each run of TestOrderProperty")
	orderSeed  = flag.Uint64("order.seed", 0, "first seed of TestOrderProperty (0: from the clock)")
)

// TestOrderProperty publishes random commands over a few contacts while
// two workers share the durable, and mixes in worker restarts (handing
// commands back, so they are redelivered), transient Perfex faults
// (including updates applied but not answered), outages, delays and
// replays of earlier commands ranked at their original sequence. Whatever
// happens, Perfex must end with, field by field, what applying the
// accepted commands in publish order gives.
//
// More runs: go test ./e2e -run TestOrderProperty -args -order.runs=50
// A failing run names its seed; repeat it with -order.seed.
func TestOrderProperty(t *testing.T) {
	t.Parallel()
	seed := *orderSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	for i := range *orderRuns {
		run := seed + uint64(i)
		t.Run("seed_"+strconv.FormatUint(run, 10), func(t *testing.T) {
			orderRun(t, run, *orderSteps)
		})
	}
}

func orderRun(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	s := newStack(t, stackOptions{noWorker: true})
	contacts := []int64{4, 5, 6}
	workers := []*poolWorker{
		s.startNamedWorker("w0", s.nats.URL()),
		s.startNamedWorker("w1", s.nats.URL()),
	}
	restarts := 0

	type published struct {
		modelCommand
		body []byte
		id   string
	}
	var pubs []published
	var model []modelCommand
	faulty := false

	for step := range steps {
		switch p := rng.IntN(100); {
		case p < 60 || len(pubs) == 0:
			contact := contacts[rng.IntN(len(contacts))]
			data := map[string]string{}
			for _, f := range orderFields {
				if rng.IntN(3) == 0 {
					data[f.name] = f.value(step)
				}
			}
			if len(data) == 0 {
				f := orderFields[rng.IntN(len(orderFields))]
				data[f.name] = f.value(step)
			}
			c := update(contact, toAny(data))
			seq := s.publish(c)
			body, _ := json.Marshal(c)
			mc := modelCommand{rank: seq, contact: contact, data: data}
			pubs = append(pubs, published{modelCommand: mc, body: body, id: c.id()})
			model = append(model, mc)

		case p < 70:
			// A dead letter's replay: the same body under a new Msg-Id,
			// ranked at the original's sequence.
			old := pubs[rng.IntN(len(pubs))]
			s.publishRaw("perfex.cmd.contact.update."+strconv.FormatInt(old.contact, 10), old.body,
				fmt.Sprintf("%s:replay:%d", old.id, step),
				clock.OriginalSequenceHeader, strconv.FormatUint(old.rank, 10))

		case p < 80:
			if faulty {
				s.sim.SetFaults(perfexsim.Faults{})
			} else {
				s.sim.SetFaults(perfexsim.Faults{
					Rate: 0.3, Seed: seed + uint64(step),
					Kinds: []perfexsim.FaultKind{
						perfexsim.FaultHTML503, perfexsim.FaultReset, perfexsim.FaultResetAfterApply,
					},
				})
			}
			faulty = !faulty

		case p < 85:
			if err := s.sim.SetDown(true); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(50+rng.IntN(200)) * time.Millisecond)
			if err := s.sim.SetDown(false); err != nil {
				t.Fatal(err)
			}

		case p < 92:
			i := rng.IntN(len(workers))
			workers[i].stop()
			restarts++
			workers[i] = s.startNamedWorker(fmt.Sprintf("w%d-%d", i, restarts), s.nats.URL())

		default:
			time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		}
	}
	s.sim.SetFaults(perfexsim.Faults{})

	eventually(t, "every command settled", func() bool {
		if s.pending() != 0 {
			return false
		}
		for _, w := range workers {
			if w.cons.Status().InHand != 0 {
				return false
			}
		}
		return true
	})
	if letters := s.letters(); len(letters) != 0 {
		t.Errorf("%d dead letters; the first: %s %s", len(letters), letters[0].Reason, letters[0].Detail)
	}
	s.checkModel(modelState(model))
	if t.Failed() {
		t.Logf("seed %d; worker log tail:\n%s", seed, tail(s.logs.String()))
	}
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func jsonBody(c cmd) ([]byte, error) { return json.Marshal(c) }
