package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// FieldDiff is one configuration field whose existing value differs from
// the wanted one.
type FieldDiff struct {
	Field    string
	Existing string
	Wanted   string
}

// ConfigMismatchError reports a stream or consumer that exists with a
// configuration other than the one perfex-worker needs. Provision never
// changes an existing object; an operator decides whether to update it,
// recreate it or change the worker's settings.
type ConfigMismatchError struct {
	// Kind is "stream", "consumer" or "KV bucket".
	Kind string
	// Name is the stream's name, or "<stream>/<durable>" for the consumer.
	Name  string
	Diffs []FieldDiff
}

func (e *ConfigMismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q exists with a different configuration:", e.Kind, e.Name)
	for i, d := range e.Diffs {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s is %s, want %s", d.Field, d.Existing, d.Wanted)
	}
	return b.String()
}

// Provision makes sure the command stream, the dead-letter stream, the
// worker's durable consumer and the clock and lease KV buckets exist with
// the configurations of this package.
// It creates what is missing and leaves matching objects alone, so running
// it again is a no-op. An object that exists with a difference in a field
// that matters is not touched: Provision returns a *ConfigMismatchError
// (joined with any others) naming every differing field.
func Provision(ctx context.Context, js jetstream.JetStream, s Settings) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	s = s.WithDefaults()

	var errs []error
	cmdErr := ensureStream(ctx, js, CommandStreamConfig(s), commandStreamDiffs)
	if cmdErr != nil {
		errs = append(errs, cmdErr)
	}
	if err := ensureStream(ctx, js, DLQStreamConfig(s), dlqStreamDiffs); err != nil {
		errs = append(errs, err)
	}
	for _, kv := range []jetstream.KeyValueConfig{ClockBucketConfig(s), LeaseBucketConfig(s)} {
		if err := ensureBucket(ctx, js, kv); err != nil {
			errs = append(errs, err)
		}
	}

	var mismatch *ConfigMismatchError
	if cmdErr == nil || errors.As(cmdErr, &mismatch) {
		if err := ensureConsumer(ctx, js, s.Names.Commands, ConsumerConfig(s)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type diffFunc func(have, want jetstream.StreamConfig) []FieldDiff

func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, diff diffFunc) error {
	stream, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, want)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("creating stream %q: %w", want.Name, err)
		}
		// Another provisioner won the race: check what it created.
		stream, err = js.Stream(ctx, want.Name)
	}
	if err != nil {
		return fmt.Errorf("looking up stream %q: %w", want.Name, err)
	}

	have := stream.CachedInfo().Config
	if diffs := diff(have, want); len(diffs) > 0 {
		return &ConfigMismatchError{Kind: "stream", Name: want.Name, Diffs: diffs}
	}
	return nil
}

// ensureBucket creates a missing KV bucket and compares an existing one's
// backing stream (KV_<bucket>) with the wanted configuration.
func ensureBucket(ctx context.Context, js jetstream.JetStream, want jetstream.KeyValueConfig) error {
	_, err := js.KeyValue(ctx, want.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		_, err = js.CreateKeyValue(ctx, want)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrBucketExists) {
			return fmt.Errorf("creating KV bucket %q: %w", want.Bucket, err)
		}
	}
	if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
		return fmt.Errorf("looking up KV bucket %q: %w", want.Bucket, err)
	}

	stream, err := js.Stream(ctx, "KV_"+want.Bucket)
	if err != nil {
		return fmt.Errorf("looking up KV bucket %q: %w", want.Bucket, err)
	}
	have := stream.CachedInfo().Config
	var d differ
	d.add("History", fmt.Sprint(have.MaxMsgsPerSubject), fmt.Sprint(max(int64(want.History), 1)))
	d.add("TTL", durationString(have.MaxAge), durationString(want.TTL))
	d.add("Storage", have.Storage.String(), want.Storage.String())
	d.add("Replicas", fmt.Sprint(have.Replicas), fmt.Sprint(want.Replicas))
	d.add("LimitMarkerTTL", durationString(have.SubjectDeleteMarkerTTL), durationString(want.LimitMarkerTTL))
	if len(d.diffs) > 0 {
		return &ConfigMismatchError{Kind: "KV bucket", Name: want.Bucket, Diffs: d.diffs}
	}
	return nil
}

