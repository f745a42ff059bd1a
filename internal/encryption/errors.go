package encryption

import (
	"errors"
	"fmt"
)

// KeyForm is the accepted form of one key, for error messages and help text.
const KeyForm = "32 random bytes in base64, e.g. from `openssl rand -base64 32`"

// EnvKeys is the environment variable the keys come from, named in errors.
const EnvKeys = "AIGATE_ENCRYPTION_KEYS"

// ErrMalformed is wrapped by the error Decrypt and KeyDigest return for
// input that is not a ciphertext of a format this package knows.
var ErrMalformed = errors.New("malformed ciphertext")

// ErrNotAuthentic is returned by Decrypt when the key is present but the
// ciphertext does not verify under it and the associated data.
var ErrNotAuthentic = errors.New("ciphertext does not authenticate: it was altered, or belongs to another row")

// KeyError is a key, or list of keys, that cannot be used. It says where the
// key came from and which one it is; it never includes key material.
type KeyError struct {
	// Source is where the keys came from: EnvKeys, a key file path, or ""
	// for keys passed to NewKeyring.
	Source string
	// Position is the 1-based position of the key in the list (the line
	// number for a key file); 0 when the error is about the list as a whole.
	Position int
	Reason   string

	line bool // Position is a line number of the key file Source
}

func (e *KeyError) Error() string {
	var msg string
	switch {
	case e.Position == 0 && e.Source == "":
		msg = "encryption keys: " + e.Reason
	case e.Position == 0:
		msg = e.Source + ": " + e.Reason
	case e.line:
		msg = fmt.Sprintf("encryption key file %s, line %d: %s", e.Source, e.Position, e.Reason)
	case e.Source == "":
		msg = fmt.Sprintf("encryption key %d: %s", e.Position, e.Reason)
	default:
		msg = fmt.Sprintf("%s: key %d: %s", e.Source, e.Position, e.Reason)
	}
	if e.Position == 0 {
		return msg + "; expected one or more keys, each " + KeyForm
	}
	return msg + "; expected " + KeyForm
}

// MissingKeyError is returned by Decrypt for a ciphertext made with a key
// that is not in the keyring.
type MissingKeyError struct {
	Digest string // digest of the key the ciphertext was made with
}

func (e *MissingKeyError) Error() string {
	return "cannot decrypt: it was encrypted with key " + e.Digest + ", which is not in " + EnvKeys +
		"; add that key back (any position after the first) and run `aigate encryption rotate` " +
		"to re-encrypt everything with the active key"
}

// KeyFileError is a key file that cannot be read, created or used. Reason
// says what is wrong, Fix what to do about it.
type KeyFileError struct {
	Path   string
	Reason string
	Fix    string
	Err    error
}

func (e *KeyFileError) Error() string {
	msg := "encryption key file " + e.Path + ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

func (e *KeyFileError) Unwrap() error { return e.Err }
