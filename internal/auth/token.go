package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"net/http"
	"strings"
)

// TokenPrefix starts every aigate API token, so secret scanners (and people)
// can recognise one.
const TokenPrefix = "aig_"

var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewToken returns a fresh token: its public id, the full secret string to
// hand to the user once, and the hash to store.
func NewToken() (id, token string, hash []byte, err error) {
	idBytes := make([]byte, 8) // 64 bits: unique enough for a lookup key
	secret := make([]byte, 32) // 256 bits: the credential itself
	if _, err := rand.Read(idBytes); err != nil {
		return "", "", nil, err
	}
	if _, err := rand.Read(secret); err != nil {
		return "", "", nil, err
	}
	id = tokenEncoding.EncodeToString(idBytes)
	s := tokenEncoding.EncodeToString(secret)
	return id, TokenPrefix + id + "_" + s, HashSecret(s), nil
}

// ParseToken splits aig_<id>_<secret>. Both parts must be in the token
// alphabet: the id is looked up as text, and a byte PostgreSQL refuses
// (0x80 and above, not valid UTF-8) would fail the lookup with an error
// instead of answering "unknown token".
func ParseToken(token string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(token, TokenPrefix)
	if !found {
		return "", "", false
	}
	id, secret, found = strings.Cut(rest, "_")
	if !found || len(id) != 13 || len(secret) != 52 || !inTokenAlphabet(id) || !inTokenAlphabet(secret) {
		return "", "", false
	}
	return id, secret, true
}

func inTokenAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// HashSecret is the stored form of a token secret.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// TokenFromRequest returns the aigate token r carries, or "". The admin API
// and the gateway read it by this one rule, so a client configured for one
// sends it right to the other (whether the token may be used there is its
// scope's business): a bearer token in Authorization, the scheme in any case
// (RFC 9110 §11.1: "Bearer", "bearer", "BEARER"); otherwise x-api-key, the
// header Anthropic clients send their key in. White space around the token is
// not part of it.
func TokenFromRequest(r *http.Request) string {
	scheme, credentials, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if ok && strings.EqualFold(scheme, "bearer") {
		if token := strings.TrimSpace(credentials); token != "" {
			return token
		}
	}
	return strings.TrimSpace(r.Header.Get("X-Api-Key"))
}
