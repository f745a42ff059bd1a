package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/servertest"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// replica is one aigate replica (the System `aigate server` runs) on
// loopback over a shared test database, on a manual clock.
type replica struct {
	*servertest.Replica
	t     *testing.T
	base  string
	db    *database.DB
	logs  *testlog.Buffer
	clock *clock.Manual
	fail  *atomic.Pointer[func(audit.Entry) error]

	mu        sync.Mutex
	responses []string // every response body, for the secret scan
}

// startReplica starts a replica on the database at dbURL ("" for a new one).
func startReplica(t *testing.T, dbURL string) *replica {
	t.Helper()
	r := &replica{t: t, clock: clock.NewManual(time.Now()), fail: &atomic.Pointer[func(audit.Entry) error]{}}
	rec := &audit.Recorder{AfterWrite: func(_ context.Context, e audit.Entry) error {
		if f := r.fail.Load(); f != nil {
			return (*f)(e)
		}
		return nil
	}}
	r.Replica = servertest.Start(t, servertest.Options{DatabaseURL: dbURL, Clock: r.clock, Audit: rec})
	r.base, r.db, r.logs = r.URL, r.DB(), r.Logs
	return r
}

// do sends a request and returns the status and decoded JSON body.
func (r *replica) do(method, path, token string, body any) (int, map[string]any) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(r.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	require.NoError(r.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("User-Agent", "api-test")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	r.mu.Lock()
	r.responses = append(r.responses, string(raw))
	r.mu.Unlock()
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(r.t, json.Unmarshal(raw, &out), string(raw))
	}
	return resp.StatusCode, out
}

const ownerPassword = "correct horse battery staple"

// setup starts one replica with a first owner and returns the owner's token.
func setup(t *testing.T) (*replica, *database.DB, string) {
	t.Helper()
	r := startReplica(t, "")
	db := r.db
	code, body := r.do("POST", "/api/v1/users/first", "", map[string]any{"email": "Owner@Example.com", "name": "Olive Owner", "password": ownerPassword})
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, "owner@example.com", body["user"].(map[string]any)["email"])
	return r, db, body["token"].(string)
}

// addUser creates a user through the API and logs them in.
func addUser(t *testing.T, r *replica, ownerToken, email, role string) string {
	t.Helper()
	code, body := r.do("POST", "/api/v1/users", ownerToken, map[string]any{"email": email, "name": role, "password": "password-" + role, "role": role})
	require.Equal(t, http.StatusCreated, code, body)
	code, body = r.do("POST", "/api/v1/login", "", map[string]any{"email": email, "password": "password-" + role})
	require.Equal(t, http.StatusOK, code, body)
	return body["token"].(string)
}

func auditCount(t *testing.T, db *database.DB, where string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_logs WHERE "+where, args...).Scan(&n))
	return n
}

// Acceptance 1: exactly one of 20 concurrent users/first calls wins.
func TestFirstUserConcurrent(t *testing.T) {
	t.Parallel()
	r := startReplica(t, "")
	db := r.db
	const n = 20
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i], _ = r.do("POST", "/api/v1/users/first", "", map[string]any{
				"email": "owner" + string(rune('a'+i)) + "@example.com", "name": "Owner", "password": ownerPassword})
		})
	}
	wg.Wait()
	created, conflicts := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			conflicts++
		}
	}
	require.Equal(t, 1, created, codes)
	require.Equal(t, n-1, conflicts, codes)
	var users int
	require.NoError(t, db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&users))
	require.Equal(t, 1, users)
	require.Equal(t, 1, auditCount(t, db, "action = 'create' AND resource_type = 'user'"))
}

// Acceptance 2: what each role may and may not do.
func TestRoles(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	member := addUser(t, r, owner, "member@example.com", "member")
	auditor := addUser(t, r, owner, "auditor@example.com", "auditor")

	for _, tc := range []struct {
		who, token, method, path string
		body                     any
		want                     int
	}{
		{"member", member, "GET", "/api/v1/users", nil, 403},
		{"member", member, "POST", "/api/v1/users", map[string]any{"email": "x@example.com", "name": "x", "password": "12345678", "role": "owner"}, 403},
		{"member", member, "GET", "/api/v1/audit", nil, 403},
		{"member", member, "PATCH", "/api/v1/users/member@example.com", map[string]any{"role": "owner"}, 403},
		{"member", member, "GET", "/api/v1/users/auditor@example.com/tokens", nil, 403},
		{"member", member, "GET", "/api/v1/users/me", nil, 200},
		{"member", member, "GET", "/api/v1/users/me/tokens", nil, 200},
		{"auditor", auditor, "GET", "/api/v1/audit", nil, 200},
		{"auditor", auditor, "POST", "/api/v1/users", map[string]any{"email": "y@example.com", "name": "y", "password": "12345678", "role": "member"}, 403},
		{"auditor", auditor, "DELETE", "/api/v1/users/member@example.com", nil, 403},
		{"owner", owner, "GET", "/api/v1/users", nil, 200},
		{"owner", owner, "GET", "/api/v1/audit", nil, 200},
		{"owner", owner, "GET", "/api/v1/users/member@example.com/tokens", nil, 200},
		{"anonymous", "", "GET", "/api/v1/users", nil, 401},
		{"bad token", "aig_nope", "GET", "/api/v1/users", nil, 401},
		{"forged secret", owner[:len(owner)-4] + "aaaa", "GET", "/api/v1/users", nil, 401},
	} {
		code, body := r.do(tc.method, tc.path, tc.token, tc.body)
		require.Equal(t, tc.want, code, "%s %s %s: %v", tc.who, tc.method, tc.path, body)
		if code >= 400 {
			require.NotEmpty(t, body["message"])
		}
	}
}

