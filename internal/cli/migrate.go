package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/aigate/aigate/internal/buildinfo"
	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/database/migrate"
	"github.com/aigate/aigate/internal/dbopen"
)

type migrateConfig struct {
	config.Database
	config.Logging
}

func migrateOptionSet(cmd, summary string, cfg *migrateConfig) *config.Set {
	return &config.Set{
		Command: "aigate migrate " + cmd,
		Usage:   "[flags]",
		Summary: summary,
		Options: append(config.DatabaseOptions(&cfg.Database), config.LoggingOptions(&cfg.Logging)...),
	}
}

func migrateCommand() *Command {
	return &Command{
		Name:    "migrate",
		Summary: "Apply or inspect database migrations (the server also applies them at start)",
		Sub: []*Command{
			{
				Name:    "up",
				Summary: "Apply all pending migrations",
				Run: func(ctx context.Context, io IO, args []string) error {
					return withMigrator(ctx, io, args, "up", "Apply all pending migrations, under the migrations advisory lock.", func(ctx context.Context, m *migrate.Migrator) error {
						applied, err := m.Up(context.WithoutCancel(ctx))
						if err != nil {
							return err
						}
						if len(applied) == 0 {
							fmt.Fprintln(io.Stdout, "The schema is up to date; nothing to apply.")
						}
						for _, a := range applied {
							fmt.Fprintf(io.Stdout, "applied %s\n", a.Name)
						}
						return nil
					})
				},
			},
			{
				Name:    "status",
				Summary: "List migrations and whether each is applied",
				Run: func(ctx context.Context, io IO, args []string) error {
					return withMigrator(ctx, io, args, "status", "List the migrations this binary knows and the database holds. Changes nothing.", func(ctx context.Context, m *migrate.Migrator) error {
						statuses, err := m.Status(ctx)
						if err != nil {
							return err
						}
						tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "VERSION\tNAME\tSTATUS\tAPPLIED AT\tAPPLIED BY")
						for _, s := range statuses {
							state, at, by := "pending", "", ""
							if s.Applied {
								state, at, by = "applied", s.AppliedAt.UTC().Format(time.RFC3339), s.AppliedBy
							}
							fmt.Fprintf(tw, "%04d\t%s\t%s\t%s\t%s\n", s.Version, s.Name, state, at, by)
						}
						return tw.Flush()
					})
				},
			},
		},
	}
}

func withMigrator(ctx context.Context, io IO, args []string, cmd, summary string, fn func(context.Context, *migrate.Migrator) error) error {
	var cfg migrateConfig
	rest, err := migrateOptionSet(cmd, summary, &cfg).Parse(args, io.Getenv, io.Stdout)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("aigate migrate %s takes no arguments, got %q", cmd, rest)
	}
	return withDatabase(ctx, cfg.Database, "aigate migrate", newLogger(cfg.Logging, io.Stderr), func(ctx context.Context, opened *dbopen.Opened) error {
		return fn(ctx, migrate.New(opened.DB, migrate.Embedded(), buildinfo.Version()))
	})
}
