// Package cli is aigate's command line: the command tree, one file per
// command, each parsing its options from the config table and writing to
// injected streams so the whole CLI runs in-process in tests.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/config"
)

// IO is what a command reads and writes: injected so tests capture it.
type IO struct {
	// Stdin is where passwords and answers to prompts are read; when it
	// is a terminal, passwords are read without echo. Main uses os.Stdin
	// when it is nil.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Environ lists the environment as NAME=value entries; the provider
	// seed enumerates AIGATE_PROVIDER_<N>_* from it. Nil means empty.
	Environ func() []string
	// Clock is where "now" comes from (a token's --expires-in counts from
	// it); nil is the real clock.
	Clock clock.Clock
}

func (io IO) environ() []string {
	if io.Environ == nil {
		return nil
	}
	return io.Environ()
}

// Command is one node of the command tree: either it runs, or it groups
// subcommands.
type Command struct {
	Name    string
	Summary string
	// Run executes the command with the arguments after its name.
	Run func(ctx context.Context, io IO, args []string) error
	Sub []*Command
}

// ExitError carries a specific exit status (e.g. 1 for "plan found a
// conflict") without an error message of its own.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Root is the aigate command tree.
func Root() *Command {
	return &Command{
		Name:    "aigate",
		Summary: "aigate is a self-hosted AI gateway: one governed door from coding agents to model providers.",
		Sub: []*Command{
			serverCommand(),
			migrateCommand(),
			encryptionCommand(),
			versionCommand(),
			loginCommand(),
			usersCommand(),
			tokensCommand(),
			auditCommand(),
			providersCommand(),
			usageCommand(),
			interceptionsCommand(),
			pricesCommand(),
			groupsCommand(),
			policiesCommand(),
		},
	}
}

// Main runs the CLI and returns the process exit status.
func Main(ctx context.Context, args []string, io IO) int {
	if io.Getenv == nil {
		io.Getenv = os.Getenv
	}
	if io.Stdin == nil {
		io.Stdin = os.Stdin
	}
	err := Root().Execute(ctx, io, args)
	var exit ExitError
	switch {
	case err == nil, errors.Is(err, config.ErrHelp):
		return 0
	case errors.As(err, &exit):
		return exit.Code
	default:
		fmt.Fprintf(io.Stderr, "error: %v\n", err)
		return 1
	}
}

// Execute dispatches args to the matching subcommand.
func (c *Command) Execute(ctx context.Context, io IO, args []string) error {
	return c.execute(ctx, io, args, c.Name)
}

// execute is Execute for the command that path (e.g. "aigate providers")
// names, so help and errors show the whole command line.
func (c *Command) execute(ctx context.Context, io IO, args []string, path string) error {
	if c.Run != nil {
		return c.Run(ctx, io, args)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		c.writeHelp(io.Stdout, path)
		if len(args) == 0 {
			return errors.New("a command is required (see the list above)")
		}
		return config.ErrHelp
	}
	// --version is what people try first; only the root has a version
	// command to answer it.
	if args[0] == "--version" || args[0] == "-version" {
		if v := c.sub("version"); v != nil {
			return v.execute(ctx, io, nil, path+" version")
		}
	}
	if sub := c.sub(args[0]); sub != nil {
		return sub.execute(ctx, io, args[1:], path+" "+sub.Name)
	}
	names := make([]string, len(c.Sub))
	for i, sub := range c.Sub {
		names[i] = sub.Name
	}
	if strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("%s: unknown flag %s; give a command first, as in '%s <command> %s' (run '%s --help' to see the commands)",
			path, args[0], path, args[0], path)
	}
	hint := ""
	if near := config.Suggest(args[0], names); near != "" {
		hint = fmt.Sprintf(" (did you mean %s?)", near)
	}
	return fmt.Errorf("unknown command %q for %q%s; run '%s --help' to see the commands", args[0], path, hint, path)
}

func (c *Command) sub(name string) *Command {
	for _, s := range c.Sub {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (c *Command) writeHelp(w io.Writer, path string) {
	fmt.Fprintf(w, "%s\n\nUsage: %s <command> [flags]\n\nCommands:\n", c.Summary, path)
	subs := append([]*Command(nil), c.Sub...)
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name < subs[j].Name })
	width := 0
	for _, s := range subs {
		width = max(width, len(s.Name))
	}
	for _, s := range subs {
		fmt.Fprintf(w, "  %-*s  %s\n", width, s.Name, s.Summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", path)
	if c.sub("version") != nil {
		fmt.Fprintf(w, "'%s --version' prints the version.\n", path)
	}
}

// newLogger builds the process logger from the logging options.
func newLogger(cfg config.Logging, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Level}
	if strings.EqualFold(cfg.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