// Acceptance 2: a suspended user's tokens stop at once on the replica that
// suspended it and, by the change notification, on every other replica,
// whose clock stands still (its cache would trust them for auth.CacheTTL).
func TestSuspensionReachesEveryReplica(t *testing.T) {
	t.Parallel()
	a, _, owner := setup(t)
	b := startReplica(t, a.DatabaseURL)
	member := addUser(t, a, owner, "member@example.com", "member")
	for _, r := range []*replica{a, b} { // warm both caches
		code, _ := r.do("GET", "/api/v1/users/me", member, nil)
		require.Equal(t, http.StatusOK, code)
	}

	code, _ := a.do("PATCH", "/api/v1/users/member@example.com", owner, map[string]any{"suspended": true})
	require.Equal(t, http.StatusOK, code)
	code, body := a.do("GET", "/api/v1/users/me", member, nil)
	require.Equal(t, http.StatusUnauthorized, code, "the suspending replica drops the token at once")
	require.Contains(t, body["message"], "suspended")

	require.Eventually(t, func() bool {
		code, _ := b.do("GET", "/api/v1/users/me", member, nil)
		return code == http.StatusUnauthorized
	}, 30*time.Second, time.Millisecond, "another replica hears of the suspension")

	code, body = a.do("POST", "/api/v1/login", "", map[string]any{"email": "member@example.com", "password": "password-member"})
	require.Equal(t, http.StatusForbidden, code, body)

	// Revoking a token is the same story.
	code, _ = a.do("PATCH", "/api/v1/users/member@example.com", owner, map[string]any{"suspended": false})
	require.Equal(t, http.StatusOK, code)
	code, created := a.do("POST", "/api/v1/users/member@example.com/tokens", owner, map[string]any{"name": "ci", "scopes": []string{"api"}})
	require.Equal(t, http.StatusCreated, code)
	ci := created["token"].(string)
	code, _ = b.do("GET", "/api/v1/users/me", ci, nil)
	require.Equal(t, http.StatusOK, code)
	id := created["api_token"].(map[string]any)["id"].(string)
	code, _ = a.do("DELETE", "/api/v1/users/member@example.com/tokens/"+id, owner, nil)
	require.Equal(t, http.StatusNoContent, code)
	code, _ = a.do("GET", "/api/v1/users/me", ci, nil)
	require.Equal(t, http.StatusUnauthorized, code)
	require.Eventually(t, func() bool {
		code, _ := b.do("GET", "/api/v1/users/me", ci, nil)
		return code == http.StatusUnauthorized
	}, 30*time.Second, time.Millisecond, "another replica hears of the revocation")
}

