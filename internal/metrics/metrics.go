// Package metrics is perfex-worker's Prometheus instrumentation: what
// happened to commands, how Perfex answered, the state of the worker's
// gate, and the backlog and dead letters on the broker.
//
// Every label takes its values from a closed set (outcome kinds, reason
// codes, HTTP status codes, a few states); contact and command ids never
// become labels.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/perfexworker/perfex-worker/internal/consumer"
	"github.com/perfexworker/perfex-worker/internal/crm"
	"github.com/perfexworker/perfex-worker/internal/reason"
)

// Namespace prefixes every metric the worker exports.
const Namespace = "perfex_worker"

// Circuit states, the values of perfex_worker_circuit_state's state label.
const (
	StateClosed = "closed" // Perfex answers; commands flow
	StateOutage = "outage" // Perfex does not answer; commands wait
	StateHeld   = "held"   // Perfex refuses the worker; it takes no work
)

// applyBuckets cover one update: a GET of the contact, perhaps the
// permissions table, and a PUT, each bounded by --perfex-timeout.
var applyBuckets = []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Metrics holds the worker's collectors in a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	commands      *prometheus.CounterVec
	retries       *prometheus.CounterVec
	applyDuration *prometheus.HistogramVec
	requests      *prometheus.CounterVec

	circuit       *prometheus.GaugeVec
	bound         prometheus.Gauge
	inFlight      prometheus.Gauge
	rateRemaining prometheus.Gauge
	rateLimit     prometheus.Gauge
	rateOnce      sync.Once

	pending     prometheus.Gauge
	ackPending  prometheus.Gauge
	deadLetters prometheus.Gauge
	dlqBytes    prometheus.Gauge
	dlqOldest   prometheus.Gauge
	dlqFill     prometheus.Gauge
	pollErrors  *prometheus.CounterVec

	// coalesced and saved mirror the consumer's running totals.
	coalesced atomic.Uint64
	saved     atomic.Uint64
}

// New registers the worker's metrics, the Go runtime's and the process's,
// and perfex_worker_build_info for version.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := factory{reg: m.reg}

	m.commands = f.counterVec("commands_total",
		"Outcomes of command deliveries, by outcome and reason.", "outcome", "reason")
	m.retries = f.counterVec("retries_total",
		"Deliveries handed back to the server for a later attempt, by reason.", "reason")
	m.applyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "apply_duration_seconds",
		Help:    "Time to apply one command to Perfex (every request it needs), by result.",
		Buckets: applyBuckets,
	}, []string{"result"})
	m.reg.MustRegister(m.applyDuration)
	m.requests = f.counterVec("perfex_requests_total",
		"HTTP requests to Perfex, by method and status code (\"error\" when no reply came).", "method", "code")

	m.circuit = f.gaugeVec("circuit_state",
		"1 for the worker's current state towards Perfex: closed, outage or held.", "state")
	m.bound = f.gauge("consumer_bound", "1 when the worker is bound to its durable consumer.")
	m.inFlight = f.gauge("in_flight", "Commands this process holds (being applied or waiting their turn).")
	// The rate-limit gauges are registered when Perfex first reports a
	// limit: a 0 before that would read as "no requests left".
	m.rateRemaining = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace,
		Name: "perfex_rate_limit_remaining",
		Help: "Requests left in Perfex's rate-limit window, as last reported (absent until reported)."})
	m.rateLimit = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace,
		Name: "perfex_rate_limit_limit",
		Help: "Requests allowed in Perfex's rate-limit window, as last reported (absent until reported)."})

	m.pending = f.gauge("consumer_pending",
		"Commands in the stream not yet delivered to any worker (the durable's lag).")
	m.ackPending = f.gauge("consumer_ack_pending",
		"Commands delivered to a worker and not yet acknowledged.")
	m.deadLetters = f.gauge("dlq_messages", "Dead letters stored in the dead-letter stream.")
	m.dlqBytes = f.gauge("dlq_bytes", "Bytes stored in the dead-letter stream.")
	m.dlqOldest = f.gauge("dlq_oldest_age_seconds", "Age of the oldest dead letter, 0 when there is none.")
	m.dlqFill = f.gauge("dlq_fill_ratio",
		"How close the dead-letter stream is to dropping letters: the largest of oldest age/MaxAge, "+
			"bytes/MaxBytes and messages/MaxMsgs (1 means letters are being dropped).")
	m.pollErrors = f.counterVec("broker_poll_errors_total",
		"Failed reads of stream or consumer information, by object.", "object")

	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace,
			Name: "coalesced_commands_total",
			Help: "Commands applied as part of a merged update for their contact."},
			func() float64 { return float64(m.coalesced.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace,
			Name: "requests_saved_total",
			Help: "Perfex requests that merging queued commands for one contact saved."},
			func() float64 { return float64(m.saved.Load()) }),
	)

	build := f.gaugeVec("build_info", "Always 1; the labels name the build.", "version", "go_version")
	build.WithLabelValues(version, runtime.Version()).Set(1)

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.setCircuit(StateClosed)
	return m
}

// Registry is the registry holding every metric, for tests and handlers.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Observe counts one outcome; it is a consumer.Observer.
func (m *Metrics) Observe(o consumer.Outcome) {
	kind := outcomeLabel(o.Kind)
	code := reasonLabel(o.Reason)
	m.commands.WithLabelValues(kind, code).Inc()
	if o.Kind == consumer.Retried {
		m.retries.WithLabelValues(code).Inc()
	}
}

// SetStatus records the consumer's state.
func (m *Metrics) SetStatus(s consumer.Status) {
	switch {
	case s.Held:
		m.setCircuit(StateHeld)
	case s.Outage:
		m.setCircuit(StateOutage)
	default:
		m.setCircuit(StateClosed)
	}
	m.bound.Set(boolValue(s.Bound))
	m.inFlight.Set(float64(s.InHand))
	m.coalesced.Store(s.Coalesced)
	m.saved.Store(s.RequestsSaved)
}

// SetRateLimit records Perfex's last reported rate limit; an unknown one
// changes nothing.
func (m *Metrics) SetRateLimit(rl crm.RateLimit) {
	if !rl.Known {
		return
	}
	m.rateOnce.Do(func() { m.reg.MustRegister(m.rateRemaining, m.rateLimit) })
	m.rateRemaining.Set(float64(rl.Remaining))
	m.rateLimit.Set(float64(rl.Limit))
}

func (m *Metrics) setCircuit(state string) {
	for _, s := range []string{StateClosed, StateOutage, StateHeld} {
		m.circuit.WithLabelValues(s).Set(boolValue(s == state))
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// outcomeLabel keeps the outcome label to the known kinds.
func outcomeLabel(kind string) string {
	switch kind {
	case consumer.Applied, consumer.Superseded, consumer.DeadLettered, consumer.Retried, consumer.Held:
		return kind
	}
	return "other"
}

// reasonLabel keeps the reason label to the catalogue; "none" when there
// is no reason (applied, or handed back at shutdown).
func reasonLabel(c reason.Code) string {
	switch {
	case c == "":
		return "none"
	case c.Known():
		return string(c)
	}
	return "other"
}

// codeLabel is an HTTP status code as a label: three digits, or "other".
func codeLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}

// methodLabel keeps the method label to the methods the client uses.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodHead:
		return method
	}
	return "other"
}

// factory creates collectors in the namespace and registers them.
type factory struct{ reg *prometheus.Registry }

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}
