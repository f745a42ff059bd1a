package encryption

import (
	"encoding/base64"
	"strings"
)

// ParseKeys parses the value of AIGATE_ENCRYPTION_KEYS: comma-separated keys
// of KeySize bytes in base64 (standard or URL-safe alphabet, padded or not),
// spaces around each key ignored. The first key encrypts. Errors name the
// key's position and the expected form, never the key.
func ParseKeys(s string) (*Keyring, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &KeyError{Source: EnvKeys, Reason: "no keys given"}
	}
	fields := strings.Split(s, ",")
	keys := make([][]byte, 0, len(fields))
	for i, f := range fields {
		key, err := decodeKey(EnvKeys, i+1, false, f)
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	return newKeyring(EnvKeys, false, keys, nil)
}

// decodeKey decodes one base64 key; position and line only go into errors.
func decodeKey(source string, position int, line bool, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, &KeyError{Source: source, Position: position, line: line, Reason: "empty"}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if key, err := enc.DecodeString(s); err == nil {
			return key, nil
		}
	}
	// The decoder's error is left out: it adds nothing a person can act on.
	return nil, &KeyError{Source: source, Position: position, line: line, Reason: "not valid base64"}
}
