package crm

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Where a contact's portal permissions come from (Config.PermissionsSource).
const (
	// PermissionsCustomTable reads them from the allow-listed
	// contact_permissions table before every update, so an update that does
	// not mention permissions keeps them.
	PermissionsCustomTable = "customtable"
	// PermissionsCommand takes them from the command only. An update whose
	// command carries no permissions sends none, and Perfex then removes
	// every portal permission the contact had.
	PermissionsCommand = "command"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout             = 10 * time.Second
	DefaultPermissionsSource   = PermissionsCustomTable
	DefaultVersion             = "dev"
	DefaultMaxIdleConnsPerHost = 64
	userAgentProduct           = "perfex-worker"
)

// Config configures a Client. Zero values mean the defaults above.
type Config struct {
	// BaseURL is the API root, for example https://crm.example.com/api.
	// It must not carry credentials, a query or a fragment.
	BaseURL string
	// Token is the API token, sent in the authtoken header only.
	Token string
	// Timeout bounds each HTTP request, reading the reply included.
	Timeout time.Duration
	// Version is the worker's version, used in the default UserAgent.
	Version string
	// UserAgent defaults to "perfex-worker/<Version>".
	UserAgent string
	// PermissionsSource is PermissionsCustomTable or PermissionsCommand.
	PermissionsSource string
	// HTTPClient, when set, replaces the default client. The Client never
	// follows redirects, whatever HTTPClient.CheckRedirect says: the token
	// travels in a custom header that net/http would forward to any host,
	// and a redirected PUT would arrive as a GET.
	HTTPClient *http.Client
	// RootCAs, when set, replaces the system roots of the default client.
	// It cannot be combined with HTTPClient.
	RootCAs *x509.CertPool

	// Pacing (pacing.go). RequestsPerSecond, when positive, caps the
	// requests this client sends, with bursts of up to Burst (default: the
	// rate rounded up, at least 1). RecoveryRamp is how long the slow
	// start after an outage lasts: DefaultRecoveryRamp when zero, none when
	// negative. The X-RateLimit-* headers pace requests in any case.
	RequestsPerSecond float64
	Burst             int
	RecoveryRamp      time.Duration
}

// Validate reports the first field that is not acceptable, by name.
func (c Config) Validate() error {
	if c.BaseURL == "" {
		return errors.New("crm config: BaseURL is required (for example https://crm.example.com/api)")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		// url.Parse's error quotes the input; keep it out in case an
		// operator pasted a URL with a token in it.
		return errors.New("crm config: BaseURL is not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("crm config: BaseURL must start with http:// or https://, got scheme %q", u.Scheme)
	case u.Host == "":
		return errors.New("crm config: BaseURL has no host")
	case u.User != nil:
		return errors.New("crm config: BaseURL must not carry credentials; set Token instead")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("crm config: BaseURL must not carry a query; the token goes in Token")
	case u.Fragment != "":
		return errors.New("crm config: BaseURL must not carry a fragment")
	}

	if c.Token == "" {
		return errors.New("crm config: Token is required")
	}
	if strings.ContainsFunc(c.Token, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return errors.New("crm config: Token contains spaces or control characters")
	}
	if c.Timeout < 0 {
		return fmt.Errorf("crm config: Timeout must not be negative, got %s", c.Timeout)
	}
	if strings.ContainsAny(c.UserAgent, "\r\n") {
		return errors.New("crm config: UserAgent must be a single line")
	}
	switch c.PermissionsSource {
	case "", PermissionsCustomTable, PermissionsCommand:
	default:
		return fmt.Errorf("crm config: PermissionsSource must be %q or %q, got %q",
			PermissionsCustomTable, PermissionsCommand, c.PermissionsSource)
	}
	if err := c.validatePacing(); err != nil {
		return err
	}
	if c.HTTPClient != nil && c.RootCAs != nil {
		return errors.New("crm config: RootCAs applies to the default client only; " +
			"set it in HTTPClient's transport instead")
	}
	return nil
}

// withDefaults returns c with every zero value replaced by its default.
func (c Config) withDefaults() Config {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.UserAgent == "" {
		c.UserAgent = userAgentProduct + "/" + c.Version
	}
	if c.PermissionsSource == "" {
		c.PermissionsSource = DefaultPermissionsSource
	}
	return c.pacingDefaults()
}
