package encryption

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// keyFileMode is the only permission a key file may have: readable and
// writable by its owner alone.
const keyFileMode = 0o600

// LoadOrCreateKeyFile reads the keyring kept in the file at path, one base64
// key per line (blank lines ignored, first key active), or, if there is no
// file, creates it holding a new key and reports created.
//
// Creation is atomic and safe against other processes doing the same: the
// key is written to a temporary file in the same directory, which is then
// hard-linked to path. A link fails if path exists, so when two processes
// race exactly one wins and the other reads the winner's key; nobody ever
// sees a partly written file.
//
// A key file that group or others may access is refused.
func LoadOrCreateKeyFile(path string) (kr *Keyring, created bool, err error) {
	kr, err = readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kr, false, err
	}
	won, err := createKeyFile(path)
	if err != nil {
		return nil, false, err
	}
	// Winner or not, the file at path is now complete; read it back so the
	// keyring is exactly what every other process will read.
	kr, err = readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, &KeyFileError{Path: path, Reason: "gone right after it was put in place", Err: err,
			Fix: "check that it is not a dangling symlink and that nothing else removes files there"}
	}
	if err != nil {
		return nil, false, err
	}
	return kr, won, nil
}

// readKeyFile returns an error wrapping fs.ErrNotExist when there is no file.
func readKeyFile(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, &KeyFileError{Path: path, Reason: "cannot open", Err: err,
			Fix: "check that aigate runs as the user who owns the file"}
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose on a failed close
	fi, err := f.Stat()
	if err != nil {
		return nil, &KeyFileError{Path: path, Reason: "cannot stat", Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &KeyFileError{Path: path, Reason: "is not a regular file",
			Fix: "move it away; aigate creates the key file itself when none exists"}
	}
	// Windows has no such permission bits to check.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, &KeyFileError{Path: path,
			Reason: fmt.Sprintf("permissions %04o let other users read the encryption key", perm),
			Fix:    "run `chmod 600 " + path + "`, and consider rotating the key if others may have read it"}
	}
	data, err := readAll(f)
	if err != nil {
		return nil, &KeyFileError{Path: path, Reason: "cannot read", Err: err}
	}
	var keys [][]byte
	var lines []int
	for i, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		key, err := decodeKey(path, i+1, true, l)
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
		lines = append(lines, i+1)
	}
	if len(keys) == 0 {
		return nil, &KeyFileError{Path: path, Reason: "holds no key",
			Fix: "put the key back (one base64 key per line) from a backup, or remove the empty file " +
				"if nothing was ever encrypted with it; a new key cannot decrypt existing secrets"}
	}
	return newKeyring(path, true, keys, lines)
}

// maxKeyFileSize bounds what is read from a key file: enough for many keys,
// little enough that a wrong path cannot exhaust memory.
const maxKeyFileSize = 64 << 10

func readAll(f *os.File) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("larger than %d bytes, too large to be a key file", maxKeyFileSize)
	}
	return data, nil
}

// createKeyFile creates the key file at path holding a new key, unless
// another process got there first; it reports whether this call created it.
func createKeyFile(path string) (won bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, &KeyFileError{Path: path, Reason: "cannot create its directory", Err: err,
			Fix: "create " + dir + " and make it writable by the user aigate runs as"}
	}
	key, err := GenerateKey()
	if err != nil {
		return false, err
	}
	line := base64.StdEncoding.EncodeToString(key) + "\n"
	clear(key)

	// CreateTemp makes the file with mode 0600 and a name nobody else uses.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, &KeyFileError{Path: path, Reason: "cannot create a temporary file next to it", Err: err,
			Fix: "make " + dir + " writable by the user aigate runs as"}
	}
	tmpName := tmp.Name()
	// After a successful link path keeps the data; a temp file that cannot be
	// removed is only litter, never a second key anyone reads.
	defer func() { _ = os.Remove(tmpName) }()
	if err := writeAndSync(tmp, line); err != nil {
		return false, &KeyFileError{Path: path, Reason: "cannot write the new key", Err: err}
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil // another process won; its file is complete
		}
		return false, &KeyFileError{Path: path, Reason: "cannot put the new key file in place", Err: err,
			Fix: "keep the data dir on a file system that supports hard links, or set " + EnvKeys}
	}
	syncDir(dir)
	return true, nil
}

func writeAndSync(f *os.File, s string) error {
	err := f.Chmod(keyFileMode)
	if err == nil {
		_, err = f.WriteString(s)
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// syncDir makes the new directory entry durable where the platform allows;
// failure only weakens durability across a power loss, so it is ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
