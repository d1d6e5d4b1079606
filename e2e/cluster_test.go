//go:build !docker

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

// startCluster runs a 3-node JetStream cluster on loopback and returns
// its servers and the client URLs joined by commas.
func startCluster(t *testing.T) ([]*server.Server, string) {
	t.Helper()
	ports := make([]int, 3)
	var routes []string
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(ports[i]))
	}
	dir := t.TempDir()
	servers := make([]*server.Server, 3)
	var urls []string
	for i := range servers {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: filepath.Join(dir, strconv.Itoa(i)),
			Cluster: server.ClusterOpts{Name: "perfex", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
			NoLog:   true, NoSigs: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		servers[i] = s
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
	}
	for _, s := range servers {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("a cluster node did not start")
		}
		urls = append(urls, s.ClientURL())
	}
	return servers, strings.Join(urls, ",")
}

// newClusterStack is newStack on a 3-node cluster with R3 streams and
// buckets, and no worker.
func newClusterStack(t *testing.T) (*stack, []*server.Server, string) {
	t.Helper()
	servers, urls := startCluster(t)
	s := &stack{t: t, logs: &syncBuffer{}, outcomes: map[string][]consumer.Outcome{}}
	s.sim = perfexsim.New(perfexsim.Options{Token: token, Seed: true, PasswordCost: 4})
	url, err := s.sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	s.url = url
	t.Cleanup(s.sim.Close)
	s.nc, s.js = connect(t, urls)

	// The meta leader appears some seconds after the nodes accept clients.
	settings := broker.Settings{AckWait: 5 * time.Second, Replicas: 3}
	eventually(t, "provisioning on the cluster", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = broker.Provision(ctx, s.js, settings)
		return err == nil
	})
	return s, servers, urls
}

// TestClusterOrder runs three workers on a 3-node cluster, kills the
// command stream's leader and one worker while commands flow, and checks
// that every command settled and Perfex holds what publish order gives.
func TestClusterOrder(t *testing.T) {
	t.Parallel()
	s, servers, urls := newClusterStack(t)
	workers := []*poolWorker{
		s.startNamedWorker("w0", urls), s.startNamedWorker("w1", urls), s.startNamedWorker("w2", urls),
	}
	contacts := []int64{4, 5, 6, 7, 8, 9}

	var model []modelCommand
	const total = 90
	for n := range total {
		contact := contacts[n%len(contacts)]
		f := orderFields[n%len(orderFields)]
		g := orderFields[(n/len(contacts))%len(orderFields)]
		data := map[string]string{f.name: f.value(n), g.name: g.value(n)}
		seq := s.publishUntilStored(update(contact, toAny(data)))
		model = append(model, modelCommand{rank: seq, contact: contact, data: data})

		switch n {
		case total / 3:
			killStreamLeader(t, servers, broker.DefaultCommandsStream)
		case total / 2:
			workers[1].kill()
		}
	}

	eventually(t, "every command settled", func() bool {
		n, err := s.pendingOnCluster()
		return err == nil && n == 0
	})
	if letters := s.letters(); len(letters) != 0 {
		t.Errorf("%d dead letters; the first: %s %s", len(letters), letters[0].Reason, letters[0].Detail)
	}
	s.checkModel(modelState(model))
	if t.Failed() {
		t.Logf("worker log tail:\n%s", tail(s.logs.String()))
	}
}

func killStreamLeader(t *testing.T, servers []*server.Server, stream string) {
	t.Helper()
	for _, srv := range servers {
		if srv.Running() && srv.JetStreamIsStreamLeader("$G", stream) {
			srv.Shutdown()
			srv.WaitForShutdown()
			return
		}
	}
	t.Fatalf("no leader found for stream %s", stream)
}

// publishUntilStored publishes c, trying again under the same Msg-Id while
// the cluster elects a new leader.
func (s *stack) publishUntilStored(c cmd) uint64 {
	s.t.Helper()
	var seq uint64
	eventually(s.t, "publishing "+c.id(), func() bool {
		body, _ := jsonBody(c)
		msg := nats.NewMsg("perfex.cmd.contact.update." + strconv.FormatInt(c["contact_id"].(int64), 10))
		msg.Data = body
		msg.Header.Set(jetstream.MsgIDHeader, c.id())
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ack, err := s.js.PublishMsg(ctx, msg)
		if err != nil {
			return false
		}
		seq = ack.Sequence
		return true
	})
	return seq
}

// pendingOnCluster is pending that tolerates a cluster between leaders.
func (s *stack) pendingOnCluster() (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, broker.DefaultCommandsStream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	if info.State.Msgs > 0 {
		return info.State.Msgs, errors.New("commands left")
	}
	return 0, nil
}
