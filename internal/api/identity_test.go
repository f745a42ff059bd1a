package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// samVariants are spellings of sam@example.com that the email rule (NFKC,
// then case folding) makes the same person.
var samVariants = map[string]string{
	"capitals":            "SAM@example.com",
	"long s (U+017F)":     "ſam@example.com",
	"full-width letters":  "ｓａｍ@example.com",
	"full-width capitals": "ＳＡＭ@ＥＸＡＭＰＬＥ.ＣＯＭ",
	"full-width at sign":  "sam＠example.com",
}

// samPaths are the same spellings as the robustness suite sent them
// in a path, percent-encoded.
var samPaths = map[string]string{
	"capitals":           "SAM@example.com",
	"long s (U+017F)":    "%C5%BFam@example.com",
	"full-width letters": "%EF%BD%93%EF%BD%81%EF%BD%8D@example.com",
	"full-width at sign": "sam%EF%BC%A0example.com",
	"me":                 "me",
}

// TestLookAlikeEmailIsTheSameUser: once sam@example.com exists, every
// spelling of it is a 409, on creation and on a change of email.
func TestLookAlikeEmailIsTheSameUser(t *testing.T) {
	t.Parallel()
	r, db, owner := setup(t)
	code, body := r.do("POST", "/api/v1/users", owner, map[string]any{"email": "sam@example.com", "name": "Sam", "password": "password-member", "role": "member"})
	require.Equal(t, http.StatusCreated, code, body)
	code, body = r.do("POST", "/api/v1/users", owner, map[string]any{"email": "ada@example.com", "name": "Ada", "password": "password-member", "role": "auditor"})
	require.Equal(t, http.StatusCreated, code, body)

	for name, email := range samVariants {
		code, body := r.do("POST", "/api/v1/users", owner, map[string]any{"email": email, "name": "Look-alike", "password": "password-auditor", "role": "auditor"})
		require.Equal(t, http.StatusConflict, code, "%s %q: %v", name, email, body)
		require.Contains(t, body["message"], "sam@example.com", "the message names the address in its stored form")
		code, body = r.do("PATCH", "/api/v1/users/ada@example.com", owner, map[string]any{"email": email})
		require.Equal(t, http.StatusConflict, code, "%s %q: %v", name, email, body)
	}
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&n))
	require.Equal(t, 3, n, "the owner, sam and ada; no look-alike")

	code, body = r.do("POST", "/api/v1/users", owner, map[string]any{"email": "ＢＯＢ@Example.com", "name": "Bob", "password": "password-member", "role": "member"})
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, "bob@example.com", body["email"], "stored in its normal form")
}

// TestLoginWithAnySpelling: every spelling of an email logs in the one
// account it names.
func TestLoginWithAnySpelling(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	code, created := r.do("POST", "/api/v1/users", owner, map[string]any{"email": "Sam@Example.com", "name": "Sam", "password": "password-member", "role": "member"})
	require.Equal(t, http.StatusCreated, code, created)
	for name, email := range samVariants {
		code, body := r.do("POST", "/api/v1/login", "", map[string]any{"email": email, "password": "password-member"})
		require.Equal(t, http.StatusOK, code, "%s %q: %v", name, email, body)
		require.Equal(t, created["id"], body["user"].(map[string]any)["id"], name)
		code, me := r.do("GET", "/api/v1/users/me", body["token"].(string), nil)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "sam@example.com", me["email"])
	}
	for name, email := range samVariants {
		code, body := r.do("POST", "/api/v1/login", "", map[string]any{"email": email, "password": "wrong-password"})
		require.Equal(t, http.StatusUnauthorized, code, "%s %q: %v", name, email, body)
	}
	code, _ = r.do("POST", "/api/v1/login", "", map[string]any{"email": "sam@example.com", "password": "password-member"})
	require.Equal(t, http.StatusTooManyRequests, code, "the spellings share one throttle: five failures, whichever way sam was written")
}

