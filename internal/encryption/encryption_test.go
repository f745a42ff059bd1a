package encryption_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aigate/aigate/internal/encryption"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKey is a fixed key filled with b, so tests can tell keys apart.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, encryption.KeySize) }

func keyring(t *testing.T, keys ...[]byte) *encryption.Keyring {
	t.Helper()
	kr, err := encryption.NewKeyring(keys...)
	require.NoError(t, err)
	return kr
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	kr := keyring(t, testKey(1))
	for _, plaintext := range [][]byte{nil, []byte("sk-live-abc"), bytes.Repeat([]byte("x"), 10000)} {
		ct, err := kr.Encrypt(plaintext, []byte("ai_provider_keys:1"))
		require.NoError(t, err)
		if len(plaintext) > 0 {
			require.False(t, bytes.Contains(ct, plaintext), "plaintext stored in clear")
		}
		got, err := kr.Decrypt(ct, []byte("ai_provider_keys:1"))
		require.NoError(t, err)
		require.Equal(t, string(plaintext), string(got))
	}

	ct, err := kr.EncryptString("sk-secret", "row:7")
	require.NoError(t, err)
	require.NotContains(t, string(ct), "sk-secret")
	s, err := kr.DecryptString(ct, "row:7")
	require.NoError(t, err)
	require.Equal(t, "sk-secret", s)
}

func TestEncryptionsDiffer(t *testing.T) {
	t.Parallel()
	kr := keyring(t, testKey(1))
	a, err := kr.Encrypt([]byte("same"), nil)
	require.NoError(t, err)
	b, err := kr.Encrypt([]byte("same"), nil)
	require.NoError(t, err)
	require.NotEqual(t, a, b)
}

func TestAssociatedDataMismatch(t *testing.T) {
	t.Parallel()
	kr := keyring(t, testKey(1))
	ct, err := kr.EncryptString("sk-secret", "ai_provider_keys:1")
	require.NoError(t, err)
	for _, ad := range []string{"ai_provider_keys:2", "", "ai_provider_keys:1 "} {
		_, err := kr.DecryptString(ct, ad)
		require.ErrorIs(t, err, encryption.ErrNotAuthentic, "associated data %q", ad)
		require.NotContains(t, err.Error(), "sk-secret")
	}
}

func TestTamperingFails(t *testing.T) {
	t.Parallel()
	kr := keyring(t, testKey(1))
	ct, err := kr.EncryptString("sk-secret", "row:1")
	require.NoError(t, err)
	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x01
		_, err := kr.DecryptString(bad, "row:1")
		require.Error(t, err, "byte %d flipped", i)
		var missing *encryption.MissingKeyError
		switch {
		case i == 0: // version
			require.ErrorIs(t, err, encryption.ErrMalformed)
		case i < 9: // key digest
			require.ErrorAs(t, err, &missing)
		default: // nonce, sealed data, tag
			require.ErrorIs(t, err, encryption.ErrNotAuthentic)
		}
	}
	_, err = kr.DecryptString(ct[:len(ct)-1], "row:1")
	require.ErrorIs(t, err, encryption.ErrNotAuthentic, "truncated")
	_, err = kr.DecryptString(append(bytes.Clone(ct), 0), "row:1")
	require.ErrorIs(t, err, encryption.ErrNotAuthentic, "extended")
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	kr := keyring(t, testKey(1))
	for name, ct := range map[string][]byte{
		"empty":       nil,
		"version 2":   append([]byte{2}, make([]byte, 40)...),
		"too short":   append([]byte{1}, make([]byte, 35)...),
		"header only": append([]byte{1}, make([]byte, 20)...),
	} {
		_, err := kr.Decrypt(ct, nil)
		require.ErrorIs(t, err, encryption.ErrMalformed, name)
		_, err = encryption.KeyDigest(ct)
		require.ErrorIs(t, err, encryption.ErrMalformed, name)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	a, b := testKey(0xA), testKey(0xB)
	onlyA, bThenA, onlyB := keyring(t, a), keyring(t, b, a), keyring(t, b)
	require.Equal(t, []string{onlyB.ActiveDigest(), onlyA.ActiveDigest()}, bThenA.Digests())
	require.NotEqual(t, onlyA.ActiveDigest(), onlyB.ActiveDigest())

	underA, err := onlyA.EncryptString("old secret", "row:1")
	require.NoError(t, err)
	d, err := encryption.KeyDigest(underA)
	require.NoError(t, err)
	require.Equal(t, onlyA.ActiveDigest(), d)

	// Old ciphertexts still decrypt after a new key is put first.
	s, err := bThenA.DecryptString(underA, "row:1")
	require.NoError(t, err)
	require.Equal(t, "old secret", s)

	// New ones are made with the new key.
	underB, err := bThenA.EncryptString("new secret", "row:1")
	require.NoError(t, err)
	d, err = encryption.KeyDigest(underB)
	require.NoError(t, err)
	require.Equal(t, bThenA.ActiveDigest(), d)
	require.Equal(t, onlyB.ActiveDigest(), d)

	// Once A is dropped, its ciphertexts fail loudly, naming A.
	_, err = onlyB.DecryptString(underA, "row:1")
	var missing *encryption.MissingKeyError
	require.ErrorAs(t, err, &missing)
	require.Equal(t, onlyA.ActiveDigest(), missing.Digest)
	require.Contains(t, err.Error(), onlyA.ActiveDigest())
	require.Contains(t, err.Error(), "AIGATE_ENCRYPTION_KEYS")
}

