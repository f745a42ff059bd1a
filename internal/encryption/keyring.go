package encryption

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

const (
	// KeySize is the length of a key in bytes (AES-256).
	KeySize = 32

	formatVersion = 1
	digestSize    = 8
	nonceSize     = 12
	tagSize       = 16
	headerSize    = 1 + digestSize // version and digest: authenticated as additional data
	prefixSize    = headerSize + nonceSize
	minCiphertext = prefixSize + tagSize
)

// digestDomain separates key digests from any other SHA-256 of the key.
const digestDomain = "aigate-key-digest\x00"

type rawDigest [digestSize]byte

func (d rawDigest) String() string { return hex.EncodeToString(d[:]) }

func digestOf(key []byte) rawDigest {
	h := sha256.New()
	h.Write([]byte(digestDomain))
	h.Write(key)
	var d rawDigest
	copy(d[:], h.Sum(nil))
	return d
}

type keyEntry struct {
	digest rawDigest
	aead   cipher.AEAD
}

// Keyring encrypts with its first key and decrypts with any of its keys. It
// keeps no copy of the key bytes, only the ciphers built from them, and is
// safe for concurrent use.
type Keyring struct {
	keys   []keyEntry // keys[0] is the active key
	byHash map[rawDigest]cipher.AEAD
}

// NewKeyring builds a keyring from raw keys of KeySize bytes; the first one
// encrypts. The keys are not retained.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	return newKeyring("", false, keys, nil)
}

// newKeyring checks keys and builds the keyring. positions, when not nil,
// gives each key's position (or line, when lines is set) in source for error
// messages; otherwise keys are numbered from 1.
func newKeyring(source string, lines bool, keys [][]byte, positions []int) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, &KeyError{Source: source, Reason: "no keys given"}
	}
	pos := func(i int) int {
		if positions != nil {
			return positions[i]
		}
		return i + 1
	}
	kr := &Keyring{byHash: make(map[rawDigest]cipher.AEAD, len(keys))}
	for i, key := range keys {
		if len(key) != KeySize {
			return nil, &KeyError{Source: source, Position: pos(i), line: lines,
				Reason: "decodes to " + strconv.Itoa(len(key)) + " bytes, not " + strconv.Itoa(KeySize)}
		}
		d := digestOf(key)
		if _, dup := kr.byHash[d]; dup {
			first := 0
			for j := range kr.keys {
				if kr.keys[j].digest == d {
					first = pos(j)
					break
				}
			}
			what := "key"
			if lines {
				what = "line"
			}
			return nil, &KeyError{Source: source, Position: pos(i), line: lines,
				Reason: fmt.Sprintf("same key as %s %d; list each key once", what, first)}
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("create AES cipher: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("create GCM: %w", err)
		}
		kr.keys = append(kr.keys, keyEntry{digest: d, aead: aead})
		kr.byHash[d] = aead
	}
	return kr, nil
}

// GenerateKey returns a new random key of KeySize bytes.
func GenerateKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate encryption key: %w", err)
	}
	return key, nil
}

// ActiveDigest is the digest of the key new ciphertexts are made with.
func (k *Keyring) ActiveDigest() string { return k.keys[0].digest.String() }

// Digests lists the digests of all keys, active key first.
func (k *Keyring) Digests() []string {
	out := make([]string, len(k.keys))
	for i, e := range k.keys {
		out[i] = e.digest.String()
	}
	return out
}

// String describes the keyring by digests only, so printing or logging a
// Keyring never shows key material.
func (k *Keyring) String() string {
	return "encryption.Keyring{" + strings.Join(k.Digests(), ",") + "}"
}

// GoString is String, for %#v.
func (k *Keyring) GoString() string { return k.String() }

// Encrypt seals plaintext with the active key. associatedData is not stored
// but must be given again to Decrypt: pass what identifies where the
// ciphertext is kept (e.g. "ai_provider_keys:<id>") so that a ciphertext
// copied elsewhere does not decrypt.
func (k *Keyring) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	active := k.keys[0]
	out := make([]byte, prefixSize, prefixSize+len(plaintext)+tagSize)
	out[0] = formatVersion
	copy(out[1:headerSize], active.digest[:])
	nonce := out[headerSize:prefixSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("generate nonce: %w", err)
	}
	return active.aead.Seal(out, nonce, plaintext, additionalData(out, associatedData)), nil
}

// Decrypt opens a ciphertext made by Encrypt with any key of the keyring and
// the same associatedData. Its errors wrap ErrMalformed, are a
// *MissingKeyError, or are ErrNotAuthentic.
func (k *Keyring) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	d, err := parseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	aead, ok := k.byHash[d]
	if !ok {
		return nil, &MissingKeyError{Digest: d.String()}
	}
	plaintext, err := aead.Open(nil, ciphertext[headerSize:prefixSize], ciphertext[prefixSize:],
		additionalData(ciphertext, associatedData))
	if err != nil {
		return nil, ErrNotAuthentic
	}
	return plaintext, nil
}

// EncryptString is Encrypt for string plaintext and associated data.
func (k *Keyring) EncryptString(plaintext, associatedData string) ([]byte, error) {
	return k.Encrypt([]byte(plaintext), []byte(associatedData))
}

// DecryptString is Decrypt for string plaintext and associated data.
func (k *Keyring) DecryptString(ciphertext []byte, associatedData string) (string, error) {
	b, err := k.Decrypt(ciphertext, []byte(associatedData))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// KeyDigest says which key made ciphertext, without decrypting it, so
// `aigate encryption rotate` can find what is not under the active key.
func KeyDigest(ciphertext []byte) (string, error) {
	d, err := parseHeader(ciphertext)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

func parseHeader(ciphertext []byte) (rawDigest, error) {
	var d rawDigest
	if len(ciphertext) == 0 {
		return d, fmt.Errorf("%w: it is empty", ErrMalformed)
	}
	if v := ciphertext[0]; v != formatVersion {
		return d, fmt.Errorf("%w: unknown format version %d (this aigate reads version %d; was it written by a newer aigate?)",
			ErrMalformed, v, formatVersion)
	}
	if len(ciphertext) < minCiphertext {
		return d, fmt.Errorf("%w: %d bytes is shorter than the %d-byte minimum", ErrMalformed, len(ciphertext), minCiphertext)
	}
	copy(d[:], ciphertext[1:headerSize])
	return d, nil
}

// additionalData is the GCM additional data: the ciphertext's header, then
// the caller's associated data. The header has a fixed length, so the
// concatenation is unambiguous.
func additionalData(ciphertext, associatedData []byte) []byte {
	ad := make([]byte, 0, headerSize+len(associatedData))
	ad = append(ad, ciphertext[:headerSize]...)
	return append(ad, associatedData...)
}