// Acceptance 3: an audit row exists if and only if its change committed.
func TestAuditRollsBackWithTheChange(t *testing.T) {
	t.Parallel()
	r, db, owner := setup(t)
	injected := errors.New("injected failure after the audit write")
	fail := func(e audit.Entry) error {
		if e.ResourceType == "user" && e.Action != "login" {
			return injected
		}
		return nil
	}
	r.fail.Store(&fail)
	before := auditCount(t, db, "true")

	code, _ := r.do("POST", "/api/v1/users", owner, map[string]any{"email": "m@example.com", "name": "M", "password": "12345678", "role": "member"})
	require.Equal(t, http.StatusInternalServerError, code)
	code, _ = r.do("PATCH", "/api/v1/users/owner@example.com", owner, map[string]any{"name": "Renamed"})
	require.Equal(t, http.StatusInternalServerError, code)
	require.Equal(t, before, auditCount(t, db, "true"), "no audit row for a change that did not commit")
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM users WHERE email = 'm@example.com' OR name = 'Renamed'").Scan(&n))
	require.Zero(t, n, "the change itself rolled back")
	require.Contains(t, r.logs.String(), injected.Error(), "the cause is logged")

	r.fail.Store(nil)
	code, created := r.do("POST", "/api/v1/users", owner, map[string]any{"email": "m@example.com", "name": "M", "password": "12345678", "role": "member"})
	require.Equal(t, http.StatusCreated, code)
	id := created["id"].(string)
	code, _ = r.do("PATCH", "/api/v1/users/"+id, owner, map[string]any{"role": "auditor"})
	require.Equal(t, http.StatusOK, code)
	code, tok := r.do("POST", "/api/v1/users/"+id+"/tokens", owner, map[string]any{"name": "laptop"})
	require.Equal(t, http.StatusCreated, code)
	tokenID := tok["api_token"].(map[string]any)["id"].(string)
	code, _ = r.do("DELETE", "/api/v1/users/"+id+"/tokens/"+tokenID, owner, nil)
	require.Equal(t, http.StatusNoContent, code)
	code, _ = r.do("DELETE", "/api/v1/users/"+id, owner, nil)
	require.Equal(t, http.StatusNoContent, code)

	for _, c := range []struct{ action, rtype, rid string }{
		{"create", "user", id}, {"write", "user", id}, {"create", "api_token", tokenID},
		{"delete", "api_token", tokenID}, {"delete", "user", id},
	} {
		require.Equal(t, 1, auditCount(t, db, "action = $1 AND resource_type = $2 AND resource_id = $3 AND request_id <> '' AND ip = '127.0.0.1' AND user_agent = 'api-test'",
			c.action, c.rtype, c.rid), "committed %s %s has exactly one audit row", c.action, c.rtype)
	}
	var diff string
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		"SELECT diff::text FROM audit_logs WHERE action = 'write' AND resource_id = $1", id).Scan(&diff))
	require.JSONEq(t, `{"role": {"old": "member", "new": "auditor"}}`, diff)
}

// Acceptance 4: no password or token secret in logs, audit diffs, or any
// response other than the one that hands the token out.
func TestNoSecretsLeak(t *testing.T) {
	t.Parallel()
	r, db, owner := setup(t)
	const memberPassword, newPassword = "member-pass-Zq81", "rotated-pass-Kx72"
	code, body := r.do("POST", "/api/v1/users", owner, map[string]any{"email": "m@example.com", "name": "M", "password": memberPassword, "role": "member"})
	require.Equal(t, http.StatusCreated, code)
	require.NotContains(t, body, "password")
	code, _ = r.do("PATCH", "/api/v1/users/m@example.com", owner, map[string]any{"password": newPassword})
	require.Equal(t, http.StatusOK, code)
	code, _ = r.do("POST", "/api/v1/login", "", map[string]any{"email": "m@example.com", "password": memberPassword})
	require.Equal(t, http.StatusUnauthorized, code, "the old password no longer works")
	code, login := r.do("POST", "/api/v1/login", "", map[string]any{"email": "m@example.com", "password": newPassword})
	require.Equal(t, http.StatusOK, code)
	memberToken := login["token"].(string)
	code, created := r.do("POST", "/api/v1/users/me/tokens", memberToken, map[string]any{"name": "ci", "scopes": []string{"api"}})
	require.Equal(t, http.StatusCreated, code)
	ciToken := created["token"].(string)
	code, _ = r.do("GET", "/api/v1/users/me/tokens", ciToken, nil)
	require.Equal(t, http.StatusOK, code)
	r.do("GET", "/api/v1/users", owner, nil)
	r.do("GET", "/api/v1/audit?limit=1000", owner, nil)
	r.do("POST", "/api/v1/login", "", map[string]any{"email": "m@example.com", "password": "wrong " + newPassword})

	var diffs strings.Builder
	rows, err := db.Pool.Query(context.Background(), "SELECT diff::text || resource_name || resource_id FROM audit_logs")
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		diffs.WriteString(s)
	}
	require.NoError(t, rows.Err())
	require.Contains(t, diffs.String(), audit.Masked, "password changes are recorded, masked")

	logs := r.logs.String()
	require.Contains(t, logs, "http request", "the scan must have log lines to look at")
	for _, secret := range []string{ownerPassword, memberPassword, newPassword, owner, memberToken, ciToken,
		owner[strings.LastIndex(owner, "_")+1:], ciToken[strings.LastIndex(ciToken, "_")+1:]} {
		require.NotContains(t, logs, secret)
		require.NotContains(t, diffs.String(), secret)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, resp := range r.responses {
		for _, pw := range []string{ownerPassword, memberPassword, newPassword} {
			require.NotContains(t, resp, pw)
		}
		// Each token appears only in the one response that created it.
		for _, tok := range []string{memberToken, ciToken} {
			if strings.Contains(resp, tok) {
				require.Equal(t, 1, countContaining(r.responses, tok))
			}
		}
	}
}

