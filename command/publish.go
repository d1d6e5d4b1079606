package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publisher publishes commands to the command stream. It is safe for
// concurrent use if its JetStream publisher is.
type Publisher struct {
	js     jetstream.Publisher
	prefix string
}

// NewPublisher returns a Publisher that publishes through js under the
// subject prefix (DefaultPrefix when empty). js is usually a
// jetstream.JetStream.
func NewPublisher(js jetstream.Publisher, prefix string) *Publisher {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Publisher{js: js, prefix: prefix}
}

// PublishOption adds to what Publish sends.
type PublishOption func(*publishOptions)

type publishOptions struct {
	header nats.Header
}

// WithHeader sets the message header key to value, for example
// "traceparent" to carry a trace into the worker. Keys are case-sensitive.
func WithHeader(key, value string) PublishOption {
	return func(o *publishOptions) {
		if o.header == nil {
			o.header = nats.Header{}
		}
		o.header.Set(key, value)
	}
}

// WithHeaders adds every value of h to the message headers.
func WithHeaders(h nats.Header) PublishOption {
	return func(o *publishOptions) {
		if o.header == nil {
			o.header = nats.Header{}
		}
		for key, values := range h {
			for _, v := range values {
				o.header.Add(key, v)
			}
		}
	}
}

// Publish validates cmd and publishes it on Subject(prefix, cmd.ContactID)
// with the Nats-Msg-Id header set to its id, and waits for the stream to
// store it. An empty id is replaced by a new one first; set the id yourself
// (NewContactUpdate does) if you may publish the same command again.
//
// A command the worker would refuse is not published: the error is then
// the *ValidationError, with the code the command would have been
// dead-lettered under. A command whose id the stream has seen within its
// duplicate window is not stored twice; that is not an error, and the
// returned PubAck has Duplicate set and names the first copy's sequence.
func (p *Publisher) Publish(
	ctx context.Context, cmd Command, opts ...PublishOption,
) (*jetstream.PubAck, error) {
	if cmd.ID == "" {
		cmd.ID = newID()
	}
	msg, err := cmd.Msg(p.prefix)
	if err != nil {
		return nil, err
	}

	var o publishOptions
	for _, opt := range opts {
		opt(&o)
	}
	for key, values := range o.header {
		if strings.EqualFold(key, jetstream.MsgIDHeader) {
			return nil, fmt.Errorf(
				"command: publishing %s: the %s header is the command id and cannot be set",
				cmd.ID, key)
		}
		msg.Header[key] = values
	}

	ack, err := p.js.PublishMsg(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("command: publishing %s to %s: %w", cmd.ID, msg.Subject, err)
	}
	return ack, nil
}

// Msg validates c and returns it as a NATS message ready to publish on the
// stream (for example with PublishMsgAsync): the subject under prefix
// (DefaultPrefix when empty), the body from Marshal and the Nats-Msg-Id
// header set to the id. The error is a *ValidationError when c is not a
// command the worker would accept.
func (c Command) Msg(prefix string) (*nats.Msg, error) {
	body, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(Subject(prefix, c.ContactID))
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, c.ID)
	return msg, nil
}
