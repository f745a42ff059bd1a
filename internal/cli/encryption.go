package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/buildinfo"
	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/database/migrate"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/server"
)

// encryptionConfig is what the encryption commands need: the database and
// the same keys the servers use.
type encryptionConfig struct {
	Keys      string
	BatchSize int
	config.Database
	config.Logging
}

func encryptionOptionSet(cmd, summary string, cfg *encryptionConfig, batch bool) *config.Set {
	opts := []*config.Option{config.EncryptionKeysOption(&cfg.Keys)}
	if batch {
		opts = append(opts, &config.Option{
			Flag: "batch-size", Arg: "N", Env: "AIGATE_ROTATE_BATCH_SIZE", Default: "100",
			Description: "Rows re-encrypted per transaction.",
			Expect:      "an integer from 1 to 10000",
			Set: func(v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 10000 {
					return fmt.Errorf("not an integer from 1 to 10000")
				}
				cfg.BatchSize = n
				return nil
			},
		})
	}
	opts = append(opts, config.DatabaseOptions(&cfg.Database)...)
	return &config.Set{
		Command: "aigate encryption " + cmd,
		Usage:   "[flags]",
		Summary: summary,
		Options: append(opts, config.LoggingOptions(&cfg.Logging)...),
	}
}

func encryptionCommand() *Command {
	return &Command{
		Name:    "encryption",
		Summary: "Inspect and rotate the encryption of provider keys at rest",
		Sub: []*Command{
			{
				Name:    "status",
				Summary: "List the encryption keys stored secrets were made with",
				Run: func(ctx context.Context, io IO, args []string) error {
					return withProviders(ctx, io, args, "status", "List each encryption key (by digest) that stored provider keys and Bedrock credentials were encrypted with, and whether the given keys include it. Changes nothing.", false,
						func(ctx context.Context, svc *providers.Service, _ encryptionConfig) error {
							uses, err := svc.KeyUses(ctx)
							if err != nil {
								return err
							}
							if len(uses) == 0 {
								fmt.Fprintln(io.Stdout, "No encrypted secrets are stored.")
								return nil
							}
							tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
							fmt.Fprintln(tw, "KEY DIGEST\tCIPHERTEXTS\tSTATUS")
							for _, u := range uses {
								state := "MISSING: add this key back to " + "--encryption-keys"
								switch {
								case u.Active:
									state = "active"
								case u.InKeyring:
									state = "old: run `aigate encryption rotate`"
								}
								fmt.Fprintf(tw, "%s\t%d\t%s\n", u.Digest, u.Ciphertexts, state)
							}
							return tw.Flush()
						})
				},
			},
			{
				Name:    "rotate",
				Summary: "Re-encrypt every stored secret with the active (first) key",
				Run: func(ctx context.Context, io IO, args []string) error {
					return withProviders(ctx, io, args, "rotate", "Re-encrypt every provider key and Bedrock credential with the first of --encryption-keys, in batches. Safe to interrupt and run again; safe while servers run. Give the same keys the servers have: the new key first, the old ones after it.", true,
						func(ctx context.Context, svc *providers.Service, cfg encryptionConfig) error {
							res, err := svc.Rotate(ctx, cfg.BatchSize, func(r providers.RotateResult) {
								fmt.Fprintf(io.Stderr, "re-encrypted %d keys and %d credentials so far\n", r.Keys, r.Credentials)
							})
							if err != nil {
								return err
							}
							if res == (providers.RotateResult{}) {
								fmt.Fprintln(io.Stdout, "Everything is already encrypted with the active key; nothing to do.")
								return nil
							}
							fmt.Fprintf(io.Stdout, "Re-encrypted %d provider keys and %d Bedrock credentials with the active key. Keys other than the first may now be removed from --encryption-keys.\n", res.Keys, res.Credentials)
							return nil
						})
				},
			},
		},
	}
}

func withProviders(ctx context.Context, io IO, args []string, cmd, summary string, batch bool, fn func(context.Context, *providers.Service, encryptionConfig) error) (err error) {
	cfg := encryptionConfig{BatchSize: 100}
	rest, err := encryptionOptionSet(cmd, summary, &cfg, batch).Parse(args, io.Getenv, io.Stdout)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("aigate encryption %s takes no arguments, got %q", cmd, rest)
	}
	logger := newLogger(cfg.Logging, io.Stderr)
	opened, err := server.OpenDatabase(ctx, cfg.Database, "aigate encryption "+cmd, logger)
	if err != nil {
		return err
	}
	defer func() {
		if cErr := opened.Close(); cErr != nil && err == nil {
			err = cErr
		}
	}()
	if err := migrate.New(opened.DB, migrate.Embedded(), buildinfo.Version()).CheckCurrent(ctx); err != nil {
		return err
	}
	keyring, err := server.LoadKeyring(cfg.Keys, cfg.Database, logger)
	if err != nil {
		return err
	}
	return fn(ctx, providers.NewService(opened.DB, keyring, &audit.Recorder{}, nil), cfg)
}