// TestNoTakeoverThroughLookAlikeEmail reproduces the robustness suite's
// takeover: a member sam@example.com and an auditor ſam@example.com, and
// sam's token sent to /users/%C5%BFam@example.com/tokens. The owner can no
// longer create that auditor (409), so the auditor is put in the database
// the way an older aigate stored it; still, sam only ever acts as sam, and
// every route selfOr guards refuses him the auditor's account by id.
func TestNoTakeoverThroughLookAlikeEmail(t *testing.T) {
	t.Parallel()
	r, db, owner := setup(t)
	sam := addUser(t, r, owner, "sam@example.com", "member")
	code, me := r.do("GET", "/api/v1/users/me", sam, nil)
	require.Equal(t, http.StatusOK, code)
	samID := me["id"].(string)

	code, body := r.do("POST", "/api/v1/users", owner, map[string]any{"email": "ſam@example.com", "name": "auditor", "password": "password-auditor", "role": "auditor"})
	require.Equal(t, http.StatusConflict, code, "the owner cannot create the look-alike auditor: %v", body)

	auditorID := uuid.New()
	_, err := db.Pool.Exec(context.Background(), `INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at)
SELECT $1, 'ſam@example.com', 'auditor', password_hash, 'auditor', now(), now() FROM users WHERE email = 'sam@example.com'`, auditorID)
	require.NoError(t, err)
	code, minted := r.do("POST", "/api/v1/users/"+auditorID.String()+"/tokens", owner, map[string]any{"name": "auditor laptop", "scopes": []string{"api"}})
	require.Equal(t, http.StatusCreated, code, minted)
	auditorToken := minted["token"].(string)
	auditorTokenID := minted["api_token"].(map[string]any)["id"].(string)
	code, _ = r.do("GET", "/api/v1/audit", auditorToken, nil)
	require.Equal(t, http.StatusOK, code, "the auditor's own token reads the audit log")

	for name, path := range samPaths {
		base := "/api/v1/users/" + path
		code, body := r.do("GET", base+"/tokens", sam, nil)
		require.Equal(t, http.StatusOK, code, "%s: %v", name, body)
		for _, tok := range body["tokens"].([]any) {
			require.Equal(t, samID, tok.(map[string]any)["user_id"], "%s: only sam's own tokens", name)
			require.NotEqual(t, auditorTokenID, tok.(map[string]any)["id"], name)
		}

		code, body = r.do("GET", base, sam, nil)
		require.Equal(t, http.StatusOK, code, "%s: %v", name, body)
		require.Equal(t, samID, body["id"], "%s: sam sees himself", name)

		code, body = r.do("POST", base+"/tokens", sam, map[string]any{"name": "takeover " + name, "scopes": []string{"api"}})
		require.Equal(t, http.StatusCreated, code, "%s: %v", name, body)
		require.Equal(t, samID, body["api_token"].(map[string]any)["user_id"], "%s: the token is sam's", name)
		code, _ = r.do("GET", "/api/v1/audit", body["token"].(string), nil)
		require.Equal(t, http.StatusForbidden, code, "%s: the minted token has sam's member role, not the auditor's", name)

		code, _ = r.do("DELETE", base+"/tokens/"+auditorTokenID, sam, nil)
		require.Equal(t, http.StatusNotFound, code, "%s: the auditor's token is not sam's to revoke", name)
	}

	byID := "/api/v1/users/" + auditorID.String()
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", byID, nil},
		{"GET", byID + "/tokens", nil},
		{"POST", byID + "/tokens", map[string]any{"name": "takeover"}},
		{"DELETE", byID + "/tokens/" + auditorTokenID, nil},
		{"PATCH", byID, map[string]any{"role": "member"}},
		{"DELETE", byID, nil},
	} {
		code, body := r.do(tc.method, tc.path, sam, tc.body)
		require.Equal(t, http.StatusForbidden, code, "%s %s: %v", tc.method, tc.path, body)
	}
	code, _ = r.do("GET", "/api/v1/users/"+uuid.NewString()+"/tokens", sam, nil)
	require.Equal(t, http.StatusForbidden, code, "a user that does not exist gets the same answer as another user")

	code, body = r.do("GET", byID+"/tokens", owner, nil)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["tokens"], 1, "the auditor still has only the token the owner made")
	code, _ = r.do("GET", "/api/v1/audit", auditorToken, nil)
	require.Equal(t, http.StatusOK, code, "and it still works")
}
