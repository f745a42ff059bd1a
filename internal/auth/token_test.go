package auth_test

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/auth"
)

func TestTokenFromRequest(t *testing.T) {
	t.Parallel()
	const tok = "aig_abcdefghijklm_secret"
	for _, tc := range []struct {
		name          string
		authorization string
		apiKey        string
		want          string
	}{
		{name: "bearer", authorization: "Bearer " + tok, want: tok},
		{name: "scheme in lower case", authorization: "bearer " + tok, want: tok},
		{name: "scheme in upper case", authorization: "BEARER " + tok, want: tok},
		{name: "scheme in mixed case", authorization: "bEaReR " + tok, want: tok},
		{name: "several spaces", authorization: "Bearer   " + tok + "  ", want: tok},
		{name: "x-api-key", apiKey: tok, want: tok},
		{name: "x-api-key with spaces", apiKey: "  " + tok + " ", want: tok},
		{name: "bearer wins over x-api-key", authorization: "Bearer " + tok, apiKey: "other", want: tok},
		{name: "empty bearer falls back to x-api-key", authorization: "Bearer   ", apiKey: tok, want: tok},
		{name: "another scheme falls back to x-api-key", authorization: "Basic dXNlcjpwYXNz", apiKey: tok, want: tok},
		{name: "another scheme alone", authorization: "Basic dXNlcjpwYXNz", want: ""},
		{name: "scheme without a token", authorization: "Bearer", want: ""},
		{name: "scheme glued to the token", authorization: "Bearer" + tok, want: ""},
		{name: "a prefix of bearer is not bearer", authorization: "Bear " + tok, want: ""},
		{name: "nothing", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			if tc.authorization != "" {
				r.Header.Set("Authorization", tc.authorization)
			}
			if tc.apiKey != "" {
				r.Header.Set("X-Api-Key", tc.apiKey)
			}
			require.Equal(t, tc.want, auth.TokenFromRequest(r))
		})
	}
}
