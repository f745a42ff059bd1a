package encryption

import (
	"errors"
	"log/slog"
	"path/filepath"
)

// KeyFileName is the generated key file in the data dir, used only with the
// embedded PostgreSQL and no configured keys.
const KeyFileName = "encryption.key"

// ErrNoKeys explains why an external database needs configured keys: every
// replica must decrypt what any other replica encrypted.
var ErrNoKeys = errors.New("no encryption keys: with an external database (--postgres-url) every replica must use the same keys, so aigate will not generate one; set --encryption-keys (AIGATE_ENCRYPTION_KEYS) to one or more comma-separated keys, each " +
	KeyForm + ", and give every replica the same value")

// LoadKeyring returns the keys secrets at rest are encrypted with: keys
// (the --encryption-keys value) when given; else, with the embedded
// database, the key file in its data dir, generated on first use; with an
// external database (embeddedDataDir ""), ErrNoKeys.
func LoadKeyring(keys, embeddedDataDir string, logger *slog.Logger) (*Keyring, error) {
	if keys != "" {
		return ParseKeys(keys)
	}
	if embeddedDataDir == "" {
		return nil, ErrNoKeys
	}
	path := filepath.Join(embeddedDataDir, KeyFileName)
	kr, created, err := LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, err
	}
	if created {
		logger.Info("generated an encryption key", "path", path, "key", kr.ActiveDigest(),
			"note", "back it up with the data dir: without it, stored provider keys cannot be decrypted")
	}
	return kr, nil
}
