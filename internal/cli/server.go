package cli

import (
	"context"
	"fmt"

	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/server"
)

func serverOptionSet(cfg *config.Server) *config.Set {
	return &config.Set{
		Command: "aigate server",
		Usage:   "[flags]",
		Summary: "Run the admin API, the gateway and the dashboard. With no --postgres-url, aigate runs its own PostgreSQL in the data dir.",
		Options: config.ServerOptions(cfg),
	}
}

func serverCommand() *Command {
	return &Command{
		Name:    "server",
		Summary: "Run the aigate server (admin API, gateway, dashboard)",
		Run: func(ctx context.Context, io IO, args []string) error {
			var cfg config.Server
			set := serverOptionSet(&cfg)
			rest, err := set.Parse(args, io.Getenv, io.Stdout)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return fmt.Errorf("aigate server takes no arguments, got %q", rest)
			}
			return server.Run(ctx, cfg, server.Deps{Environ: io.environ(), Logger: newLogger(cfg.Logging, io.Stderr)})
		},
	}
}
