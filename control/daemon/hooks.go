package daemon

import (
	"context"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control/hooks"
)

// hookEngine runs the hook-script runner with the daemon's engine life cycle. It starts
// before and stops after the protocol engines, so the scripts of the events they publish
// while stopping still run.
type hookEngine struct{ r *hooks.Runner }

func hooksConfig(c *config.Config) hooks.Config {
	return hooks.Config{Dir: c.Hooks.Dir, Timeout: c.Hooks.Timeout, MaxConcurrent: c.Hooks.MaxConcurrent}
}

func (h hookEngine) Name() string                  { return "hooks" }
func (h hookEngine) Run(ctx context.Context) error { return h.r.Run(ctx) }

func (h hookEngine) Reload(cfg *config.Config, changes []config.Change) error {
	for _, c := range changes {
		if c.Path == "hooks" {
			h.r.Reload(hooksConfig(cfg))
		}
	}
	return nil
}
