package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/dlq"
	"github.com/perfexworker/perfex-worker/internal/metrics"
)

// perfexFlags say where Perfex is and how to authenticate.
type perfexFlags struct {
	PerfexURL         string        `name:"perfex-url" env:"PERFEX_API_URL" help:"Perfex API base URL, such as https://crm.example.com/api."`
	PerfexToken       string        `name:"perfex-token" env:"PERFEX_API_TOKEN" help:"Perfex API token (prefer --perfex-token-file: flags show up in process listings)."`
	PerfexTokenFile   string        `name:"perfex-token-file" env:"PERFEX_API_TOKEN_FILE" type:"path" help:"File holding the Perfex API token."`
	PerfexTimeout     time.Duration `name:"perfex-timeout" env:"PERFEX_TIMEOUT" default:"10s" help:"Timeout of one request to Perfex, with a unit (10s)."`
	PermissionsSource string        `name:"permissions-source" env:"PERFEX_PERMISSIONS_SOURCE" default:"customtable" enum:"customtable,command" help:"Where the current portal permissions are read from before an update: customtable (the allow-listed contact_permissions table) or command (only what the command carries)."`
	PerfexCA          string        `name:"perfex-ca" env:"PERFEX_CA" type:"existingfile" help:"CA certificate (PEM) that signs Perfex's certificate, for a private CA."`
	AllowInsecureHTTP bool          `name:"allow-insecure-http" env:"PERFEX_ALLOW_INSECURE_HTTP" help:"Allow plain http:// to a Perfex that is not on loopback (the token then travels in clear)."`
	rateLimitFlags
}

// workerFlags tune the consumer.
type workerFlags struct {
	Concurrency   int           `name:"concurrency" env:"PERFEX_WORKER_CONCURRENCY" default:"8" help:"Commands applied at the same time by this process (requests in flight to Perfex); it holds up to twice as many."`
	MaxDeliveries int           `name:"max-deliveries" env:"PERFEX_WORKER_MAX_DELIVERIES" default:"5" help:"Attempts before a command that keeps failing transiently (while Perfex otherwise works) is dead-lettered as max_deliveries."`
	AckWait       time.Duration `name:"ack-wait" env:"PERFEX_WORKER_ACK_WAIT" default:"30s" help:"How long JetStream waits for an acknowledgement before redelivering, with a unit."`
	RetryInitial  time.Duration `name:"retry-initial" env:"PERFEX_WORKER_RETRY_INITIAL" default:"1s" help:"First retry delay after a transient failure, with a unit."`
	RetryMax      time.Duration `name:"retry-max" env:"PERFEX_WORKER_RETRY_MAX" default:"1m" help:"Longest retry delay, with a unit."`
	DrainTimeout  time.Duration `name:"drain-timeout" env:"PERFEX_WORKER_DRAIN_TIMEOUT" default:"30s" help:"On SIGINT/SIGTERM, how long in-flight commands may take before they are handed back, with a unit."`
	DLQMaxAge     time.Duration `name:"dlq-max-age" env:"PERFEX_DLQ_MAX_AGE" default:"720h" help:"How long dead letters are kept, with a unit (720h = 30 days)."`
	Replicas      int           `name:"replicas" env:"PERFEX_STREAM_REPLICAS" default:"1" help:"Replicas of the streams when this process creates them (3 on a cluster)."`
	WorkerID      string        `name:"worker-id" env:"PERFEX_WORKER_ID" help:"Name of this worker in dead letters and logs (default: host name and process id)."`
}

type runCmd struct {
	natsFlags
	perfexFlags
	workerFlags
	telemetryFlags
	logFlags

	PrintConfig bool `name:"print-config" help:"Print the effective configuration, secrets masked, and exit."`
}

