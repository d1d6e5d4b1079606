// Package brokertest runs an in-process NATS server with JetStream for
// tests of any package that talks to the broker. It is imported only from
// _test.go files.
package brokertest

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// readyTimeout bounds how long a server may take to accept connections.
const readyTimeout = 10 * time.Second

// StartServer starts a single-node JetStream server on a random loopback
// port with its store in a fresh temporary directory, and shuts it down
// when the test ends.
func StartServer(t testing.TB) *server.Server {
	t.Helper()
	return start(t, t.TempDir(), server.RANDOM_PORT)
}

// Restart shuts s down and starts a new server on the same port with the
// same store directory, so streams, consumers and messages survive and
// clients with reconnects enabled come back on their own.
func Restart(t testing.TB, s *server.Server) *server.Server {
	t.Helper()
	dir := s.StoreDir()
	port := s.Addr().(*net.TCPAddr).Port
	s.Shutdown()
	s.WaitForShutdown()
	return start(t, dir, port)
}

func start(t testing.TB, storeDir string, port int) *server.Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  storeDir,
		NoLog:     true,
		NoSigs:    true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("creating NATS server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		t.Fatalf("NATS server not ready after %s", readyTimeout)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Connect opens a client connection to s that reconnects without limit,
// and closes it when the test ends.
func Connect(t testing.TB, s *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond),
		nats.Name(t.Name()),
	)
	if err != nil {
		t.Fatalf("connecting to NATS: %v", err)
	}
	t.Cleanup(nc.Close)

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("creating JetStream context: %v", err)
	}
	return nc, js
}
