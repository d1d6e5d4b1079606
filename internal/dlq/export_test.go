package dlq

import (
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Envelope exposes the dead letter Store would publish, for benchmarks.
func (w *Writer) Envelope(msg jetstream.Msg, entry Entry) (*nats.Msg, error) {
	out, _, err := w.envelope(msg, entry)
	return out, err
}
