// Command perfex-worker applies contact updates from NATS JetStream to
// Perfex CRM. See the README for what it does and how to run it.
package main

import (
	"os"

	"github.com/perfexworker/perfex-worker/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
