package broker

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/command"
)

// DuplicatesWindow is how long the command stream remembers a Nats-Msg-Id:
// it covers publishers' retries of a command.
const DuplicatesWindow = 10 * time.Minute

// DLQDuplicatesWindow is how long the dead-letter stream remembers a
// Nats-Msg-Id. A worker that dies between storing a dead letter and acking
// the command leaves the command to be redelivered after AckWait, and the
// same dead letter stored again within this window is dropped. A day
// covers any outage of every worker short of a lost weekend, and costs
// little: dead letters are few.
const DLQDuplicatesWindow = 24 * time.Hour

// MaxMsgSize bounds a command message, body and headers: the 64 KiB body
// limit plus room for headers. A larger command is refused at publish
// time, visibly, instead of reaching a worker that could not even store it
// as a dead letter.
const MaxMsgSize = command.MaxSize + 16<<10

// Defaults for Settings.
const (
	DefaultReplicas      = 1
	DefaultDLQMaxAge     = 30 * 24 * time.Hour
	DefaultAckWait       = 30 * time.Second
	DefaultMaxAckPending = 1000
)

// Settings are the tunable parts of the broker objects. A zero field means
// its default.
type Settings struct {
	Names Names
	// Replicas is the replica count of both streams (and so of the
	// consumer).
	Replicas int
	// DLQMaxAge is how long a dead letter is kept.
	DLQMaxAge time.Duration
	// AckWait is how long the server waits for an acknowledgement before
	// redelivering. The worker's consumer.Config.AckWait must match it.
	AckWait time.Duration
	// MaxAckPending bounds the unacknowledged messages of all workers on
	// the durable together.
	MaxAckPending int
}

// WithDefaults returns s with every zero field set to its default.
func (s Settings) WithDefaults() Settings {
	s.Names = s.Names.WithDefaults()
	if s.Replicas == 0 {
		s.Replicas = DefaultReplicas
	}
	if s.DLQMaxAge == 0 {
		s.DLQMaxAge = DefaultDLQMaxAge
	}
	if s.AckWait == 0 {
		s.AckWait = DefaultAckWait
	}
	if s.MaxAckPending == 0 {
		s.MaxAckPending = DefaultMaxAckPending
	}
	return s
}

// Validate checks s after defaults are applied, naming the field and the
// unit of anything out of range.
func (s Settings) Validate() error {
	s = s.WithDefaults()
	var errs []error
	if err := s.Names.Validate(); err != nil {
		errs = append(errs, err)
	}
	if s.Replicas < 1 || s.Replicas > 5 {
		errs = append(errs, fmt.Errorf("invalid Replicas: %d is outside 1 to 5", s.Replicas))
	}
	if s.DLQMaxAge < DLQDuplicatesWindow {
		errs = append(errs, fmt.Errorf("invalid DLQMaxAge: %s is below the %s duplicates window", s.DLQMaxAge, DLQDuplicatesWindow))
	}
	if s.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("invalid AckWait: %s is below 1s", s.AckWait))
	}
	if s.MaxAckPending < 1 {
		errs = append(errs, fmt.Errorf("invalid MaxAckPending: %d messages is below 1", s.MaxAckPending))
	}
	return errors.Join(errs...)
}

// CommandStreamConfig is the command stream: a file-backed work queue, so
// each command is stored until the worker acknowledges it and then removed.
// A full stream refuses new publishes (DiscardNew) rather than silently
// dropping unprocessed commands.
func CommandStreamConfig(s Settings) jetstream.StreamConfig {
	s = s.WithDefaults()
	return jetstream.StreamConfig{
		Name:        s.Names.Commands,
		Subjects:    []string{s.Names.CommandSubjects()},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		MaxMsgSize:  MaxMsgSize,
		Duplicates:  DuplicatesWindow,
		AllowDirect: true,
		Replicas:    s.Replicas,
	}
}

// DLQStreamConfig is the dead-letter stream: kept by age, with direct gets
// for cheap browsing, and deletable message by message (replay and purge
// remove single letters).
func DLQStreamConfig(s Settings) jetstream.StreamConfig {
	s = s.WithDefaults()
	return jetstream.StreamConfig{
		Name:        s.Names.DLQ,
		Subjects:    []string{s.Names.DLQSubjects()},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      s.DLQMaxAge,
		Duplicates:  DLQDuplicatesWindow,
		AllowDirect: true,
		DenyDelete:  false,
		Replicas:    s.Replicas,
	}
}

// ConsumerConfig is the worker's durable pull consumer on the command
// stream.
//
// MaxDeliver is -1 (unlimited) on purpose. The worker counts attempts
// itself and dead-letters a command as max_deliveries when its limit is
// reached while Perfex is otherwise answering. If the server enforced a
// limit too, it would stop delivering a command that failed during a Perfex
// outage or a worker crash loop, and on a work-queue stream that command
// would then sit in the stream forever, neither applied nor dead-lettered.
// With -1 nothing is ever stranded by the server giving up.
//
// There is no InactiveThreshold: a durable that vanished while all workers
// were down would lose its place and its delivery counts.
func ConsumerConfig(s Settings) jetstream.ConsumerConfig {
	s = s.WithDefaults()
	return jetstream.ConsumerConfig{
		Name:          s.Names.Durable,
		Durable:       s.Names.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: s.Names.CommandSubjects(),
		AckWait:       s.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: s.MaxAckPending,
	}
}

// Timings of the lease bucket.
const (
	// LeaseMarkerTTL is how long the marker left by an expired lease stays;
	// Create succeeds on a marker, so it only bounds the bucket's clutter.
	LeaseMarkerTTL = time.Minute
	// LeaseBucketMaxAge removes what released leases leave behind (a
	// delete marker per contact). A held lease is renewed far more often.
	LeaseBucketMaxAge = time.Hour
)

// ClockBucketConfig is the per-field clock: one key per contact, one
// revision kept (the worker updates it by compare-and-set), never aged
// out, because a replay weeks later must still find what is newer.
func ClockBucketConfig(s Settings) jetstream.KeyValueConfig {
	s = s.WithDefaults()
	return jetstream.KeyValueConfig{
		Bucket:      s.Names.Clock,
		Description: "perfex-worker: per contact and field, the command that last set it",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    s.Replicas,
	}
}

// LeaseBucketConfig is the per-contact lease bucket. Leases are keys with
// a per-key TTL, which needs LimitMarkerTTL at creation (adding it later
// does not make per-key TTLs expire, nats-server#6920).
func LeaseBucketConfig(s Settings) jetstream.KeyValueConfig {
	s = s.WithDefaults()
	return jetstream.KeyValueConfig{
		Bucket:         s.Names.Lease,
		Description:    "perfex-worker: per-contact leases",
		History:        1,
		TTL:            LeaseBucketMaxAge,
		Storage:        jetstream.FileStorage,
		Replicas:       s.Replicas,
		LimitMarkerTTL: LeaseMarkerTTL,
	}
}
