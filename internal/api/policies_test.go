package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/policies"
)

// listen starts listening on the policies channel of r's database: what
// every replica's enforcement engine reloads on.
func listen(t *testing.T, r *replica) *pgxpool.Conn {
	t.Helper()
	conn, err := r.db.Pool.Acquire(context.Background())
	require.NoError(t, err)
	t.Cleanup(conn.Release)
	_, err = conn.Exec(context.Background(), "LISTEN "+policies.ChangedChannel)
	require.NoError(t, err)
	return conn
}

// nextChange is the next change announced; it was committed before the API
// answered, so it is already queued.
func nextChange(t *testing.T, conn *pgxpool.Conn) policies.Change {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(ctx)
	require.NoError(t, err)
	var c policies.Change
	require.NoError(t, json.Unmarshal([]byte(n.Payload), &c))
	return c
}

func TestGroupsAPI(t *testing.T) {
	t.Parallel()
	r, db, owner := setup(t)
	auditor := addUser(t, r, owner, "a@example.com", "auditor")
	member := addUser(t, r, owner, "m@example.com", "member")
	conn := listen(t, r)

	code, body := r.do("POST", "/api/v1/groups", owner, map[string]any{"name": "search", "display_name": "Search <team>"})
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, "search", body["name"])
	require.Equal(t, "create", string(nextChange(t, conn).Action))

	code, body = r.do("PUT", "/api/v1/groups/search/members/M@example.com", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, float64(1), body["member_count"])
	require.Equal(t, "m@example.com", body["members"].([]any)[0].(map[string]any)["email"])
	c := nextChange(t, conn)
	require.Equal(t, policies.Change{Resource: "group", ID: c.ID, Name: "search", Action: "write"}, c)

	code, body = r.do("GET", "/api/v1/groups", auditor, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["groups"], 1)

	for _, c := range []struct {
		method, path, token string
		body                any
		want                int
	}{
		{"GET", "/api/v1/groups", member, nil, http.StatusForbidden},
		{"GET", "/api/v1/groups/search", member, nil, http.StatusForbidden},
		{"GET", "/api/v1/groups/search", auditor, nil, http.StatusOK},
		{"POST", "/api/v1/groups", auditor, map[string]any{"name": "x"}, http.StatusForbidden},
		{"PUT", "/api/v1/groups/search/members/a@example.com", auditor, nil, http.StatusForbidden},
		{"PUT", "/api/v1/groups/search/members/me", member, nil, http.StatusForbidden},
		{"DELETE", "/api/v1/groups/search", member, nil, http.StatusForbidden},
		{"PUT", "/api/v1/groups/nope/members/a@example.com", owner, nil, http.StatusNotFound},
		{"PUT", "/api/v1/groups/search/members/nobody@example.com", owner, nil, http.StatusNotFound},
		{"POST", "/api/v1/groups", owner, map[string]any{"name": "search"}, http.StatusConflict},
		{"POST", "/api/v1/groups", owner, map[string]any{"name": "Bad Name"}, http.StatusBadRequest},
		{"PATCH", "/api/v1/groups/search", owner, map[string]any{}, http.StatusBadRequest},
		{"PATCH", "/api/v1/groups/search", owner, map[string]any{"display_name": "Search"}, http.StatusOK},
		{"DELETE", "/api/v1/groups/search/members/m@example.com", owner, nil, http.StatusNoContent},
		{"DELETE", "/api/v1/groups/search/members/m@example.com", owner, nil, http.StatusNotFound},
		{"DELETE", "/api/v1/groups/search", owner, nil, http.StatusNoContent},
		{"GET", "/api/v1/groups/search", owner, nil, http.StatusNotFound},
	} {
		code, body := r.do(c.method, c.path, c.token, c.body)
		require.Equal(t, c.want, code, "%s %s: %v", c.method, c.path, body)
	}
	require.Equal(t, 1, auditCount(t, db, "resource_type = 'group' AND action = 'create' AND status_code = 201"))
	require.Equal(t, 3, auditCount(t, db, "resource_type = 'group' AND action = 'write'"))
	require.Equal(t, 1, auditCount(t, db, "resource_type = 'group' AND action = 'delete' AND status_code = 204"))
}

