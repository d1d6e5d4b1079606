package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/health"
	"github.com/perfexworker/perfex-worker/internal/metrics"
)

// telemetryFlags say where metrics and health are served.
type telemetryFlags struct {
	MetricsAddr   string        `name:"metrics-addr" env:"PERFEX_WORKER_METRICS_ADDR" default:":9090" help:"Address serving /metrics, /healthz and /readyz; empty disables the server."`
	StatsInterval time.Duration `name:"stats-interval" env:"PERFEX_WORKER_STATS_INTERVAL" default:"5s" help:"How often the consumer's backlog and the dead-letter stream are read for metrics, with a unit."`
}

func (f *telemetryFlags) validate() error {
	if f.StatsInterval < 100*time.Millisecond {
		return usagef("--stats-interval must be at least 100ms, got %s", f.StatsInterval)
	}
	if f.MetricsAddr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(f.MetricsAddr); err != nil {
		return usagef("--metrics-addr %q: want host:port, such as :9090 or 127.0.0.1:9090", f.MetricsAddr)
	}
	return nil
}

// telemetry is the process's metrics and health state, shared by the
// HTTP server and runWorker.
type telemetry struct {
	metrics *metrics.Metrics
	checker health.Checker
	nc      atomic.Pointer[nats.Conn]
	cons    atomic.Pointer[consumer.Consumer]
}

func newTelemetry() *telemetry {
	t := &telemetry{metrics: metrics.New(version())}
	t.checker.Add("nats", func() error {
		nc := t.nc.Load()
		switch {
		case nc == nil:
			return errors.New("not connected yet")
		case !nc.IsConnected():
			return fmt.Errorf("not connected (%s)", nc.Status())
		}
		return nil
	})
	t.checker.Add("consumer", func() error {
		c := t.cons.Load()
		if c == nil {
			return errors.New("not started yet")
		}
		return c.Unready()
	})
	return t
}

// status is the consumer's state for the metrics poller.
func (t *telemetry) status() (consumer.Status, bool) {
	c := t.cons.Load()
	if c == nil {
		return consumer.Status{}, false
	}
	return c.Status(), true
}

// serve listens on addr and serves /metrics, /healthz and /readyz until
// stop is called. Listening happens before it returns, so a taken port is
// an error at start-up, not a log line later.
func (t *telemetry) serve(log *zap.Logger, addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics and health on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", t.metrics.Handler())
	t.checker.Register(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: zap.NewStdLog(log)}

	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics and health server stopped", zap.Error(err))
		}
	}()
	log.Info("serving metrics and health", zap.String("addr", ln.Addr().String()))

	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