func ensureConsumer(ctx context.Context, js jetstream.JetStream, stream string, want jetstream.ConsumerConfig) error {
	name := stream + "/" + want.Durable
	cons, err := js.Consumer(ctx, stream, want.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		_, err = js.CreateConsumer(ctx, stream, want)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrConsumerExists) {
			return fmt.Errorf("creating consumer %q: %w", name, err)
		}
		cons, err = js.Consumer(ctx, stream, want.Durable)
	}
	if err != nil {
		return fmt.Errorf("looking up consumer %q: %w", name, err)
	}

	if diffs := consumerDiffs(cons.CachedInfo().Config, want); len(diffs) > 0 {
		return &ConfigMismatchError{Kind: "consumer", Name: name, Diffs: diffs}
	}
	return nil
}

// The fields compared are those the worker's behaviour depends on. Limits
// an operator may add to the command stream (MaxAge, MaxBytes, MaxMsgs,
// MaxMsgSize) and to the dead-letter stream (MaxBytes, Discard) are left to
// the operator.

func commandStreamDiffs(have, want jetstream.StreamConfig) []FieldDiff {
	var d differ
	commonStreamDiffs(&d, have, want)
	d.add("Discard", have.Discard.String(), want.Discard.String())
	return d.diffs
}

func dlqStreamDiffs(have, want jetstream.StreamConfig) []FieldDiff {
	var d differ
	commonStreamDiffs(&d, have, want)
	d.add("MaxAge", durationString(have.MaxAge), durationString(want.MaxAge))
	d.add("DenyDelete", fmt.Sprint(have.DenyDelete), fmt.Sprint(want.DenyDelete))
	return d.diffs
}

func commonStreamDiffs(d *differ, have, want jetstream.StreamConfig) {
	d.add("Subjects", subjectsString(have.Subjects), subjectsString(want.Subjects))
	d.add("Retention", have.Retention.String(), want.Retention.String())
	d.add("Storage", have.Storage.String(), want.Storage.String())
	d.add("Duplicates", durationString(have.Duplicates), durationString(want.Duplicates))
	d.add("AllowDirect", fmt.Sprint(have.AllowDirect), fmt.Sprint(want.AllowDirect))
	d.add("Replicas", fmt.Sprint(have.Replicas), fmt.Sprint(want.Replicas))
}

func consumerDiffs(have, want jetstream.ConsumerConfig) []FieldDiff {
	var d differ
	d.add("DeliverSubject", quoted(have.DeliverSubject), quoted(want.DeliverSubject))
	d.add("AckPolicy", have.AckPolicy.String(), want.AckPolicy.String())
	d.add("DeliverPolicy", have.DeliverPolicy.String(), want.DeliverPolicy.String())
	d.add("FilterSubject", quoted(filterOf(have)), quoted(filterOf(want)))
	d.add("AckWait", durationString(have.AckWait), durationString(want.AckWait))
	d.add("MaxDeliver", fmt.Sprint(normalMaxDeliver(have.MaxDeliver)), fmt.Sprint(normalMaxDeliver(want.MaxDeliver)))
	d.add("MaxAckPending", fmt.Sprint(have.MaxAckPending), fmt.Sprint(want.MaxAckPending))
	d.add("InactiveThreshold", durationString(have.InactiveThreshold), durationString(want.InactiveThreshold))
	return d.diffs
}

type differ struct{ diffs []FieldDiff }

func (d *differ) add(field, have, want string) {
	if have != want {
		d.diffs = append(d.diffs, FieldDiff{Field: field, Existing: have, Wanted: want})
	}
}

func subjectsString(subjects []string) string {
	s := slices.Clone(subjects)
	slices.Sort(s)
	return "[" + strings.Join(s, " ") + "]"
}

// filterOf reads a consumer's single filter whichever way it was given.
func filterOf(c jetstream.ConsumerConfig) string {
	if c.FilterSubject == "" && len(c.FilterSubjects) == 1 {
		return c.FilterSubjects[0]
	}
	if len(c.FilterSubjects) > 1 {
		return strings.Join(c.FilterSubjects, " ")
	}
	return c.FilterSubject
}

// normalMaxDeliver maps the server's two spellings of "unlimited" to one.
func normalMaxDeliver(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

func durationString(d time.Duration) string {
	if d == 0 {
		return "0 (none)"
	}
	return d.String()
}

func quoted(s string) string { return fmt.Sprintf("%q", s) }
