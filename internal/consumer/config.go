package consumer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/perfexworker/perfex-worker/internal/broker"
	"github.com/perfexworker/perfex-worker/internal/lease"
)

// Defaults for Config.
const (
	DefaultConcurrency     = 8
	DefaultMaxDeliver      = 5
	DefaultAckWait         = broker.DefaultAckWait
	DefaultRetryInitial    = time.Second
	DefaultRetryMax        = time.Minute
	DefaultRetryMultiplier = 2.0
	DefaultLocalRetries    = 2
	DefaultOutageWindow    = time.Minute
	DefaultProbeInterval   = 15 * time.Second
	DefaultDrainTimeout    = 30 * time.Second
	DefaultLeaseTTL        = lease.DefaultTTL
	// DefaultStallTimeout is two of the client's default 30s pull
	// expiries: by then a healthy iterator has asked the server again at
	// least once, so continued silence with work pending is a stall.
	DefaultStallTimeout = time.Minute
)

// heldPerUpdate is how many commands a process holds for each update it
// may run at once (Config.Concurrency).
const heldPerUpdate = 2

// Config tunes a Consumer. A zero field means its default.
type Config struct {
	// Names locates the command stream, the durable and the prefix.
	Names broker.Names
	// Concurrency bounds the Perfex updates this process runs at once
	// (each one request at a time). It holds up to heldPerUpdate times as
	// many commands, so that the broker round trips around an update
	// (lease, clock, ack) overlap other updates instead of leaving a slot
	// idle. The client buffer is Concurrency messages.
	Concurrency int
	// MaxDeliver is the worker's attempt limit: a command that still fails
	// transiently on this delivery (counted by the server) is dead-lettered
	// as max_deliveries, but only while Perfex is otherwise answering.
	MaxDeliver int
	// AckWait must equal the durable's AckWait; in-hand messages are kept
	// alive every AckWait/3. When the durable says otherwise the shorter
	// of the two is used and a warning logged.
	AckWait time.Duration
	// RetryInitial, RetryMax and RetryMultiplier shape the exponential
	// backoff (with jitter) between attempts.
	RetryInitial    time.Duration
	RetryMax        time.Duration
	RetryMultiplier float64
	// LocalRetries is how many times a transient failure is retried in
	// process before the message goes back to the server with a delay.
	// Negative means none.
	LocalRetries int
	// OutageWindow is how recent another answer from Perfex must be for a
	// transient failure to count as an attempt (see gate.go).
	OutageWindow time.Duration
	// ProbeInterval is how often Perfex is probed while the worker is held.
	ProbeInterval time.Duration
	// DrainTimeout bounds how long shutdown waits for in-flight updates.
	DrainTimeout time.Duration
	// WorkerID names this process in dead letters and contact leases;
	// default host-pid.
	WorkerID string
	// LeaseTTL is how long a contact's lease outlives a process that died
	// holding it; at least 1s. The default is half of AckWait, at most
	// DefaultLeaseTTL: commands waiting for a dead process's lease keep
	// their slots, and the messages buffered behind them must not reach
	// AckWait meanwhile.
	LeaseTTL time.Duration
	// StallTimeout is how long the pull iterator may deliver nothing
	// while the durable has undelivered messages, this process has room
	// for more and the gate allows pulling, before the worker gives up on
	// the iterator and binds again (a watchdog for nats.go#2063: pulls
	// that stall after a consumer-leader change while heartbeats go on).
	// At least 100ms.
	StallTimeout time.Duration

	// Provision, when set, is called when the durable (or its stream) is
	// missing while binding, before trying again.
	Provision func(ctx context.Context) error
	// Observer, when set, is told every outcome (see Outcome).
	Observer Observer
	// OnReady, when set, is called each time the consumer is bound.
	OnReady func()
}

func (c Config) withDefaults() Config {
	c.Names = c.Names.WithDefaults()
	setDefault(&c.Concurrency, DefaultConcurrency)
	setDefault(&c.MaxDeliver, DefaultMaxDeliver)
	setDefault(&c.AckWait, DefaultAckWait)
	setDefault(&c.RetryInitial, DefaultRetryInitial)
	setDefault(&c.RetryMax, DefaultRetryMax)
	setDefault(&c.RetryMultiplier, DefaultRetryMultiplier)
	setDefault(&c.OutageWindow, DefaultOutageWindow)
	setDefault(&c.ProbeInterval, DefaultProbeInterval)
	setDefault(&c.DrainTimeout, DefaultDrainTimeout)
	setDefault(&c.LeaseTTL, min(DefaultLeaseTTL, max(time.Second, c.AckWait/2)))
	setDefault(&c.StallTimeout, DefaultStallTimeout)
	switch {
	case c.LocalRetries == 0:
		c.LocalRetries = DefaultLocalRetries
	case c.LocalRetries < 0:
		c.LocalRetries = 0
	}
	if c.WorkerID == "" {
		c.WorkerID = defaultWorkerID()
	}
	return c
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

func defaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// Validate checks c after defaults are applied, naming the field and the
// unit of anything out of range.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if err := c.Names.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Concurrency < 1 {
		bad("invalid Concurrency: %d commands is below 1", c.Concurrency)
	}
	if c.MaxDeliver < 1 {
		bad("invalid MaxDeliver: %d deliveries is below 1", c.MaxDeliver)
	}
	if c.AckWait < 300*time.Millisecond {
		bad("invalid AckWait: %s is below 300ms", c.AckWait)
	}
	if c.RetryInitial < time.Millisecond {
		bad("invalid RetryInitial: %s is below 1ms", c.RetryInitial)
	}
	if c.RetryMax < c.RetryInitial {
		bad("invalid RetryMax: %s is below RetryInitial (%s)", c.RetryMax, c.RetryInitial)
	}
	if c.RetryMultiplier < 1 {
		bad("invalid RetryMultiplier: %g is below 1", c.RetryMultiplier)
	}
	if c.LeaseTTL < time.Second {
		bad("invalid LeaseTTL: %s is below 1s", c.LeaseTTL)
	}
	if c.StallTimeout < 100*time.Millisecond {
		bad("invalid StallTimeout: %s is below 100ms", c.StallTimeout)
	}
	if c.OutageWindow < 0 || c.ProbeInterval < 0 || c.DrainTimeout < 0 {
		bad("invalid OutageWindow, ProbeInterval or DrainTimeout: durations must not be negative")
	}
	return errors.Join(errs...)
}
