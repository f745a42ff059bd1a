package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/aigate/aigate/internal/providerenv"
)

func providersPlanCommand() *Command {
	return &Command{
		Name:    "plan",
		Summary: "Show what the next server start will do with the AI providers in the environment",
		Run: func(ctx context.Context, io IO, args []string) error {
			// Parse first: a typo in the environment needs no database.
			cfg, err := providerenv.Parse(io.environ())
			if err != nil && !isHelp(args) {
				return fmt.Errorf("invalid AI provider environment variables; the server would not start:\n%w", err)
			}
			return withProviderStore(ctx, io, args, "aigate providers plan",
				"Compare the AI providers in this process's environment (AIGATE_OPENAI_KEY, AIGATE_PROVIDER_<N>_*, ...) with the database, as the server does at startup, and print what it would do. Reads only. Exit status 1 when the server would refuse to start. Run it with the server's environment and database options.",
				false, func(ctx context.Context, st providerStore) error {
					for _, w := range cfg.Warnings {
						fmt.Fprintf(io.Stderr, "warning: %s\n", w.Message)
					}
					if cfg.Empty() {
						fmt.Fprintln(io.Stdout, "No AI providers are configured in the environment; startup seeds nothing.")
						return nil
					}
					steps, err := providerenv.PlanFromDatabase(ctx, st.db, st.providers, cfg)
					if err != nil {
						return err
					}
					return writePlan(io, steps)
				})
		},
	}
}

func isHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return true
		}
	}
	return false
}

// writePlan prints the outcome table, then each provider's fields as the
// seed would write them and, for a conflict, the explanation the startup
// error gives (Step.ConflictText, so the two never differ).
func writePlan(io IO, steps []providerenv.Step) error {
	tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tFROM\tPLAN")
	for _, s := range steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Provider.Spec.Name, s.Provider.Source, s.Outcome)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	conflicts := 0
	for _, s := range steps {
		fmt.Fprintf(io.Stdout, "\n%s (from %s): %s\n", s.Provider.Spec.Name, s.Provider.Source, s.Outcome)
		tw := tabwriter.NewWriter(io.Stdout, 0, 4, 1, ' ', 0)
		for _, f := range s.Provider.Fields() {
			fmt.Fprintf(tw, "  %s:\t%s\n", f.Name, f.Value)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if s.Outcome == providerenv.Conflict {
			conflicts++
			fmt.Fprintf(io.Stdout, "  %s\n", strings.ReplaceAll(s.ConflictText(), "\n", "\n  "))
		}
	}
	if conflicts > 0 {
		fmt.Fprintf(io.Stderr, "The server would refuse to start: %d provider(s) in CONFLICT.\n", conflicts)
		return ExitError{Code: 1}
	}
	return nil
}
