package server

import (
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/encryption"
)

// KeyFileName is the generated key file in the data dir, used only with the
// embedded PostgreSQL and no configured keys.
const KeyFileName = "encryption.key"

// errNoKeys explains why an external database needs configured keys: every
// replica must decrypt what any other replica encrypted.
var errNoKeys = errors.New("no encryption keys: with an external database (--postgres-url) every replica must use the same keys, so aigate will not generate one; set --encryption-keys (AIGATE_ENCRYPTION_KEYS) to one or more comma-separated keys, each " +
	encryption.KeyForm + ", and give every replica the same value")

// LoadKeyring returns the keys secrets at rest are encrypted with: keys
// (the --encryption-keys value) when given, else the generated key file of
// the embedded database; an external database without keys is an error.
func LoadKeyring(keys string, cfg config.Database, logger *slog.Logger) (*encryption.Keyring, error) {
	if keys != "" {
		return encryption.ParseKeys(keys)
	}
	if cfg.PostgresURL != "" {
		return nil, errNoKeys
	}
	path := filepath.Join(cfg.DataDir, KeyFileName)
	kr, created, err := encryption.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, err
	}
	if created {
		logger.Info("generated an encryption key", "path", path, "key", kr.ActiveDigest(),
			"note", "back it up with the data dir: without it, stored provider keys cannot be decrypted")
	}
	return kr, nil
}