func (f *perfexFlags) validate() error {
	if f.PerfexURL == "" {
		return usagef("the Perfex API URL is required: set PERFEX_API_URL or --perfex-url (such as https://crm.example.com/api)")
	}
	u, err := url.Parse(f.PerfexURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return usagef("--perfex-url %q: want an http or https URL such as https://crm.example.com/api", f.PerfexURL)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) && !f.AllowInsecureHTTP {
		return usagef("--perfex-url %q is plain http to another host: the token would travel in clear; use https or --allow-insecure-http", f.PerfexURL)
	}
	if u.User != nil || u.RawQuery != "" {
		return usagef("--perfex-url must not carry credentials or a query: the token goes in the authtoken header")
	}
	if f.PerfexTimeout <= 0 {
		return usagef("--perfex-timeout must be positive, such as 10s")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (f *workerFlags) validate() error {
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"--ack-wait", f.AckWait}, {"--retry-initial", f.RetryInitial},
		{"--retry-max", f.RetryMax}, {"--drain-timeout", f.DrainTimeout},
		{"--dlq-max-age", f.DLQMaxAge},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return usagef("%s must be a positive duration with a unit, such as 30s", p.name)
		}
	}
	switch {
	case f.Concurrency < 1 || f.Concurrency > 1024:
		return usagef("--concurrency must be between 1 and 1024, got %d", f.Concurrency)
	case f.MaxDeliveries < 1:
		return usagef("--max-deliveries must be at least 1, got %d", f.MaxDeliveries)
	case f.RetryMax < f.RetryInitial:
		return usagef("--retry-max (%s) must not be shorter than --retry-initial (%s)", f.RetryMax, f.RetryInitial)
	case f.AckWait < time.Second:
		return usagef("--ack-wait must be at least 1s, got %s", f.AckWait)
	case f.Replicas < 1 || f.Replicas > 5:
		return usagef("--replicas must be between 1 and 5, got %d", f.Replicas)
	}
	return nil
}

