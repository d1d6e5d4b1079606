package main
import (
 _ "github.com/nats-io/nats.go/jetstream"
 _ "github.com/nats-io/nats-server/v2/server"
 _ "github.com/cenkalti/backoff/v4"
 _ "go.uber.org/zap"
 _ "github.com/alecthomas/kong"
 _ "golang.org/x/net/idna"
 _ "github.com/oklog/ulid/v2"
 _ "github.com/google/go-cmp/cmp"
 _ "go.uber.org/goleak"
)
func main(){}
