package cli

import (
	"fmt"

	"github.com/perfexworker/perfex-worker/internal/perfexsim"
)

// simulatorCmd serves the Perfex API simulator on its own, for compose
// files and manual tests against a separate NATS and worker. It is not a
// Perfex: never point a production worker at it.
type simulatorCmd struct {
	Listen string `name:"listen" env:"PERFEX_SIM_LISTEN" default:"127.0.0.1:8780" help:"Address the simulator listens on."`
	Token  string `name:"token" env:"PERFEX_SIM_TOKEN" required:"" help:"API token the simulator accepts."`
}

func (c *simulatorCmd) Run(e *env) error {
	if len(c.Token) < 4 {
		return usagef("--token must be at least 4 characters")
	}
	sim := perfexsim.New(perfexsim.Options{Token: c.Token, Seed: true})
	url, err := sim.Start(c.Listen)
	if err != nil {
		return fmt.Errorf("starting the Perfex simulator on %s: %w", c.Listen, err)
	}
	defer sim.Close()
	fmt.Fprintf(e.stdout, "Perfex simulator: %s (fictitious contacts; not a Perfex)\n", url)
	<-e.ctx.Done()
	return nil
}
