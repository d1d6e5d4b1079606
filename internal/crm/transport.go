package crm

import (
	"crypto/x509"
	"net/http"
)

// NewTransport returns the transport a Client uses by default (kept-alive
// connections sized for a worker, TLS 1.2 or later, roots when not nil),
// for callers that wrap it, to count requests for example, and pass it in
// Config.HTTPClient.
func NewTransport(roots *x509.CertPool) *http.Transport {
	return newTransport(roots)
}