func TestPoliciesAPI(t *testing.T) {
	t.Parallel()
	r, db, owner := setup(t)
	auditor := addUser(t, r, owner, "a@example.com", "auditor")
	dev := addUser(t, r, owner, "dev@example.com", "member")
	other := addUser(t, r, owner, "other@example.com", "member")
	conn := listen(t, r)
	code, body := r.do("POST", "/api/v1/groups", owner, map[string]any{"name": "team"})
	require.Equal(t, http.StatusCreated, code, body)
	code, body = r.do("PUT", "/api/v1/groups/team/members/dev@example.com", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	nextChange(t, conn)
	nextChange(t, conn)

	// A per-member daily cap for the team, a budget for another user.
	code, body = r.do("POST", "/api/v1/policies", owner, map[string]any{
		"name": "team-daily", "scope": "group", "group": "team", "per_member": true,
		"kind": "budget", "period": "day", "limit_usd": "25", "models": []any{"claude-*"},
	})
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, map[string]any{
		"id": body["id"], "name": "team-daily", "description": "", "scope": "group", "group": "team", "user": nil, "token": nil,
		"per_member": true, "providers": []any{}, "models": []any{"claude-*"}, "kind": "budget", "period": "day",
		"limit": float64(25_000_000), "limit_usd": "25.00", "allow_models": []any{}, "time_zone": "UTC", "enabled": true,
		"created_at": body["created_at"], "updated_at": body["updated_at"],
	}, body)
	teamID := body["id"].(string)
	c := nextChange(t, conn)
	require.Equal(t, policies.Change{Resource: "policy", ID: c.ID, Name: "team-daily", Action: "create"}, c)
	require.Equal(t, teamID, c.ID.String())

	code, body = r.do("POST", "/api/v1/policies", owner, map[string]any{
		"name": "other-rpm", "scope": "user", "user": "other@example.com", "kind": "requests", "period": "minute", "limit": 60,
	})
	require.Equal(t, http.StatusCreated, code, body)
	require.NotContains(t, body, "limit_usd", "dollars for budgets only")
	require.Equal(t, "other@example.com", body["user"])
	nextChange(t, conn)

	// Validations name their fields.
	code, body = r.do("POST", "/api/v1/policies", owner, map[string]any{
		"name": "Bad", "scope": "group", "group": "nope", "kind": "concurrency", "period": "day", "limit": -1,
		"allow_models": []any{"x"}, "time_zone": "Mars/Olympus",
	})
	require.Equal(t, http.StatusBadRequest, code, body)
	vs := validations(t, body)
	for _, f := range []string{"name", "period", "limit", "allow_models", "time_zone"} {
		require.Contains(t, vs, f, body)
	}
	require.Contains(t, vs["time_zone"], `"Europe/Berlin"`)
	code, body = r.do("POST", "/api/v1/policies", owner, map[string]any{"name": "x", "scope": "group", "group": "nope", "kind": "concurrency", "limit": 1})
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, validations(t, body)["group"], `no group "nope"`)
	code, body = r.do("POST", "/api/v1/policies", owner, map[string]any{"name": "x", "scope": "everyone", "kind": "budget", "period": "day", "limit_usd": 25})
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Equal(t, "must be a string", validations(t, body)["limit_usd"], "a decimal string, never a float")
	code, body = r.do("PATCH", "/api/v1/policies/team-daily", owner, map[string]any{})
	require.Equal(t, http.StatusBadRequest, code, body)
	code, body = r.do("PATCH", "/api/v1/policies/team-daily", owner, map[string]any{"scope": "everyone"})
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, validations(t, body), "scope")
	code, body = r.do("PATCH", "/api/v1/policies/"+teamID, owner, map[string]any{"limit_usd": "30.5", "description": "the team's cap"})
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "30.50", body["limit_usd"])
	require.Equal(t, "write", string(nextChange(t, conn).Action))

	// Who sees what.
	for _, c := range []struct {
		method, path, token string
		body                any
		want                int
	}{
		{"GET", "/api/v1/policies/team-daily", auditor, nil, http.StatusOK},
		{"GET", "/api/v1/policies/other-rpm/status", auditor, nil, http.StatusOK},
		{"POST", "/api/v1/policies", auditor, map[string]any{"name": "x"}, http.StatusForbidden},
		{"POST", "/api/v1/policies", dev, map[string]any{"name": "x"}, http.StatusForbidden},
		{"PATCH", "/api/v1/policies/team-daily", dev, map[string]any{"enabled": false}, http.StatusForbidden},
		{"DELETE", "/api/v1/policies/team-daily", auditor, nil, http.StatusForbidden},
		{"GET", "/api/v1/policies/team-daily", dev, nil, http.StatusOK},
		{"GET", "/api/v1/policies/other-rpm", dev, nil, http.StatusNotFound},
		{"GET", "/api/v1/policies/other-rpm/status", dev, nil, http.StatusNotFound},
		{"GET", "/api/v1/policies/team-daily", other, nil, http.StatusNotFound},
		{"GET", "/api/v1/policies/other-rpm", other, nil, http.StatusOK},
		{"GET", "/api/v1/policies/nope", owner, nil, http.StatusNotFound},
	} {
		code, body := r.do(c.method, c.path, c.token, c.body)
		require.Equal(t, c.want, code, "%s %s: %v", c.method, c.path, body)
	}
	code, body = r.do("GET", "/api/v1/policies", dev, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["policies"], 1)
	require.Equal(t, "team-daily", body["policies"].([]any)[0].(map[string]any)["name"])
	code, body = r.do("GET", "/api/v1/policies", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["policies"], 2)

	// Status: some spend in dev's and other's windows of the team cap; the
	// owner sees both, dev their own alone.
	var devID, otherID string
	require.NoError(t, db.Pool.QueryRow(context.Background(), "SELECT id FROM users WHERE email = 'dev@example.com'").Scan(&devID))
	require.NoError(t, db.Pool.QueryRow(context.Background(), "SELECT id FROM users WHERE email = 'other@example.com'").Scan(&otherID))
	now := r.clock.Now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	for subject, settled := range map[string]int64{devID: 1_250_000, otherID: 30_500_000} {
		_, err := db.Pool.Exec(context.Background(), `INSERT INTO policy_windows (policy_id, subject, window_start, window_end, settled, granted)
			VALUES ($1, $2, $3, $4, $5, 250000)`, teamID, subject, day, day.AddDate(0, 0, 1), settled)
		require.NoError(t, err)
	}
	code, body = r.do("GET", "/api/v1/policies/team-daily/status", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["statuses"], 2)
	code, body = r.do("GET", "/api/v1/policies/team-daily/status", dev, nil)
	require.Equal(t, http.StatusOK, code, body)
	sts := body["statuses"].([]any)
	require.Len(t, sts, 1)
	require.Equal(t, map[string]any{
		"policy": "team-daily", "subject": devID, "user": "dev@example.com",
		"window_start": day.Format(time.RFC3339), "resets_at": day.AddDate(0, 0, 1).Format(time.RFC3339),
		"limit": float64(30_500_000), "spent": float64(1_250_000), "reserved": float64(250_000), "remaining": float64(29_000_000),
		"exhausted": false, "limit_usd": "30.50", "spent_usd": "1.25", "reserved_usd": "0.25", "remaining_usd": "29.00",
	}, sts[0])

	code, body = r.do("DELETE", "/api/v1/policies/team-daily", owner, nil)
	require.Equal(t, http.StatusNoContent, code, body)
	require.Equal(t, "delete", string(nextChange(t, conn).Action))
	code, body = r.do("GET", "/api/v1/policies", dev, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Empty(t, body["policies"])

	require.Equal(t, 2, auditCount(t, db, "resource_type = 'policy' AND action = 'create' AND status_code = 201"))
	require.Equal(t, 1, auditCount(t, db, "resource_type = 'policy' AND action = 'write' AND status_code = 200"))
	require.Equal(t, 1, auditCount(t, db, "resource_type = 'policy' AND action = 'delete' AND resource_name = 'team-daily'"))
}

// TestPolicyChangeReachesAnotherReplica: a policy made through one replica
// is announced to a listener of another replica's database connection and
// is served by the other replica's API at once.
func TestPolicyChangeReachesAnotherReplica(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	other := startReplica(t, r.DatabaseURL)
	conn := listen(t, other)
	code, body := r.do("POST", "/api/v1/policies", owner, map[string]any{"name": "cap", "scope": "everyone", "kind": "concurrency", "limit": 4})
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, "cap", nextChange(t, conn).Name)
	code, body = other.do("GET", "/api/v1/policies/cap", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Nil(t, body["period"])
	require.Equal(t, float64(4), body["limit"])
}
