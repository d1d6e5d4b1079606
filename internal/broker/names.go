// Package broker names everything perfex-worker keeps on the NATS server
// (the command stream, the dead-letter stream, the worker's durable
// consumer, and the KV buckets of the per-field clock and the per-contact
// leases), holds their configurations in one place, and provisions them.
//
// Provisioning creates what is missing and checks what exists. It never
// updates an existing stream or consumer: a difference in a field that
// matters is reported as a *ConfigMismatchError for an operator to resolve,
// because a silent update from one worker could undo another deployment's
// configuration.
package broker

import (
	"errors"
	"fmt"
	"strings"
)

// Default names. The prefix matches command.DefaultPrefix.
const (
	DefaultPrefix         = "perfex"
	DefaultCommandsStream = "PERFEX_COMMANDS"
	DefaultDLQStream      = "PERFEX_DLQ"
	DefaultDurable        = "perfex-worker"
	DefaultClockBucket    = "PERFEX_CONTACT_CLOCK"
	DefaultLeaseBucket    = "PERFEX_CONTACT_LEASE"
)

// Names are the names of the worker's objects on the broker. A zero field
// means its default; see WithDefaults.
type Names struct {
	// Prefix is the first subject token: commands arrive on
	// <Prefix>.cmd.> and dead letters are stored on <Prefix>.dlq.>.
	Prefix string
	// Commands is the command stream's name.
	Commands string
	// DLQ is the dead-letter stream's name.
	DLQ string
	// Durable is the worker's durable pull consumer on Commands.
	Durable string
	// Clock is the KV bucket holding, per contact and field, which command
	// last set the field (see internal/clock).
	Clock string
	// Lease is the KV bucket of per-contact leases that keep two processes
	// from updating one contact at once (see internal/lease).
	Lease string
}

// DefaultNames returns the names used when nothing is configured.
func DefaultNames() Names {
	return Names{}.WithDefaults()
}

// WithDefaults returns n with every empty field set to its default.
func (n Names) WithDefaults() Names {
	if n.Prefix == "" {
		n.Prefix = DefaultPrefix
	}
	if n.Commands == "" {
		n.Commands = DefaultCommandsStream
	}
	if n.DLQ == "" {
		n.DLQ = DefaultDLQStream
	}
	if n.Durable == "" {
		n.Durable = DefaultDurable
	}
	if n.Clock == "" {
		n.Clock = DefaultClockBucket
	}
	if n.Lease == "" {
		n.Lease = DefaultLeaseBucket
	}
	return n
}

// CommandSubjects is the subject filter of the command stream and of the
// worker's consumer: <prefix>.cmd.>.
func (n Names) CommandSubjects() string {
	return n.WithDefaults().Prefix + ".cmd.>"
}

// DLQSubjects is the subject filter of the dead-letter stream:
// <prefix>.dlq.>.
func (n Names) DLQSubjects() string {
	return n.WithDefaults().Prefix + ".dlq.>"
}

// Validate checks n after defaults are applied: the prefix must be one or
// more plain subject tokens, and the stream and consumer names must be
// usable as single subject tokens.
func (n Names) Validate() error {
	n = n.WithDefaults()
	var errs []error
	if err := checkPrefix(n.Prefix); err != nil {
		errs = append(errs, fmt.Errorf("invalid Names.Prefix: %w", err))
	}
	for _, f := range []struct{ field, value string }{
		{"Names.Commands", n.Commands},
		{"Names.DLQ", n.DLQ},
		{"Names.Durable", n.Durable},
		{"Names.Clock", n.Clock},
		{"Names.Lease", n.Lease},
	} {
		if err := checkName(f.value); err != nil {
			errs = append(errs, fmt.Errorf("invalid %s: %w", f.field, err))
		}
	}
	if n.Commands == n.DLQ {
		errs = append(errs, fmt.Errorf("invalid Names.DLQ: %q is also the command stream's name", n.DLQ))
	}
	if n.Clock == n.Lease {
		errs = append(errs, fmt.Errorf("invalid Names.Lease: %q is also the clock bucket's name", n.Lease))
	}
	return errors.Join(errs...)
}

func checkPrefix(p string) error {
	for tok := range strings.SplitSeq(p, ".") {
		if tok == "" {
			return fmt.Errorf("%q has an empty subject token", p)
		}
		if strings.ContainsAny(tok, "*> \t\r\n") {
			return fmt.Errorf("%q has a wildcard or whitespace", p)
		}
	}
	return nil
}

func checkName(name string) error {
	if strings.ContainsAny(name, ".*> \t\r\n/\\") {
		return fmt.Errorf("%q must not contain dots, wildcards, slashes or whitespace", name)
	}
	return nil
}
