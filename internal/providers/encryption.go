package providers

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/encryption"
)

// KeyUse is how many stored ciphertexts one encryption key made.
type KeyUse struct {
	Digest      string
	Ciphertexts int64
	InKeyring   bool
	Active      bool
}

// KeyUses lists the encryption keys stored ciphertexts were made with.
func (s *Service) KeyUses(ctx context.Context) ([]KeyUse, error) {
	rows, err := dbsqlc.New(s.db.Pool).EncryptionKeyDigestsInUse(ctx)
	if err != nil {
		return nil, fmt.Errorf("list encryption keys in use: %w", err)
	}
	known := map[string]bool{}
	for _, d := range s.keyring.Digests() {
		known[d] = true
	}
	out := make([]KeyUse, len(rows))
	for i, r := range rows {
		out[i] = KeyUse{Digest: r.Digest, Ciphertexts: r.Ciphertexts, InKeyring: known[r.Digest],
			Active: r.Digest == s.keyring.ActiveDigest()}
	}
	return out, nil
}

// MissingKeysError says stored secrets were encrypted with keys the
// keyring lacks: they cannot be decrypted until those keys are given again.
type MissingKeysError struct {
	Uses []KeyUse // the missing keys only
}

func (e *MissingKeysError) Error() string {
	parts := make([]string, len(e.Uses))
	for i, u := range e.Uses {
		parts[i] = fmt.Sprintf("%s (%d ciphertexts)", u.Digest, u.Ciphertexts)
	}
	return fmt.Sprintf("stored provider keys or credentials were encrypted with encryption keys that are not in %s: %s; "+
		"add those keys back (after the first) and run `aigate encryption rotate` to re-encrypt everything with the active key",
		encryption.EnvKeys, strings.Join(parts, ", "))
}

// CheckKeys fails with a *MissingKeysError when some stored ciphertext was
// made with a key the keyring lacks. The server runs it at startup so a
// wrong AIGATE_ENCRYPTION_KEYS is found at once, not at the first request.
func (s *Service) CheckKeys(ctx context.Context) (stale int64, err error) {
	uses, err := s.KeyUses(ctx)
	if err != nil {
		return 0, err
	}
	var missing []KeyUse
	for _, u := range uses {
		if !u.InKeyring {
			missing = append(missing, u)
		}
		if !u.Active {
			stale += u.Ciphertexts
		}
	}
	if len(missing) > 0 {
		return stale, &MissingKeysError{Uses: missing}
	}
	return stale, nil
}

// RotateResult counts what Rotate re-encrypted.
type RotateResult struct {
	Keys        int
	Credentials int
}

// Rotate re-encrypts every provider key and Bedrock credential not under
// the active encryption key, batchSize rows per transaction, so it can be
// stopped at any point and run again to carry on. progress, when set, is
// called after each batch with the running totals.
func (s *Service) Rotate(ctx context.Context, batchSize int, progress func(RotateResult)) (RotateResult, error) {
	if batchSize <= 0 {
		batchSize = 100
	}
	if _, err := s.CheckKeys(ctx); err != nil {
		return RotateResult{}, err
	}
	active := s.keyring.ActiveDigest()
	var total RotateResult
	for {
		n, err := database.LockedTx(ctx, s.db, database.LockEncryptionRotate, func(ctx context.Context, tx pgx.Tx) (RotateResult, error) {
			return s.rotateBatch(ctx, tx, active, int32(batchSize))
		})
		if err != nil {
			return total, err
		}
		if n == (RotateResult{}) {
			break
		}
		total.Keys += n.Keys
		total.Credentials += n.Credentials
		if progress != nil {
			progress(total)
		}
	}
	if total == (RotateResult{}) {
		return total, nil
	}
	_, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		return struct{}{}, s.audit.Record(ctx, tx, audit.Entry{
			Actor: audit.System, Action: audit.ActionRotate, ResourceType: "encryption_key", ResourceID: active, ResourceName: active,
			Diff: audit.Diff{
				"reencrypted_keys":        {Old: nil, New: total.Keys},
				"reencrypted_credentials": {Old: nil, New: total.Credentials},
			},
		})
	})
	return total, err
}

func (s *Service) rotateBatch(ctx context.Context, tx pgx.Tx, active string, limit int32) (RotateResult, error) {
	q := dbsqlc.New(tx)
	var n RotateResult
	keys, err := q.AIProviderKeysToRotate(ctx, dbsqlc.AIProviderKeysToRotateParams{ActiveDigest: active, BatchSize: limit})
	if err != nil {
		return n, fmt.Errorf("select keys to re-encrypt: %w", err)
	}
	for _, k := range keys {
		sealed, err := s.reseal(k.ApiKey, keyAD(k.ID))
		if err != nil {
			return n, fmt.Errorf("re-encrypt key %s of provider %s: %w", k.ID, k.ProviderID, err)
		}
		if err := q.AIProviderKeyReencrypt(ctx, dbsqlc.AIProviderKeyReencryptParams{ID: k.ID, ApiKey: sealed, KeyDigest: active}); err != nil {
			return n, fmt.Errorf("store re-encrypted key: %w", err)
		}
		n.Keys++
	}
	creds, err := q.AIProviderCredentialsToRotate(ctx, dbsqlc.AIProviderCredentialsToRotateParams{ActiveDigest: &active, BatchSize: limit})
	if err != nil {
		return n, fmt.Errorf("select credentials to re-encrypt: %w", err)
	}
	for _, c := range creds {
		sealed, err := s.reseal(c.Credentials, credentialsAD(c.ID))
		if err != nil {
			return n, fmt.Errorf("re-encrypt credentials of provider %s: %w", c.ID, err)
		}
		if err := q.AIProviderCredentialsReencrypt(ctx, dbsqlc.AIProviderCredentialsReencryptParams{
			ID: c.ID, Credentials: sealed, CredentialsKeyDigest: &active,
		}); err != nil {
			return n, fmt.Errorf("store re-encrypted credentials: %w", err)
		}
		n.Credentials++
	}
	return n, nil
}

func (s *Service) reseal(ciphertext []byte, ad string) ([]byte, error) {
	plain, err := s.keyring.Decrypt(ciphertext, []byte(ad))
	if err != nil {
		return nil, err
	}
	return s.keyring.Encrypt(plain, []byte(ad))
}
