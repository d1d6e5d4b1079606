package cli

import (
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/perfexworker/perfex-worker/internal/redact"
)

// logFlags choose the log level and format.
type logFlags struct {
	LogLevel  string `name:"log-level" env:"LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level: debug, info, warn or error."`
	LogFormat string `name:"log-format" env:"LOG_FORMAT" default:"${log_format}" enum:"json,console" help:"Log format: json or console."`
}

// logger builds the process logger. Every entry passes through a redacting
// core that replaces the given secrets wherever they appear.
func (f *logFlags) logger(w io.Writer, secrets ...string) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(f.LogLevel)
	if err != nil {
		return nil, usagef("--log-level: %v", err)
	}

	var enc zapcore.Encoder
	switch f.LogFormat {
	case "json":
		cfg := zap.NewProductionEncoderConfig()
		cfg.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(cfg)
	case "console":
		cfg := zap.NewDevelopmentEncoderConfig()
		cfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(cfg)
	default:
		return nil, usagef("--log-format %q: want json or console", f.LogFormat)
	}

	core := zapcore.NewCore(enc, zapcore.AddSync(redact.Writer(w, secrets...)), level)
	return zap.New(core), nil
}

func logFatal(log *zap.Logger, msg string, err error) error {
	log.Error(msg, zap.Error(err))
	return fmt.Errorf("%s: %w", msg, err)
}
