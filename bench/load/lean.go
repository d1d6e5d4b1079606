package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perfexworker/perfex-worker/internal/broker"
)

// runLean is the lean reference: it reads a command, GETs the contact,
// PUTs the three fields Perfex requires with the command's data over
// them, and acks. No validation, no merge rules, no classification, no
// retries, no dead letters: the ceiling the worker is measured against.
func runLean(args []string) {
	fs := flag.NewFlagSet("lean", flag.ExitOnError)
	natsURL := fs.String("nats-url", "", "NATS URL")
	perfexURL := fs.String("perfex-url", "", "Perfex API base URL")
	token := fs.String("perfex-token", "", "API token")
	concurrency := fs.Int("concurrency", 32, "commands at once")
	_ = fs.Parse(args)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	nc, err := nats.Connect(*natsURL, nats.Name("bench lean"))
	if err != nil {
		fatalf("lean: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fatalf("lean: %v", err)
	}
	names := broker.DefaultNames()
	cons, err := js.Consumer(ctx, names.Commands, names.Durable)
	if err != nil {
		fatalf("lean: binding: %v", err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(*concurrency))
	if err != nil {
		fatalf("lean: %v", err)
	}
	go func() { <-ctx.Done(); iter.Stop() }()

	l := &lean{
		url: *perfexURL, token: *token,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency}},
	}
	slots := make(chan struct{}, *concurrency)
	var wg sync.WaitGroup
	for {
		slots <- struct{}{}
		msg, err := iter.Next()
		if err != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := l.apply(ctx, msg); err != nil {
				fmt.Fprintf(os.Stderr, "lean: %v\n", err)
				_ = msg.Nak()
				return
			}
			_ = msg.Ack()
		}()
	}
	wg.Wait()
	_ = nc.Drain()
}

type lean struct {
	url, token string
	http       *http.Client
}

func (l *lean) apply(ctx context.Context, msg jetstream.Msg) error {
	subj := msg.Subject()
	id := subj[strings.LastIndexByte(subj, '.')+1:]

	var cmd struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(msg.Data(), &cmd); err != nil {
		return err
	}
	var row struct {
		FirstName string `json:"firstname"`
		LastName  string `json:"lastname"`
		Email     string `json:"email"`
	}
	if err := l.do(ctx, http.MethodGet, id, nil, &row); err != nil {
		return err
	}
	put := map[string]any{"firstname": row.FirstName, "lastname": row.LastName, "email": row.Email}
	for k, v := range cmd.Data {
		put[k] = v
	}
	b, err := json.Marshal(put)
	if err != nil {
		return err
	}
	return l.do(ctx, http.MethodPut, id, b, nil)
}

func (l *lean) do(ctx context.Context, method, id string, body []byte, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, l.url+"/contacts/"+id, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("authtoken", l.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s contact %s: %d", method, id, resp.StatusCode)
	}
	if into != nil {
		return json.Unmarshal(b, into)
	}
	return nil
}