func TestDigestIsStableAndNotTheKey(t *testing.T) {
	t.Parallel()
	key := testKey(7)
	d1 := keyring(t, key).ActiveDigest()
	require.Equal(t, d1, keyring(t, key).ActiveDigest())
	require.Len(t, d1, 16)
	require.NotContains(t, fmt.Sprintf("%x", key), d1)

	kr := keyring(t, key, testKey(8))
	for _, s := range []string{kr.String(), fmt.Sprintf("%v", kr), fmt.Sprintf("%+v", kr), fmt.Sprintf("%#v", kr)} {
		require.Contains(t, s, d1)
		require.NotContains(t, s, "\x07\x07\x07\x07")
		require.NotContains(t, s, "7, 7, 7, 7")
	}
}

func TestNewKeyringErrors(t *testing.T) {
	t.Parallel()
	_, err := encryption.NewKeyring()
	require.ErrorContains(t, err, "no keys")

	_, err = encryption.NewKeyring(testKey(1), testKey(2)[:16])
	var ke *encryption.KeyError
	require.ErrorAs(t, err, &ke)
	require.Equal(t, 2, ke.Position)
	require.ErrorContains(t, err, "16 bytes")

	_, err = encryption.NewKeyring(testKey(1), testKey(2), testKey(1))
	require.ErrorAs(t, err, &ke)
	require.Equal(t, 3, ke.Position)
	require.ErrorContains(t, err, "same key as key 1")
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	a, err := encryption.GenerateKey()
	require.NoError(t, err)
	b, err := encryption.GenerateKey()
	require.NoError(t, err)
	require.Len(t, a, encryption.KeySize)
	require.NotEqual(t, a, b)
	keyring(t, a, b)
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	kr := keyring(t, testKey(1), testKey(2))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			ad := fmt.Sprintf("row:%d", i)
			for range 100 {
				ct, err := kr.EncryptString(ad, ad)
				if err != nil {
					errs <- err
					return
				}
				s, err := kr.DecryptString(ct, ad)
				if err != nil || s != ad {
					errs <- errors.Join(err, fmt.Errorf("got %q, want %q", s, ad))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func FuzzDecrypt(f *testing.F) {
	kr, err := encryption.NewKeyring(testKey(1), testKey(2))
	require.NoError(f, err)
	valid, err := kr.EncryptString("sk-secret", "row:1")
	require.NoError(f, err)
	f.Add(valid, []byte("row:1"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1}, []byte("row:1"))
	f.Add(valid[:30], []byte(nil))
	f.Fuzz(func(t *testing.T, ciphertext, associatedData []byte) {
		plaintext, err := kr.Decrypt(ciphertext, associatedData)
		if err == nil {
			// Only an unaltered ciphertext with its own associated data opens.
			require.Equal(t, "sk-secret", string(plaintext))
		}
		_, _ = encryption.KeyDigest(ciphertext)
	})
}
