package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/perfexworker/perfex-worker/internal/crm"
)

// testPKI is a throwaway CA with a server certificate for 127.0.0.1 and a
// client certificate, all written as PEM files in a temporary directory.
type testPKI struct {
	caFile                string
	serverCert, serverKey string
	clientCert, clientKey string
	otherCA               string // a CA that signed none of the above
	dir                   string
	caCert                *x509.Certificate
	caKey                 *ecdsa.PrivateKey
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	p.caCert, p.caKey = newCA(t, "perfex-worker test CA")
	p.caFile = writePEM(t, p.dir, "ca.pem", "CERTIFICATE", p.caCert.Raw)

	other, _ := newCA(t, "unrelated CA")
	p.otherCA = writePEM(t, p.dir, "other-ca.pem", "CERTIFICATE", other.Raw)

	p.serverCert, p.serverKey = p.issue(t, "server", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.clientCert, p.clientKey = p.issue(t, "client", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "perfex-worker"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return p
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// issue signs tmpl with the CA and writes the certificate and its key.
func (p *testPKI) issue(t *testing.T, name string, tmpl *x509.Certificate) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, p.dir, name+".pem", "CERTIFICATE", der),
		writePEM(t, p.dir, name+"-key.pem", "EC PRIVATE KEY", keyDER)
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startNATS runs an embedded nats-server on a free loopback port with
// opts applied on top of the defaults, and stops it when the test ends.
func startNATS(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host = "127.0.0.1"
	opts.Port = -1
	opts.NoLog = true
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return s
}

// startTLSNATS runs a JetStream server whose certificate the test CA
// signed; with verify, clients must present a certificate the CA signed.
func startTLSNATS(t *testing.T, p *testPKI, verify bool) string {
	t.Helper()
	tc := &server.TLSConfigOpts{CertFile: p.serverCert, KeyFile: p.serverKey}
	if verify {
		tc.CaFile = p.caFile
		tc.Verify = true
	}
	tlsConfig, err := server.GenTLSConfig(tc)
	if err != nil {
		t.Fatal(err)
	}
	s := startNATS(t, &server.Options{
		TLS:        true,
		TLSVerify:  verify,
		TLSConfig:  tlsConfig,
		TLSTimeout: 5,
		JetStream:  true,
		StoreDir:   t.TempDir(),
	})
	return fmt.Sprintf("tls://127.0.0.1:%d", s.Addr().(*net.TCPAddr).Port)
}

// mustConnect connects with f and checks the connection works end to end.
func mustConnect(t *testing.T, f natsFlags) {
	t.Helper()
	if err := f.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	nc, err := f.connect("connect-test", nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// mustNotConnect checks that connecting with f fails and that the error
// mentions want.
func mustNotConnect(t *testing.T, f natsFlags, want string) {
	t.Helper()
	nc, err := f.connect("connect-test", nil)
	if err == nil {
		nc.Close()
		t.Fatal("connect succeeded, want an error")
	}
	if !strings.Contains(strings.ToLower(err.Error()), want) {
		t.Errorf("connect error = %v, want it to mention %q", err, want)
	}
}

func TestNATSTLSCustomCA(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t)
	url := startTLSNATS(t, p, false)

	t.Run("with_ca", func(t *testing.T) {
		t.Parallel()
		mustConnect(t, natsFlags{NATSURL: url, NATSCA: p.caFile, Prefix: "perfex"})
	})
	t.Run("without_ca", func(t *testing.T) {
		t.Parallel()
		mustNotConnect(t, natsFlags{NATSURL: url, Prefix: "perfex"}, "certificate")
	})
	t.Run("wrong_ca", func(t *testing.T) {
		t.Parallel()
		mustNotConnect(t, natsFlags{NATSURL: url, NATSCA: p.otherCA, Prefix: "perfex"}, "certificate")
	})
}

func TestNATSMutualTLS(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t)
	url := startTLSNATS(t, p, true)

	t.Run("with_client_cert", func(t *testing.T) {
		t.Parallel()
		mustConnect(t, natsFlags{NATSURL: url, NATSCA: p.caFile,
			NATSCert: p.clientCert, NATSKey: p.clientKey, Prefix: "perfex"})
	})
	t.Run("without_client_cert", func(t *testing.T) {
		t.Parallel()
		f := natsFlags{NATSURL: url, NATSCA: p.caFile, Prefix: "perfex"}
		nc, err := f.connect("connect-test", nil)
		if err == nil {
			nc.Close()
			t.Fatal("connect without a client certificate succeeded")
		}
	})
}

func TestNATSNKey(t *testing.T) {
	t.Parallel()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := user.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	s := startNATS(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	url := s.ClientURL()

	t.Run("right_seed", func(t *testing.T) {
		t.Parallel()
		seed, err := user.Seed()
		if err != nil {
			t.Fatal(err)
		}
		mustConnect(t, natsFlags{NATSURL: url, NATSNKey: writeFile(t, "user.nk", string(seed)+"\n"), Prefix: "perfex"})
	})
	t.Run("wrong_seed", func(t *testing.T) {
		t.Parallel()
		other, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		seed, err := other.Seed()
		if err != nil {
			t.Fatal(err)
		}
		mustNotConnect(t, natsFlags{NATSURL: url, NATSNKey: writeFile(t, "other.nk", string(seed)), Prefix: "perfex"},
			"authorization violation")
	})
	t.Run("no_seed", func(t *testing.T) {
		t.Parallel()
		mustNotConnect(t, natsFlags{NATSURL: url, Prefix: "perfex"}, "authorization violation")
	})
	t.Run("seed_file_without_seed", func(t *testing.T) {
		t.Parallel()
		f := natsFlags{NATSURL: url, NATSNKey: writeFile(t, "junk.nk", "not a seed\n"), Prefix: "perfex"}
		nc, err := f.connect("connect-test", nil)
		if err == nil {
			nc.Close()
			t.Fatal("connect with a file holding no seed succeeded")
		}
		if !strings.Contains(err.Error(), "reading NKey seed") {
			t.Errorf("err = %v, want the seed file named", err)
		}
	})
}

// TestNATSCredentials runs a server in operator mode with an in-memory
// account resolver and connects with a .creds file (user JWT and seed).
func TestNATSCredentials(t *testing.T) {
	t.Parallel()
	operator := mustKey(t, nkeys.CreateOperator)
	account := mustKey(t, nkeys.CreateAccount)

	oc := jwt.NewOperatorClaims(publicKey(t, operator))
	ojwt, err := oc.Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := jwt.DecodeOperatorClaims(ojwt)
	if err != nil {
		t.Fatal(err)
	}
	accountPub := publicKey(t, account)
	ajwt, err := jwt.NewAccountClaims(accountPub).Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	if err := resolver.Store(accountPub, ajwt); err != nil {
		t.Fatal(err)
	}
	s := startNATS(t, &server.Options{
		TrustedOperators: []*jwt.OperatorClaims{trusted},
		AccountResolver:  resolver,
	})
	url := s.ClientURL()

	t.Run("valid_creds", func(t *testing.T) {
		t.Parallel()
		f := natsFlags{NATSURL: url, NATSCreds: writeCreds(t, account), Prefix: "perfex"}
		mustConnect(t, f)
	})
	t.Run("untrusted_account", func(t *testing.T) {
		t.Parallel()
		stranger := mustKey(t, nkeys.CreateAccount)
		f := natsFlags{NATSURL: url, NATSCreds: writeCreds(t, stranger), Prefix: "perfex"}
		mustNotConnect(t, f, "authorization violation")
	})
}

func mustKey(t *testing.T, create func() (nkeys.KeyPair, error)) nkeys.KeyPair {
	t.Helper()
	kp, err := create()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func publicKey(t *testing.T, kp nkeys.KeyPair) string {
	t.Helper()
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// writeCreds writes a .creds file for a new user that account signed.
func writeCreds(t *testing.T, account nkeys.KeyPair) string {
	t.Helper()
	user := mustKey(t, nkeys.CreateUser)
	ujwt, err := jwt.NewUserClaims(publicKey(t, user)).Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(ujwt, seed)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "user.creds", string(creds))
}

func TestNATSValidateTLSPairs(t *testing.T) {
	t.Parallel()
	for _, f := range []natsFlags{
		{NATSURL: "tls://127.0.0.1:4222", NATSCert: "c.pem", Prefix: "perfex"},
		{NATSURL: "tls://127.0.0.1:4222", NATSKey: "k.pem", Prefix: "perfex"},
		{NATSURL: "nats://127.0.0.1:4222", NATSCreds: "u.creds", NATSNKey: "u.nk", Prefix: "perfex"},
	} {
		var ue usageError
		if err := f.validate(); !errors.As(err, &ue) {
			t.Errorf("validate(%+v) = %v, want a usage error", f, err)
		}
	}
}

// perfexTLSServer answers the probe's GET /api/contacts/<id> as Perfex
// does for an unknown contact, over TLS with httptest's own certificate.
func perfexTLSServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/api/contacts/") ||
			r.Header.Get("authtoken") != "tok-123456" {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"status":false,"message":"No data were found"}`))
	}))
	// The clients without the CA abort the handshake on purpose.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := writePEM(t, t.TempDir(), "perfex-ca.pem", "CERTIFICATE", srv.Certificate().Raw)
	return srv, caFile
}

func probePerfex(t *testing.T, baseURL string, roots *x509.CertPool) error {
	t.Helper()
	c, err := crm.New(crm.Config{
		BaseURL:           baseURL + "/api",
		Token:             "tok-123456",
		Timeout:           5 * time.Second,
		PermissionsSource: crm.PermissionsCommand,
		RootCAs:           roots,
	})
	if err != nil {
		t.Fatalf("crm.New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Probe(ctx)
}

func TestPerfexCA(t *testing.T) {
	t.Parallel()
	srv, caFile := perfexTLSServer(t)

	t.Run("with_ca", func(t *testing.T) {
		t.Parallel()
		pool, err := loadCA(caFile)
		if err != nil {
			t.Fatalf("loadCA: %v", err)
		}
		if err := probePerfex(t, srv.URL, pool); err != nil {
			t.Fatalf("probe with --perfex-ca: %v", err)
		}
	})
	t.Run("without_ca", func(t *testing.T) {
		t.Parallel()
		pool, err := loadCA("")
		if err != nil || pool != nil {
			t.Fatalf("loadCA(\"\") = %v, %v; want nil, nil (system roots)", pool, err)
		}
		err = probePerfex(t, srv.URL, pool)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("probe without --perfex-ca: %v, want an unknown-authority certificate error", err)
		}
		var transient *crm.TransientError
		if !errors.As(err, &transient) {
			t.Errorf("probe error %v is not transient", err)
		}
	})
	t.Run("wrong_ca", func(t *testing.T) {
		t.Parallel()
		other, _ := newCA(t, "unrelated CA")
		pool, err := loadCA(writePEM(t, t.TempDir(), "other.pem", "CERTIFICATE", other.Raw))
		if err != nil {
			t.Fatalf("loadCA: %v", err)
		}
		err = probePerfex(t, srv.URL, pool)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("probe with an unrelated CA: %v, want an unknown-authority certificate error", err)
		}
	})
}

func TestPerfexCALoadErrors(t *testing.T) {
	t.Parallel()
	for name, path := range map[string]string{
		"no_pem":  writeFile(t, "not-pem.txt", "this is not a certificate\n"),
		"empty":   writeFile(t, "empty.pem", ""),
		"missing": filepath.Join(t.TempDir(), "absent.pem"),
	} {
		pool, err := loadCA(path)
		var ue usageError
		if pool != nil || !errors.As(err, &ue) {
			t.Errorf("%s: loadCA = %v, %v; want a usage error", name, pool, err)
			continue
		}
		if !strings.Contains(err.Error(), "--perfex-ca") {
			t.Errorf("%s: err = %v, want the flag named", name, err)
		}
	}
}
