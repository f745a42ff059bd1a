package encryption_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/encryption"
)

func TestLoadOrCreateKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "encryption.key")

	kr, created, err := encryption.LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.True(t, created)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}

	again, created, err := encryption.LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, kr.Digests(), again.Digests())

	// Ciphertexts from the first load open with the second.
	ct, err := kr.EncryptString("sk-secret", "row:1")
	require.NoError(t, err)
	s, err := again.DecryptString(ct, "row:1")
	require.NoError(t, err)
	require.Equal(t, "sk-secret", s)

	// No temporary files are left behind.
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

func TestLoadKeyFileWithSeveralKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "encryption.key")
	content := "\n" + base64.StdEncoding.EncodeToString(testKey(2)) + "\n\n  " +
		base64.RawURLEncoding.EncodeToString(testKey(1)) + "  \n"
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))

	kr, created, err := encryption.LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, keyring(t, testKey(2), testKey(1)).Digests(), kr.Digests())
}

func TestLoadKeyFileBadContent(t *testing.T) {
	t.Parallel()
	short := base64.StdEncoding.EncodeToString([]byte("recognisable-short-secret"))
	for name, tc := range map[string]struct {
		content, errHas string
	}{
		"no key":    {content: "\n \n", errHas: "holds no key"},
		"short key": {content: base64.StdEncoding.EncodeToString(testKey(1)) + "\n\n" + short + "\n", errHas: "line 3: decodes to 25 bytes"},
		"duplicate": {content: base64.StdEncoding.EncodeToString(testKey(1)) + "\n\n" + base64.StdEncoding.EncodeToString(testKey(1)), errHas: "line 3: same key as line 1"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "encryption.key")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o600))
			_, _, err := encryption.LoadOrCreateKeyFile(path)
			require.ErrorContains(t, err, tc.errHas)
			require.ErrorContains(t, err, path)
			require.NotContains(t, err.Error(), short)
			require.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString(testKey(1)))
		})
	}
}

func TestLoadKeyFileRefusesWidePermissions(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no group/other permission bits")
	}
	path := filepath.Join(t.TempDir(), "encryption.key")
	require.NoError(t, os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(testKey(1))+"\n"), 0o600))
	require.NoError(t, os.Chmod(path, 0o644))

	_, _, err := encryption.LoadOrCreateKeyFile(path)
	var kfe *encryption.KeyFileError
	require.ErrorAs(t, err, &kfe)
	require.Equal(t, path, kfe.Path)
	require.ErrorContains(t, err, "chmod 600 "+path)
	require.ErrorContains(t, err, "0644")
}

func TestLoadOrCreateKeyFileRace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "encryption.key")
	const n = 8
	var (
		wg      sync.WaitGroup
		digests [n]string
		created [n]bool
		errs    [n]error
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			kr, c, err := encryption.LoadOrCreateKeyFile(path)
			errs[i], created[i] = err, c
			if err == nil {
				digests[i] = kr.ActiveDigest()
			}
		})
	}
	close(start)
	wg.Wait()

	winners := 0
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, digests[0], digests[i])
		if created[i] {
			winners++
		}
	}
	require.Equal(t, 1, winners, "exactly one caller creates the file")

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary files are left behind")
}
