package encryption_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/encryption"
)

func TestParseKeys(t *testing.T) {
	t.Parallel()
	// Keys whose base64 text is easy to spot in a message.
	keyA, keyB := testKey(0xA), testKey(0xB)
	a := base64.StdEncoding.EncodeToString(keyA)
	b := base64.StdEncoding.EncodeToString(keyB)
	short := base64.StdEncoding.EncodeToString([]byte("recognisable-short-secret"))
	badB64 := "recognisable!secret!not*base64"
	// Bytes that encode to both '+' / '/' in standard and '-' / '_' in URL-safe base64.
	urlKey := []byte(strings.Repeat("\xfb\xff\xbf", 11)[:encryption.KeySize])
	urlSafe := base64.RawURLEncoding.EncodeToString(urlKey)
	require.True(t, strings.ContainsAny(urlSafe, "-_"), urlSafe)

	tests := []struct {
		name     string
		in       string
		wantKeys [][]byte // the keys, in order, when no error
		position int      // expected KeyError.Position when an error
		errHas   string   // part of the reason
		secret   string   // must not appear in the error
	}{
		{name: "single", in: a, wantKeys: [][]byte{keyA}},
		{name: "multiple with spaces", in: " " + b + " ,\t" + a + " ", wantKeys: [][]byte{keyB, keyA}},
		{name: "unpadded standard", in: strings.TrimRight(a, "="), wantKeys: [][]byte{keyA}},
		{name: "URL-safe unpadded", in: urlSafe, wantKeys: [][]byte{urlKey}},
		{name: "URL-safe padded", in: base64.URLEncoding.EncodeToString(urlKey) + "," + a, wantKeys: [][]byte{urlKey, keyA}},
		{name: "empty string", in: "", errHas: "no keys"},
		{name: "only spaces", in: "  ", errHas: "no keys"},
		{name: "empty entry", in: a + ", ," + b, position: 2, errHas: "empty", secret: a},
		{name: "trailing comma", in: a + ",", position: 2, errHas: "empty", secret: a},
		{name: "short key", in: a + "," + short, position: 2, errHas: "25 bytes, not 32", secret: short},
		{name: "bad base64", in: badB64 + "," + a, position: 1, errHas: "not valid base64", secret: "recognisable"},
		{name: "duplicate", in: a + "," + b + "," + a, position: 3, errHas: "same key as key 1", secret: a},
		{name: "duplicate in another alphabet", in: urlSafe + "," + base64.StdEncoding.EncodeToString(urlKey),
			position: 2, errHas: "same key as key 1", secret: urlSafe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr, err := encryption.ParseKeys(tt.in)
			if tt.errHas == "" {
				require.NoError(t, err)
				require.Equal(t, keyring(t, tt.wantKeys...).Digests(), kr.Digests())
				return
			}
			require.ErrorContains(t, err, tt.errHas)
			var ke *encryption.KeyError
			require.ErrorAs(t, err, &ke)
			require.Equal(t, tt.position, ke.Position)
			msg := err.Error()
			require.Contains(t, msg, "AIGATE_ENCRYPTION_KEYS")
			require.Contains(t, msg, "openssl rand -base64 32")
			if tt.position > 0 {
				require.Contains(t, msg, fmt.Sprintf("key %d:", tt.position))
			}
			if tt.secret != "" {
				require.NotContains(t, msg, tt.secret)
				require.NotContains(t, msg, tt.secret[:12])
			}
		})
	}
}
