//go:build !docker

package e2e

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// natsServer is a JetStream server the scenarios run against. The default
// build starts it in process; `-tags docker` starts a container instead
// (nats_docker_test.go) and runs the very same scenarios.
type natsServer struct {
	t   testing.TB
	dir string
	url string
	srv *server.Server
}

func startNATS(t testing.TB) *natsServer {
	t.Helper()
	n := &natsServer{t: t, dir: t.TempDir()}
	n.start(-1)
	t.Cleanup(n.stop)
	return n
}

func (n *natsServer) start(port int) {
	n.t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: n.dir,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		n.t.Fatalf("configuring nats-server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		n.t.Fatal("nats-server did not start")
	}
	n.srv = s
	n.url = s.ClientURL()
}

// URL is the client URL.
func (n *natsServer) URL() string { return n.url }

// Restart stops the server and starts it again on the same port with the
// same store, as an operator's restart would.
func (n *natsServer) Restart() {
	n.t.Helper()
	port := n.srv.Addr().(*net.TCPAddr).Port
	n.stop()
	n.start(port)
}

func (n *natsServer) stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}
