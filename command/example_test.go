package command_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/command"
)

// A backend publishes one contact update. The stream PERFEX_COMMANDS must
// exist (the worker provisions it).
func Example() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	pub := command.NewPublisher(js, command.DefaultPrefix)

	cmd := command.NewContactUpdate(123, command.ContactData{
		Email:         command.String("ana.souza@example.com"),
		Title:         command.String("Manager"),
		InvoiceEmails: command.Bool(true),
		Permissions:   command.Ints(1, 5),
	})
	now := time.Now()
	cmd.OccurredAt = &now

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := pub.Publish(ctx, cmd, command.WithHeader("traceparent",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))

	var invalid *command.ValidationError
	switch {
	case errors.As(err, &invalid):
		// Not queued: the worker would dead-letter it under invalid.Code.
		log.Printf("command %s refused: %v", cmd.ID, invalid)
	case err != nil:
		// Not known to be stored: publishing the same cmd again is safe,
		// its id makes the stream drop a second copy.
		log.Printf("command %s not published: %v", cmd.ID, err)
	case ack.Duplicate:
		log.Printf("command %s was already queued at sequence %d", cmd.ID, ack.Sequence)
	default:
		log.Printf("command %s queued at sequence %d", cmd.ID, ack.Sequence)
	}
}

func ExampleCommand_Marshal() {
	cmd := command.Command{
		ID:        "01JEXAMPLE0000000000000001",
		Type:      command.TypeContactUpdate,
		ContactID: 123,
		Data: command.ContactData{
			FirstName: command.String("Ana"),
			Email:     command.String("ana@exemplo-ação.com.br"),
			IsPrimary: command.Bool(true),
		},
	}
	body, err := cmd.Marshal()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(body))
	// Output:
	// {"id":"01JEXAMPLE0000000000000001","type":"contact.update","contact_id":123,"data":{"firstname":"Ana","email":"ana@xn--exemplo-ao-n5a1c.com.br","is_primary":true}}
}

func ExampleValidateEmail() {
	for _, addr := range []string{
		"ana+crm@example.com",
		"ana@exemplo-ação.com.br",
		"Ana <ana@example.com>",
		"josé@exemplo.com.br",
	} {
		bare, err := command.ValidateEmail(addr)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(bare)
	}
	// Output:
	// ana+crm@example.com
	// ana@xn--exemplo-ao-n5a1c.com.br
	// invalid_email: data.email: is a display-name or angle-bracket form; only the bare address ("ana@example.com") is accepted
	// invalid_email: data.email: has the non-ASCII character U+00E9 before the @; only ASCII is accepted there
}

func ExampleDecode() {
	body := []byte(`{"id":"01JEXAMPLE0000000000000001","type":"contact.update",` +
		`"contact_id":123,"data":{"is_primary":"yes"}}`)
	_, err := command.Decode("perfex.cmd.contact.update.123", body)

	var invalid *command.ValidationError
	if errors.As(err, &invalid) {
		fmt.Println(invalid.Code, invalid.Field)
		fmt.Println(invalid.Detail)
	}
	// Output:
	// malformed data.is_primary
	// must be a boolean, got a JSON string
}
