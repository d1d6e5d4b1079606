//go:build chaos

package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/clock"
	"github.com/perfexworker/perfex-worker/internal/dlq"
)

// publisher publishes with retries: the dedupe window makes a re-send
// after a lost acknowledgement harmless, and its PubAck still names the
// sequence the first copy was stored at.
type publisher struct {
	t  *testing.T
	js jetstream.JetStream

	// resent counts publishes sent again after an error; duplicates the
	// PubAcks saying the stream already held the command.
	resent, duplicates int
}

// publish returns the stream sequence the command was stored at.
func (p *publisher) publish(contact int64, body []byte, id string) uint64 {
	msg := nats.NewMsg("perfex.cmd.contact.update." + strconv.FormatInt(contact, 10))
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, id)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ack, err := p.js.PublishMsg(ctx, msg)
		cancel()
		if err == nil {
			if ack.Duplicate {
				p.duplicates++
			}
			return ack.Sequence
		}
		p.resent++
		if time.Now().After(deadline) {
			p.t.Fatalf("publishing %s: %v", id, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// backlog is what the command stream holds: every command, and the most
// for one contact (subject). ok is false when the server did not answer,
// for example while it restarts.
func backlog(js jetstream.JetStream) (msgs, perContact uint64, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, broker.DefaultCommandsStream)
	if err != nil {
		return 0, 0, false
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(broker.DefaultNames().CommandSubjects()))
	if err != nil {
		return 0, 0, false
	}
	for _, n := range info.State.Subjects {
		perContact = max(perContact, n)
	}
	return info.State.Msgs, perContact, true
}

// waitEmpty waits until the command stream holds nothing.
func waitEmpty(t *testing.T, js jetstream.JetStream, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := js.Stream(ctx, broker.DefaultCommandsStream)
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
	st, err := js.Stream(ctx, broker.DefaultDLQStream)
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

// checkClock compares each contact's clock (PERFEX_CONTACT_CLOCK) with the
// model: every field a command set is stamped with the sequence of the
// last command that sets it, and no other field is stamped. It returns how
// many contacts differ.
func checkClock(t *testing.T, js jetstream.JetStream, m model, contacts []int64) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := clock.Open(ctx, js, broker.DefaultClockBucket)
	if err != nil {
		t.Fatal(err)
	}

	differing := 0
	for _, id := range contacts {
		rec, err := store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]uint64{}
		for f, s := range rec.Fields {
			got[f] = s.Seq
		}
		if !maps.Equal(got, m.writer[id]) {
			differing++
			if differing <= 20 {
				t.Errorf("clock of contact %d stamps %v, want %v", id, got, m.writer[id])
			}
		}
	}
	return differing
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
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
	n.port = n.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { n.srv.Shutdown(); n.srv.WaitForShutdown() })
	return n
}

func (n *natsServer) start() error {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: n.port, JetStream: true,
		StoreDir: n.dir, NoLog: true, NoSigs: true})
	if err != nil {
		return fmt.Errorf("configuring nats-server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		return errors.New("nats-server did not start within 10s")
	}
	n.srv, n.url = s, s.ClientURL()
	return nil
}

// restart may run beside the test's goroutine; the caller must wait for
// it before touching n again.
func (n *natsServer) restart() error {
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	return n.start()
}
