package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// The API reads the token by the gateway's rule (auth.TokenFromRequest), so
// a client configured for one works on the other.
func TestTokenHeaders(t *testing.T) {
	t.Parallel()
	r, _, token := setup(t)
	for _, tc := range []struct {
		name   string
		header string
		value  string
		want   int
	}{
		{"bearer", "Authorization", "Bearer " + token, http.StatusOK},
		{"scheme in lower case", "Authorization", "bearer " + token, http.StatusOK},
		{"scheme in upper case", "Authorization", "BEARER " + token, http.StatusOK},
		{"x-api-key", "X-Api-Key", token, http.StatusOK},
		{"another scheme", "Authorization", "Basic " + token, http.StatusUnauthorized},
		{"no token", "Authorization", "Bearer ", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest("GET", r.base+"/api/v1/users/me", nil)
			require.NoError(t, err)
			req.Header.Set(tc.header, tc.value)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, tc.want, resp.StatusCode)
		})
	}
}
