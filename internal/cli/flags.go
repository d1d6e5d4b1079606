package cli

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// natsFlags are the connection settings every command that talks to NATS
// shares.
type natsFlags struct {
	NATSURL   string `name:"nats-url" env:"NATS_URL" default:"nats://127.0.0.1:4222" help:"NATS server URL(s), comma-separated."`
	NATSCreds string `name:"nats-creds" env:"NATS_CREDS" type:"existingfile" help:"NATS credentials file (JWT and NKey seed)."`
	NATSNKey  string `name:"nats-nkey" env:"NATS_NKEY" type:"existingfile" help:"NATS NKey seed file."`
	NATSCA    string `name:"nats-tls-ca" env:"NATS_TLS_CA" type:"existingfile" help:"CA certificate (PEM) that signs the NATS server's certificate."`
	NATSCert  string `name:"nats-tls-cert" env:"NATS_TLS_CERT" type:"existingfile" help:"Client certificate (PEM) for NATS mutual TLS."`
	NATSKey   string `name:"nats-tls-key" env:"NATS_TLS_KEY" type:"existingfile" help:"Client key (PEM) for NATS mutual TLS."`
	Prefix    string `name:"prefix" env:"PERFEX_PREFIX" default:"perfex" help:"Subject prefix: commands on <prefix>.cmd.>, dead letters on <prefix>.dlq.>."`
}

func (f *natsFlags) validate() error {
	if (f.NATSCert == "") != (f.NATSKey == "") {
		return usagef("--nats-tls-cert and --nats-tls-key go together")
	}
	if f.NATSCreds != "" && f.NATSNKey != "" {
		return usagef("--nats-creds and --nats-nkey are alternatives; give one")
	}
	if f.Prefix == "" || strings.ContainsAny(f.Prefix, " *>") || strings.HasPrefix(f.Prefix, ".") || strings.HasSuffix(f.Prefix, ".") {
		return usagef("--prefix %q is not a valid subject prefix", f.Prefix)
	}
	for _, u := range strings.Split(f.NATSURL, ",") {
		if _, err := url.Parse(strings.TrimSpace(u)); err != nil || strings.TrimSpace(u) == "" {
			return usagef("--nats-url %q is not a URL", u)
		}
	}
	return nil
}

// connect opens a NATS connection that never gives up reconnecting; extra
// options are applied last.
func (f *natsFlags) connect(name string, onAsyncError func(error), extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.Timeout(5 * time.Second),
	}
	if onAsyncError != nil {
		opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			onAsyncError(err)
		}))
	}
	if f.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(f.NATSCreds))
	}
	if f.NATSNKey != "" {
		opt, err := nats.NkeyOptionFromSeed(f.NATSNKey)
		if err != nil {
			return nil, fmt.Errorf("reading NKey seed %s: %w", f.NATSNKey, err)
		}
		opts = append(opts, opt)
	}
	if f.NATSCA != "" {
		opts = append(opts, nats.RootCAs(f.NATSCA))
	}
	if f.NATSCert != "" {
		opts = append(opts, nats.ClientCert(f.NATSCert, f.NATSKey))
	}

	nc, err := nats.Connect(f.NATSURL, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", redactURL(f.NATSURL), err)
	}
	return nc, nil
}

// redactURL hides user information in URLs before they are printed.
func redactURL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err == nil && u.User != nil {
			u.User = url.User("REDACTED")
			parts[i] = strings.Replace(u.String(), "REDACTED@", "***@", 1)
		}
	}
	return strings.Join(parts, ",")
}

// readToken returns the Perfex token from the flag or the file named by
// tokenFile; exactly one must be set.
func readToken(token, tokenFile string) (string, error) {
	switch {
	case token != "" && tokenFile != "":
		return "", usagef("--perfex-token and --perfex-token-file are alternatives; give one")
	case tokenFile != "":
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", usagef("reading --perfex-token-file: %v", err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", usagef("--perfex-token-file %s is empty", tokenFile)
		}
		return t, nil
	case token == "":
		return "", usagef("the Perfex API token is required: set PERFEX_API_TOKEN or PERFEX_API_TOKEN_FILE (or --perfex-token/--perfex-token-file)")
	}
	return token, nil
}
