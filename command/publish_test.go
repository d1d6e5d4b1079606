package command

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

const testStream = "PERFEX_COMMANDS"

// startJetStream runs an in-process NATS server with JetStream and the
// command stream, and returns a JetStream client and the stream.
func startJetStream(t *testing.T) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()

	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		t.Fatalf("creating the NATS server: %v", err)
	}
	go srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the NATS server did not start within 10s")
	}

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       testStream,
		Subjects:   []string{DefaultPrefix + ".cmd.>"},
		Storage:    jetstream.FileStorage,
		Duplicates: time.Minute,
	})
	if err != nil {
		t.Fatalf("creating the stream: %v", err)
	}
	return js, stream
}

func testContext(t *testing.T) context.Context {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPublish(t *testing.T) {
	t.Parallel()

	js, stream := startJetStream(t)
	ctx := testContext(t)
	pub := NewPublisher(js, "")

	cmd := NewContactUpdate(123, ContactData{Email: String("ana@exemplo-ação.com.br"), Active: Bool(true)})
	const trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ack, err := pub.Publish(ctx, cmd, WithHeader("traceparent", trace),
		WithHeaders(nats.Header{"X-Origin": {"billing", "import"}}))
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if ack.Stream != testStream || ack.Duplicate {
		t.Errorf("PubAck = %+v, want a first copy in %s", ack, testStream)
	}

	msg, err := stream.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatalf("GetMsg(%d): %v", ack.Sequence, err)
	}
	if want := "perfex.cmd.contact.update.123"; msg.Subject != want {
		t.Errorf("subject = %q, want %q", msg.Subject, want)
	}
	if got := msg.Header.Get(jetstream.MsgIDHeader); got != cmd.ID {
		t.Errorf("%s = %q, want the command id %q", jetstream.MsgIDHeader, got, cmd.ID)
	}
	if got := msg.Header.Get("traceparent"); got != trace {
		t.Errorf("traceparent = %q, want %q", got, trace)
	}
	if diff := cmp.Diff([]string{"billing", "import"}, msg.Header.Values("X-Origin")); diff != "" {
		t.Errorf("X-Origin (-want +got):\n%s", diff)
	}

	got, err := Decode(msg.Subject, msg.Data)
	if err != nil {
		t.Fatalf("the stored body does not decode: %v", err)
	}
	want := cmd
	want.Data.Email = String("ana@xn--exemplo-ao-n5a1c.com.br")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored command (-want +got):\n%s", diff)
	}
	if *cmd.Data.Email != "ana@exemplo-ação.com.br" {
		t.Errorf("Publish changed the caller's email to %q", *cmd.Data.Email)
	}
}

func TestPublishDuplicate(t *testing.T) {
	t.Parallel()

	js, stream := startJetStream(t)
	ctx := testContext(t)
	pub := NewPublisher(js, DefaultPrefix)
	cmd := NewContactUpdate(7, ContactData{Title: String("Gerente")})

	first, err := pub.Publish(ctx, cmd)
	if err != nil {
		t.Fatalf("first Publish: %v", err)
	}
	second, err := pub.Publish(ctx, cmd)
	if err != nil {
		t.Fatalf("second Publish of the same command: %v", err)
	}
	if !second.Duplicate || second.Sequence != first.Sequence {
		t.Errorf("second PubAck = %+v, want Duplicate naming sequence %d", second, first.Sequence)
	}
	checkStreamHolds(t, stream, 1)
}

func TestPublishGeneratesID(t *testing.T) {
	t.Parallel()

	js, stream := startJetStream(t)
	ctx := testContext(t)
	cmd := Command{Type: TypeContactUpdate, ContactID: 9, Data: ContactData{Active: Bool(false)}}

	ack, err := NewPublisher(js, "").Publish(ctx, cmd)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	msg, err := stream.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatalf("GetMsg: %v", err)
	}
	id := msg.Header.Get(jetstream.MsgIDHeader)
	if _, err := ulid.ParseStrict(id); err != nil {
		t.Errorf("generated id %q is not a ULID: %v", id, err)
	}
	got, err := Decode(msg.Subject, msg.Data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got.ID != id {
		t.Errorf("body id %q differs from %s %q", got.ID, jetstream.MsgIDHeader, id)
	}
}

func TestPublishRefuses(t *testing.T) {
	t.Parallel()

	js, stream := startJetStream(t)
	ctx := testContext(t)
	pub := NewPublisher(js, "")

	tests := []struct {
		name string
		cmd  Command
		code string
	}{
		{"bad_email", NewContactUpdate(1, ContactData{Email: String("Ana <ana@x.com>")}), CodeInvalidEmail},
		{"no_fields", NewContactUpdate(1, ContactData{}), CodeMalformed},
		{"zero_contact", NewContactUpdate(0, ContactData{Active: Bool(true)}), CodeMalformed},
		{"unknown_type", Command{ID: "c1", Type: "contact.delete", ContactID: 1}, CodeUnknownOperation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ack, err := pub.Publish(ctx, tt.cmd)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Code != tt.code {
				t.Fatalf("Publish = %+v, %v; want a *ValidationError with code %s", ack, err, tt.code)
			}
		})
	}

	t.Run("message_id_header", func(t *testing.T) {
		cmd := NewContactUpdate(1, ContactData{Active: Bool(true)})
		if _, err := pub.Publish(ctx, cmd, WithHeader("nats-msg-id", "other")); err == nil {
			t.Fatal("Publish let a header replace the command id as the message id")
		}
	})

	checkStreamHolds(t, stream, 0)
}

func checkStreamHolds(t *testing.T, stream jetstream.Stream, want uint64) {
	t.Helper()

	info, err := stream.Info(testContext(t))
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if info.State.Msgs != want {
		t.Errorf("the stream holds %d messages, want %d", info.State.Msgs, want)
	}
}

func TestPublishNoStream(t *testing.T) {
	t.Parallel()

	js, _ := startJetStream(t)
	ctx := testContext(t)
	cmd := NewContactUpdate(1, ContactData{Active: Bool(true)})

	_, err := NewPublisher(js, "elsewhere").Publish(ctx, cmd)
	if !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Errorf("Publish to a subject without a stream: %v, want %v", err, jetstream.ErrNoStreamResponse)
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		t.Errorf("a broker failure was reported as a validation error: %v", err)
	}
}
