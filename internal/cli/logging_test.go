package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/perfexworker/perfex-worker/command"
)

// TestLoggerMasksSecrets logs the token and a password in every way a
// mistake could log them, in both formats, and searches the output.
func TestLoggerMasksSecrets(t *testing.T) {
	t.Parallel()
	const token = "log-token-3c9d2e7f"
	const password = "pw-logged-by-mistake"

	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			log, err := (&logFlags{LogLevel: "debug", LogFormat: format}).logger(&out, token)
			if err != nil {
				t.Fatal(err)
			}
			data := command.ContactData{Password: command.String(password)}
			body := `{"password":"` + password + `","title":"x"}`

			log.Info("token in the message " + token)
			log.Info("field", zap.String("authtoken", token))
			log.Info("struct", zap.Any("data", data))
			log.Info("body", zap.String("body", body))
			log.Info("error", zap.Error(errors.New("PUT /contacts/1 sent "+body)))
			log.Info("form", zap.String("form", "firstname=Ana&password="+password))
			log.Info("nested", zap.Any("reply", map[string]any{"request": body}))
			_ = log.Sync()

			got := out.String()
			if n := strings.Count(got, "\n"); n != 7 {
				t.Fatalf("logged %d lines, want 7:\n%s", n, got)
			}
			for _, secret := range []string{token, password} {
				if strings.Contains(got, secret) {
					t.Errorf("%s output contains %q:\n%s", format, secret, got)
				}
			}
		})
	}
}