func (f *workerFlags) workerID() string {
	if f.WorkerID != "" {
		return f.WorkerID
	}
	host, err := os.Hostname()
	if err != nil {
		host = "worker"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

func (c *runCmd) Run(e *env) error {
	if c.PrintConfig {
		return c.printConfig(e.stdout)
	}
	if err := c.validate(); err != nil {
		return err
	}
	token, err := readToken(c.PerfexToken, c.PerfexTokenFile)
	if err != nil {
		return err
	}
	log, err := c.logger(e.stderr, token)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	return runWorker(e.ctx, log, workerSetup{
		nats:      c.natsFlags,
		perfex:    c.perfexFlags,
		worker:    c.workerFlags,
		telemetry: c.telemetryFlags,
		token:     token,
		observer:  nil,
	})
}

func (c *runCmd) validate() error {
	for _, v := range []func() error{c.natsFlags.validate, c.perfexFlags.validate, c.workerFlags.validate, c.telemetryFlags.validate} {
		if err := v(); err != nil {
			return err
		}
	}
	return nil
}

// workerSetup is everything runWorker needs, shared by run and dev.
type workerSetup struct {
	nats   natsFlags
	perfex perfexFlags
	worker workerFlags
	// telemetry with an empty MetricsAddr serves no metrics or health.
	telemetry telemetryFlags
	token     string
	observer  consumer.Observer
	// ready, when set, is called once the consumer is bound.
	ready func()
}

// runWorker connects, provisions, and applies commands until ctx ends.
func runWorker(ctx context.Context, log *zap.Logger, s workerSetup) error {
	id := s.worker.workerID()
	log.Info("starting perfex-worker", zap.String("version", version()),
		zap.String("nats_url", redactURL(s.nats.NATSURL)), zap.String("perfex_url", s.perfex.PerfexURL))

	roots, err := loadCA(s.perfex.PerfexCA)
	if err != nil {
		return err
	}
	var tel *telemetry
	if s.telemetry.MetricsAddr != "" {
		tel = newTelemetry()
		stop, err := tel.serve(log, s.telemetry.MetricsAddr)
		if err != nil {
			return logFatal(log, "cannot serve metrics and health", err)
		}
		defer stop()
	}

	crmConfig := crm.Config{
		BaseURL:           s.perfex.PerfexURL,
		Token:             s.token,
		Timeout:           s.perfex.PerfexTimeout,
		Version:           version(),
		PermissionsSource: s.perfex.PermissionsSource,
		RootCAs:           roots,
	}
	s.perfex.rateLimitFlags.apply(&crmConfig)
	if tel != nil {
		crmConfig.RootCAs = nil
		crmConfig.HTTPClient = &http.Client{Transport: tel.metrics.Transport(crm.NewTransport(roots))}
	}
	client, err := crm.New(crmConfig)
	if err != nil {
		return usageError{fmt.Errorf("configuring the Perfex client: %w", err)}
	}

	// The worker waits for NATS at start-up (a deploy may start it first);
	// the operator tools (publish, dlq) fail at once instead.
	nc, err := s.nats.connect("perfex-worker "+id, func(err error) {
		log.Warn("NATS asynchronous error", zap.Error(err))
	}, nats.RetryOnFailedConnect(true))
	if err != nil {
		return logFatal(log, "cannot connect to NATS", err)
	}
	defer nc.Close()
	if tel != nil {
		tel.nc.Store(nc)
	}

	js, err := jetstream.New(nc)
	if err != nil {
		return logFatal(log, "cannot use JetStream", err)
	}

	settings := broker.Settings{
		Names:     broker.Names{Prefix: s.nats.Prefix},
		AckWait:   s.worker.AckWait,
		DLQMaxAge: s.worker.DLQMaxAge,
		Replicas:  s.worker.Replicas,
	}
	provision := func(ctx context.Context) error { return broker.Provision(ctx, js, settings) }
	if err := provisionWhenReachable(ctx, log, provision); err != nil {
		var mismatch *broker.ConfigMismatchError
		switch {
		case errors.As(err, &mismatch):
			return logFatal(log, "existing stream or consumer differs from this worker's configuration; fix it with the nats CLI or align the flags", err)
		case ctx.Err() != nil:
			log.Info("stopped before NATS JetStream could be reached")
			return nil
		}
		return logFatal(log, "cannot provision streams and consumer", err)
	}

	writer := dlq.NewWriter(js, settings.Names, dlq.WithSecrets(s.token))
	var applier consumer.Applier = client
	observer := s.observer
	if tel != nil {
		applier = tel.metrics.Applier(client)
		observer = chainObservers(s.observer, tel.metrics.Observe)
	}
	cons, err := consumer.New(js, applier, writer, log, consumer.Config{
		Names:        settings.Names,
		Concurrency:  s.worker.Concurrency,
		MaxDeliver:   s.worker.MaxDeliveries,
		AckWait:      s.worker.AckWait,
		RetryInitial: s.worker.RetryInitial,
		RetryMax:     s.worker.RetryMax,
		DrainTimeout: s.worker.DrainTimeout,
		WorkerID:     id,
		Provision:    provision,
		Observer:     observer,
		OnReady:      s.ready,
	})
	if err != nil {
		return usageError{fmt.Errorf("configuring the consumer: %w", err)}
	}

	stopPolling := func() {}
	if tel != nil {
		tel.cons.Store(cons)
		pollCtx, stopPoll := context.WithCancel(ctx)
		polled := make(chan struct{})
		go func() {
			defer close(polled)
			tel.metrics.Poll(pollCtx, metrics.Sources{
				JS: js, Names: settings.Names, Status: tel.status, RateLimit: client.LastRateLimit,
			}, s.telemetry.StatsInterval)
		}()
		stopPolling = func() { stopPoll(); <-polled }
	}

	err = cons.Run(ctx)
	stopPolling()
	if err != nil && !errors.Is(err, context.Canceled) {
		return logFatal(log, "worker stopped", err)
	}

	drainCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := drainConn(drainCtx, nc); err != nil {
		log.Warn("draining the NATS connection", zap.Error(err))
	}
	log.Info("perfex-worker stopped")
	return nil
}

// chainObservers calls each non-nil observer in turn.
func chainObservers(observers ...consumer.Observer) consumer.Observer {
	return func(o consumer.Outcome) {
		for _, observe := range observers {
			if observe != nil {
				observe(o)
			}
		}
	}
}

// drainConn drains the connection so that pending acknowledgements are
// flushed, and waits until it is closed or ctx ends.
func drainConn(ctx context.Context, nc *nats.Conn) error {
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		return err
	}
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loadCA reads a PEM CA bundle; an empty path means the system's roots.
func loadCA(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--perfex-ca: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usagef("--perfex-ca %s holds no PEM certificate", path)
	}
	return pool, nil
}

// provisionRetryMax caps the wait between provisioning attempts while
// NATS or JetStream cannot be reached.
const provisionRetryMax = 15 * time.Second

// provisionWhenReachable provisions, waiting with backoff while NATS or
// JetStream does not answer. A configuration mismatch, or any error other
// than an unreachable server, ends it at once. Waiting is logged once.
func provisionWhenReachable(ctx context.Context, log *zap.Logger, provision func(context.Context) error) error {
	wait := time.Second
	waiting := false
	for {
		attempt, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := provision(attempt)
		cancel()
		if err == nil {
			if waiting {
				log.Info("NATS JetStream reachable; streams and consumer provisioned")
			}
			return nil
		}
		if !unreachable(err) || ctx.Err() != nil {
			return err
		}
		if !waiting {
			log.Warn("waiting for NATS JetStream", zap.Error(err))
			waiting = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, provisionRetryMax)
	}
}

// unreachable reports whether err means the server did not answer, as
// opposed to answering with a refusal.
func unreachable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) ||
		errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrConnectionReconnecting)
}
