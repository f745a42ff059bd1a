// Package encryption encrypts secrets at rest (provider API keys, Bedrock
// credentials) with AES-256-GCM under a keyring: the first key encrypts,
// every key decrypts, so keys can be rotated.
//
// # Keys
//
// A key is 32 random bytes, written in base64 (for example the output of
// `openssl rand -base64 32`). AIGATE_ENCRYPTION_KEYS holds a comma-separated
// list of them (ParseKeys); with the embedded database and no keys given,
// aigate keeps one in <data-dir>/encryption.key instead (LoadOrCreateKeyFile).
//
// Every key has a digest: the first 8 bytes of
// SHA-256("aigate-key-digest\x00" || key), written as 16 hex characters. The
// digest names a key in ciphertexts, logs and error messages without
// revealing it. Key material never appears in an error, a log line or the
// String form of a Keyring.
//
// # Ciphertext format
//
//	offset  size  field
//	0       1     format version, always 1
//	1       8     raw digest of the key that encrypted it
//	9       12    random nonce
//	21      n+16  AES-256-GCM output: the sealed plaintext and its 16-byte tag
//
// The GCM additional data is the 9-byte header (version and digest)
// followed by the caller's associated data, so changing the header or
// moving a ciphertext to a row with different associated data (callers pass
// something like "ai_provider_keys:<id>") makes it fail to decrypt. Nonces
// are random, which is safe for far more encryptions than aigate makes under
// one key (the bound is about 2^32).
//
// # Rotation
//
// To rotate, put a new key first and keep the old one after it:
// AIGATE_ENCRYPTION_KEYS=<new>,<old>. New ciphertexts use the new key; old
// ones still decrypt. `aigate encryption rotate` then re-encrypts every
// ciphertext whose KeyDigest is not the ActiveDigest, after which the old key
// can be removed. A ciphertext whose key is not in the keyring fails with a
// MissingKeyError naming the key's digest.
package encryption
