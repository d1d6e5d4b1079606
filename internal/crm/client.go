package crm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/perfexworker/perfex-worker/internal/reason"
)

// maxReply is the most of a reply body the client reads. Contact rows and
// error replies are a few hundred bytes; the permissions table, which can
// be large, is streamed instead (permissions.go).
const maxReply = 1 << 20

// Client talks to one Perfex installation. It is safe for concurrent use;
// its configuration does not change after New.
type Client struct {
	cfg       Config
	http      *http.Client
	transport *http.Transport // the default transport, nil when supplied
	limits    rateTracker
	pace      *pacer
}

// New validates cfg, applies its defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()

	c := &Client{cfg: cfg, pace: newPacer(cfg)}
	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient
		c.http = &hc
	} else {
		c.transport = newTransport(cfg.RootCAs)
		c.http = &http.Client{Transport: c.transport}
	}
	c.http.CheckRedirect = refuseRedirect
	return c, nil
}

// CloseIdleConnections closes the kept-alive connections of the client's
// transport, for example at shutdown.
func (c *Client) CloseIdleConnections() {
	c.http.CloseIdleConnections()
}

// LastRateLimit returns the most recent rate-limit state Perfex reported,
// over every request of the client. Known is false before the first reply
// that carried the headers.
func (c *Client) LastRateLimit() RateLimit {
	return c.limits.last()
}

// newTransport is the default transport: kept-alive connections, enough
// idle ones per host for a worker's concurrency, and no redirect following
// (set on the client).
func newTransport(roots *x509.CertPool) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   DefaultTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * DefaultMaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   DefaultMaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   DefaultTimeout,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
	}
}

func refuseRedirect(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}

// run is the state of one Update or Probe: how many requests it made,
// what the last reply said about the rate limit, and the secrets to keep
// out of anything it returns.
type run struct {
	requests int
	rate     RateLimit
	mask     *masker
}

func (c *Client) newRun(password *string) *run {
	return &run{mask: newMasker(c.cfg.Token, password)}
}

func (r *run) result() Result {
	return Result{Requests: r.requests, RateLimit: r.rate}
}

// reply is one HTTP answer, its body read (up to maxReply).
type reply struct {
	method string
	path   string
	status int
	header http.Header
	body   []byte

	doc    replyDoc
	parsed int8 // 0 not tried, 1 an object, -1 not a JSON object
}

// send makes one request with the per-request timeout. On success the
// caller must close the body and call the returned cancel function; on
// failure the error is a *TransientError.
func (c *Client) send(ctx context.Context, rn *run, method, path string, body []byte) (*http.Response, context.CancelFunc, error) {
	if err := c.pace.wait(ctx); err != nil {
		return nil, nil, c.transportError(ctx, method, path, err)
	}
	reqCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(reqCtx, method, c.cfg.BaseURL+path, rd)
	if err != nil {
		c.pace.cancel()
		cancel()
		return nil, nil, &TransientError{Reason: reason.Connection, Err: fmt.Errorf("%s %s: %w", method, path, err)}
	}
	req.Header.Set("authtoken", c.cfg.Token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	setTraceparent(ctx, req.Header)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	rn.requests++
	resp, err := c.http.Do(req)
	if err != nil {
		c.pace.done(false, RateLimit{})
		cancel()
		return nil, nil, c.transportError(ctx, method, path, err)
	}

	rl := parseRateLimit(resp.Header, time.Now())
	c.pace.done(answered(resp.StatusCode), rl)
	if rl.Known {
		rn.rate = rl
		c.limits.observe(rl)
	}
	return resp, cancel, nil
}

// call makes one request and reads its reply.
func (c *Client) call(ctx context.Context, rn *run, method, path string, body []byte) (*reply, error) {
	resp, cancel, err := c.send(ctx, rn, method, path, body)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()

	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return nil, c.cutShort(ctx, method, path, resp.StatusCode, err)
	}
	return &reply{method: method, path: path, status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// transportError turns a failed request into a retryable error. The
// message names the request by path only: the base URL is configuration
// and the token never appears in a URL.
func (c *Client) transportError(ctx context.Context, method, path string, err error) *TransientError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("no reply within %s: %w", c.cfg.Timeout, err)
	}
	return &TransientError{Reason: reason.Connection, Err: fmt.Errorf("%s %s: %w", method, path, err)}
}

// cutShort is the error for a reply whose body broke off.
func (c *Client) cutShort(ctx context.Context, method, path string, status int, err error) *TransientError {
	te := c.transportError(ctx, method, path, fmt.Errorf("reply cut short: %w", err))
	te.Status = status
	return te
}

// contactPath is the path of one contact.
func contactPath(id int64) string {
	return "/contacts/" + strconv.FormatInt(id, 10)
}
