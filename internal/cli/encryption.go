package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/buildinfo"
	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/migrate"
	"github.com/aigate/aigate/internal/dbopen"
	"github.com/aigate/aigate/internal/encryption"
	"github.com/aigate/aigate/internal/providers"
)

// storeConfig is what commands that read or write encrypted provider data
// directly in the database need: the database and the servers' keys.
type storeConfig struct {
	Keys      string
	BatchSize int
	config.Database
	config.Logging
}

func storeOptionSet(command, summary string, cfg *storeConfig, batch bool) *config.Set {
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
		Command: command,
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
					return withProviderStore(ctx, io, args, "aigate encryption status", "List each encryption key (by digest) that stored provider keys and Bedrock credentials were encrypted with, and whether the given keys include it. Changes nothing.", false,
						func(ctx context.Context, st providerStore) error {
							uses, err := st.providers.KeyUses(ctx)
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
					return withProviderStore(ctx, io, args, "aigate encryption rotate", "Re-encrypt every provider key and Bedrock credential with the first of --encryption-keys, in batches. Safe to interrupt and run again; safe while servers run. Give the same keys the servers have: the new key first, the old ones after it.", true,
						func(ctx context.Context, st providerStore) error {
							res, err := st.providers.Rotate(ctx, st.cfg.BatchSize, func(r providers.RotateResult) {
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

// providerStore is the database and a providers service over it.
type providerStore struct {
	db        *database.DB
	providers *providers.Service
	cfg       storeConfig
}

// withProviderStore opens the database (embedded or external) with the
// given keys, checks the schema is current, and runs fn over it.
func withProviderStore(ctx context.Context, io IO, args []string, command, summary string, batch bool, fn func(context.Context, providerStore) error) error {
	cfg := storeConfig{BatchSize: 100}
	rest, err := storeOptionSet(command, summary, &cfg, batch).Parse(args, io.Getenv, io.Stdout)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%s takes no arguments, got %q", command, rest)
	}
	logger := newLogger(cfg.Logging, io.Stderr)
	return withDatabase(ctx, cfg.Database, command, logger, func(ctx context.Context, opened *dbopen.Opened) error {
		if err := migrate.New(opened.DB, migrate.Embedded(), buildinfo.Version()).CheckCurrent(ctx); err != nil {
			return fmt.Errorf("%w; start the server or run `aigate migrate up` first", err)
		}
		keyring, err := encryption.LoadKeyring(cfg.Keys, embeddedDataDir(cfg.Database), logger)
		if err != nil {
			return err
		}
		return fn(ctx, providerStore{db: opened.DB, providers: providers.NewService(opened.DB, keyring, &audit.Recorder{}, nil), cfg: cfg})
	})
}
