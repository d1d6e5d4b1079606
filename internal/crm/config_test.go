package crm

import (
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := Config{BaseURL: "https://crm.example.com/api", Token: testToken}

	for _, tt := range []struct {
		name  string
		edit  func(*Config)
		field string // "" when valid
	}{
		{"valid", func(*Config) {}, ""},
		{"valid_command_source", func(c *Config) { c.PermissionsSource = PermissionsCommand }, ""},
		{"no_base_url", func(c *Config) { c.BaseURL = "" }, "BaseURL"},
		{"relative_base_url", func(c *Config) { c.BaseURL = "crm.example.com/api" }, "BaseURL"},
		{"ftp_base_url", func(c *Config) { c.BaseURL = "ftp://crm.example.com/api" }, "BaseURL"},
		{"query_in_base_url", func(c *Config) { c.BaseURL = "https://crm.example.com/api?authtoken=x" }, "BaseURL"},
		{"credentials_in_base_url", func(c *Config) { c.BaseURL = "https://u:p@crm.example.com/api" }, "BaseURL"},
		{"no_token", func(c *Config) { c.Token = "" }, "Token"},
		{"token_with_newline", func(c *Config) { c.Token = "abc\ndef" }, "Token"},
		{"negative_timeout", func(c *Config) { c.Timeout = -time.Second }, "Timeout"},
		{"unknown_source", func(c *Config) { c.PermissionsSource = "table" }, "PermissionsSource"},
		{"user_agent_two_lines", func(c *Config) { c.UserAgent = "a\r\nb" }, "UserAgent"},
		{"roots_with_client", func(c *Config) {
			c.HTTPClient = &http.Client{}
			c.RootCAs = x509.NewCertPool()
		}, "RootCAs"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.edit(&cfg)

			err := cfg.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field)):
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.field)
			case err != nil && strings.Contains(err.Error(), testToken):
				t.Fatalf("Validate error shows the token: %v", err)
			}
			if _, nerr := New(cfg); (nerr == nil) != (err == nil) {
				t.Fatalf("New disagrees with Validate: %v", nerr)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	got := Config{BaseURL: "https://crm.example.com/api/", Token: "t"}.withDefaults()

	if got.BaseURL != "https://crm.example.com/api" {
		t.Errorf("BaseURL = %q", got.BaseURL)
	}
	if got.Timeout != DefaultTimeout || got.PermissionsSource != DefaultPermissionsSource {
		t.Errorf("Timeout %s, PermissionsSource %q", got.Timeout, got.PermissionsSource)
	}
	if got.UserAgent != "perfex-worker/"+DefaultVersion {
		t.Errorf("UserAgent = %q", got.UserAgent)
	}
	if ua := (Config{Version: "2.0.1"}).withDefaults().UserAgent; ua != "perfex-worker/2.0.1" {
		t.Errorf("UserAgent = %q", ua)
	}
}

func TestConfigSuppliedClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	hc := &http.Client{}
	c, err := New(Config{BaseURL: "https://crm.example.com/api", Token: "t", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if c.http == hc || c.http.CheckRedirect == nil || hc.CheckRedirect != nil {
		t.Error("the supplied client was changed, or redirects are still followed")
	}
}