func countContaining(ss []string, sub string) int {
	n := 0
	for _, s := range ss {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func TestValidationAndConflicts(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	code, body := r.do("POST", "/api/v1/users", owner, map[string]any{"email": "not-an-email", "name": "", "password": "short", "role": "admin"})
	require.Equal(t, http.StatusBadRequest, code)
	fields := map[string]bool{}
	for _, v := range body["validations"].([]any) {
		fields[v.(map[string]any)["field"].(string)] = true
	}
	require.Equal(t, map[string]bool{"email": true, "name": true, "password": true, "role": true}, fields)

	code, body = r.do("POST", "/api/v1/users", owner, map[string]any{"email": "a@example.com", "full_name": "typo"})
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "full_name", body["validations"].([]any)[0].(map[string]any)["field"])

	code, _ = r.do("PATCH", "/api/v1/users/owner@example.com", owner, map[string]any{})
	require.Equal(t, http.StatusBadRequest, code, "an empty patch is refused")

	code, _ = r.do("POST", "/api/v1/users", owner, map[string]any{"email": "OWNER@example.com", "name": "Dup", "password": "12345678", "role": "member"})
	require.Equal(t, http.StatusConflict, code, "emails are unique regardless of case")

	code, body = r.do("PATCH", "/api/v1/users/owner@example.com", owner, map[string]any{"role": "member"})
	require.Equal(t, http.StatusConflict, code, "the last owner cannot be demoted")
	require.Contains(t, body["message"], "last active owner")
	code, _ = r.do("DELETE", "/api/v1/users/owner@example.com", owner, nil)
	require.Equal(t, http.StatusConflict, code, "nor deleted")

	code, _ = r.do("GET", "/api/v1/users/nobody@example.com", owner, nil)
	require.Equal(t, http.StatusNotFound, code)
	code, _ = r.do("POST", "/api/v1/users/me/tokens", owner, map[string]any{"name": "old", "expires_at": time.Now().Add(-time.Hour)})
	require.Equal(t, http.StatusBadRequest, code)
}

func TestLogin(t *testing.T) {
	t.Parallel()
	r, _, _ := setup(t)
	_, unknown := r.do("POST", "/api/v1/login", "", map[string]any{"email": "ghost@example.com", "password": "whatever1"})
	code, wrong := r.do("POST", "/api/v1/login", "", map[string]any{"email": "owner@example.com", "password": "whatever1"})
	require.Equal(t, http.StatusUnauthorized, code)
	require.Equal(t, unknown["message"], wrong["message"], "the answer does not reveal whether the email exists")

	for range 4 {
		code, _ = r.do("POST", "/api/v1/login", "", map[string]any{"email": "owner@example.com", "password": "whatever1"})
		require.Equal(t, http.StatusUnauthorized, code)
	}
	code, body := r.do("POST", "/api/v1/login", "", map[string]any{"email": "owner@example.com", "password": ownerPassword})
	require.Equal(t, http.StatusTooManyRequests, code, "after 5 failures even the right password must wait")
	require.Contains(t, body["message"], "try again")

	code, _ = r.do("POST", "/api/v1/login", "", map[string]any{"email": "other@example.com", "password": "whatever1"})
	require.Equal(t, http.StatusUnauthorized, code, "other emails are not throttled")
}

func TestAuditListFiltersAndPages(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	for _, e := range []string{"a", "b", "c", "d", "e"} {
		code, _ := r.do("POST", "/api/v1/users", owner, map[string]any{"email": e + "@example.com", "name": e, "password": "12345678", "role": "member"})
		require.Equal(t, http.StatusCreated, code)
	}
	seen := map[float64]bool{}
	var lastTime string
	cursor := ""
	pages := 0
	for {
		path := "/api/v1/audit?resource_type=user&action=create&limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		code, body := r.do("GET", path, owner, nil)
		require.Equal(t, http.StatusOK, code, body)
		pages++
		for _, e := range body["entries"].([]any) {
			m := e.(map[string]any)
			require.Equal(t, "create", m["action"])
			require.False(t, seen[m["id"].(float64)], "no entry on two pages")
			seen[m["id"].(float64)] = true
			if lastTime != "" {
				require.LessOrEqual(t, m["time"].(string), lastTime, "newest first")
			}
			lastTime = m["time"].(string)
		}
		cursor, _ = body["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	require.Len(t, seen, 6, "the owner and five users")
	require.Equal(t, 3, pages)

	code, body := r.do("GET", "/api/v1/audit?resource=c@example.com", owner, nil)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["entries"], 1)
	code, body = r.do("GET", "/api/v1/audit?actor=owner@example.com&action=login", owner, nil)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["entries"], 1, "the first owner's login token")

	for _, bad := range []string{"cursor=zzz", "since=yesterday", "limit=0"} {
		code, _ = r.do("GET", "/api/v1/audit?"+bad, owner, nil)
		require.Equal(t, http.StatusBadRequest, code, bad)
	}
}
