package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/auth"
)

// loginResult is one login's answer.
type loginResult struct {
	code       int
	retryAfter string
	userID     any
}

func (r *replica) login(email, password string) loginResult {
	raw, err := json.Marshal(map[string]string{"email": email, "password": password})
	require.NoError(r.t, err)
	resp, err := http.Post(r.base+"/api/v1/login", "application/json", bytes.NewReader(raw))
	require.NoError(r.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	var out struct {
		User map[string]any `json:"user"`
	}
	require.NoError(r.t, json.Unmarshal(body, &out), string(body))
	return loginResult{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), userID: out.User["id"]}
}

// TestConcurrentWrongPasswordsAreThrottled (issue 12, acceptance 3): 50
// wrong passwords for one email sent at once get no more checks than 50 sent
// one after another: auth.LoginFreePerEmail are checked (401), the rest get
// 429 with Retry-After, and a correct login for another user in the same
// moment succeeds. An unknown email is answered exactly the same way. The
// replica's clock stands still, so no delay can expire during the burst and
// the counts are exact however the goroutines interleave.
func TestConcurrentWrongPasswordsAreThrottled(t *testing.T) {
	t.Parallel()
	for name, target := range map[string]string{"known email": "sam@example.com", "unknown email": "ghost@example.com"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, _, owner := setup(t)
			addUser(t, r, owner, "sam@example.com", "member")
			adaToken := addUser(t, r, owner, "ada@example.com", "auditor")
			code, ada := r.do("GET", "/api/v1/users/me", adaToken, nil)
			require.Equal(t, http.StatusOK, code)

			const n = 50
			results := make([]loginResult, n)
			var other loginResult
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					results[i] = r.login(target, "wrong-password")
				})
			}
			wg.Go(func() {
				<-start
				other = r.login("ada@example.com", "password-auditor")
			})
			close(start)
			wg.Wait()

			counts := map[int]int{}
			for _, res := range results {
				counts[res.code]++
				if res.code == http.StatusTooManyRequests {
					secs, err := strconv.Atoi(res.retryAfter)
					require.NoError(t, err, "Retry-After %q", res.retryAfter)
					require.Equal(t, int(auth.LoginBaseDelay.Seconds()), secs)
				}
			}
			// A 401 is the one answer that comes after a password check
			// (of the user's hash, or of the dummy hash for an unknown
			// email); a 429 is refused before the user is even looked up.
			require.Equal(t, map[int]int{
				http.StatusUnauthorized:    auth.LoginFreePerEmail,
				http.StatusTooManyRequests: n - auth.LoginFreePerEmail,
			}, counts)
			require.Equal(t, http.StatusOK, other.code, "another user logs in at the same moment")
			require.Equal(t, ada["id"], other.userID)

			res := r.login(target, "wrong-password")
			require.Equal(t, http.StatusTooManyRequests, res.code, "still throttled while the clock stands still")
			r.clock.Advance(auth.LoginBaseDelay)
			res = r.login(target, "wrong-password")
			require.Equal(t, http.StatusUnauthorized, res.code, "one more check once the delay has passed")
			res = r.login(target, "wrong-password")
			require.Equal(t, http.StatusTooManyRequests, res.code)
			require.Equal(t, strconv.Itoa(int(2*auth.LoginBaseDelay.Seconds())), res.retryAfter, "and the next delay is twice as long")
		})
	}
}
