package cli

import (
	"time"

	"github.com/perfexworker/perfex-worker/internal/crm"
)

// rateLimitFlags pace the requests to Perfex (internal/crm/pacing.go).
// The X-RateLimit-* headers pace requests whatever these say.
type rateLimitFlags struct {
	PerfexRPS          float64       `name:"perfex-rps" env:"PERFEX_RPS" default:"0" help:"Most requests per second this process sends to Perfex; 0 for no client-side limit (the X-RateLimit-* headers still pace)."`
	PerfexBurst        int           `name:"perfex-burst" env:"PERFEX_BURST" default:"0" help:"Requests that may leave at once under --perfex-rps; 0 for the rate rounded up."`
	PerfexRecoveryRamp time.Duration `name:"perfex-recovery-ramp" env:"PERFEX_RECOVERY_RAMP" default:"10s" help:"After an outage, how long requests start slowly (2 per second, doubling every second), with a unit; 0 for none."`
}

// apply sets the pacing fields of cfg. crm.Config.Validate refuses a
// negative rate or burst, which runWorker reports as a usage error.
func (f rateLimitFlags) apply(cfg *crm.Config) {
	cfg.RequestsPerSecond = f.PerfexRPS
	cfg.Burst = f.PerfexBurst
	cfg.RecoveryRamp = f.PerfexRecoveryRamp
	if f.PerfexRecoveryRamp <= 0 {
		cfg.RecoveryRamp = -1 // none
	}
}
