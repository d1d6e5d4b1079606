//go:build docker

package e2e

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// natsImage is the server the container suite runs; keep it on the same
// minor version as the embedded server in go.mod.
const natsImage = "nats:2.15-alpine"

// natsServer runs nats-server with JetStream in a container. Without a
// Docker engine the suite fails: it never skips.
type natsServer struct {
	t   testing.TB
	c   testcontainers.Container
	url string
}

func startNATS(t testing.TB) *natsServer {
	t.Helper()
	ctx := context.Background()
	// A fixed host port: Docker maps a new random port on every start, and
	// Restart must bring the server back where the clients reconnect to.
	hostPort := freePort(t)
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        natsImage,
			Cmd:          []string{"-js", "-sd", "/data"},
			ExposedPorts: []string{hostPort + ":4222/tcp"},
			WaitingFor:   wait.ForLog("Server is ready").WithStartupTimeout(60 * time.Second),
		},
		Started: true,
	})
	if err != nil {
		t.Fatalf("starting the NATS container (needs Docker): %v", err)
	}
	n := &natsServer{t: t, c: c}
	n.resolve()
	t.Cleanup(func() { _ = c.Terminate(context.Background()) })
	return n
}

func (n *natsServer) resolve() {
	n.t.Helper()
	ctx := context.Background()
	host, err := n.c.Host(ctx)
	if err != nil {
		n.t.Fatalf("container host: %v", err)
	}
	port, err := n.c.MappedPort(ctx, "4222/tcp")
	if err != nil {
		n.t.Fatalf("container port: %v", err)
	}
	n.url = "nats://" + host + ":" + port.Port()
}

// freePort returns a host port nothing listens on right now.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// URL is the client URL.
func (n *natsServer) URL() string { return n.url }

// Restart stops and starts the container; its store survives in the
// container's file system and the host port stays the same.
func (n *natsServer) Restart() {
	n.t.Helper()
	ctx := context.Background()
	timeout := 10 * time.Second
	if err := n.c.Stop(ctx, &timeout); err != nil {
		n.t.Fatalf("stopping the NATS container: %v", err)
	}
	if err := n.c.Start(ctx); err != nil {
		n.t.Fatalf("starting the NATS container: %v", err)
	}
	n.resolve()
}
