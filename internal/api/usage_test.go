package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/rollup"
)

// recordRequests writes n interceptions for user, as the gateway's recorder
// would, at started.
func recordRequests(t *testing.T, r *replica, user, model, client string, started time.Time, n int) {
	t.Helper()
	for i := range n {
		_, err := r.db.Pool.Exec(context.Background(), `
			INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id, provider_name, provider_type,
			                           model, endpoint, streaming, started_at, ended_at, status, client, input_tokens, output_tokens)
			VALUES ($1, $2, 'req', $3, 'tok', $4, 'openai', 'openai', $5, 'chat_completions', true, $6::timestamptz, $6::timestamptz + interval '1 second',
			        'ok', $7, 10, 20)`,
			uuid.New(), uuid.New(), user, uuid.Nil, model, started.Add(time.Duration(i)*time.Second), client)
		require.NoError(t, err)
	}
}

// rollUp runs the replica's next rollup tick on its manual clock.
func rollUp(t *testing.T, r *replica) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	armed := r.clock.Armed(rollup.TickTimer)
	require.NoError(t, r.clock.WaitArmed(ctx, rollup.TickTimer, max(armed, 1)))
	next, ok := r.clock.Next(rollup.TickTimer)
	require.True(t, ok)
	r.clock.AdvanceTo(next)
	require.NoError(t, r.clock.WaitArmed(ctx, rollup.TickTimer, max(armed, 1)+1), "the tick ran and armed the next")
}

func userID(t *testing.T, r *replica, token string) string {
	t.Helper()
	code, me := r.do("GET", "/api/v1/users/me", token, nil)
	require.Equal(t, http.StatusOK, code)
	return me["id"].(string)
}

// Acceptance 5: a member sees only their own usage and requests, whatever
// they ask; owners and auditors see everyone's.
func TestUsageAndInterceptionsByRole(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	alice := addUser(t, r, owner, "alice@example.com", "member")
	bob := addUser(t, r, owner, "bob@example.com", "member")
	auditor := addUser(t, r, owner, "audrey@example.com", "auditor")
	aliceID, bobID := userID(t, r, alice), userID(t, r, bob)
	hour := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	recordRequests(t, r, aliceID, "gpt-4o", "claude-code", hour.Add(time.Minute), 3)
	recordRequests(t, r, bobID, "claude-sonnet-4-5", "codex", hour.Add(time.Hour+time.Minute), 2)
	rollUp(t, r)

	window := url.Values{"from": {hour.Format(time.RFC3339)}, "to": {hour.Add(3 * time.Hour).Format(time.RFC3339)}}
	usage := func(token string, extra url.Values) (int, map[string]any) {
		q := url.Values{}
		for k, v := range window {
			q[k] = v
		}
		for k, v := range extra {
			q[k] = v
		}
		return r.do("GET", "/api/v1/usage?"+q.Encode(), token, nil)
	}
	total := func(body map[string]any) float64 { return body["total"].(map[string]any)["requests"].(float64) }

	for _, who := range []string{owner, auditor} {
		code, body := usage(who, url.Values{"group_by": {"user"}})
		require.Equal(t, http.StatusOK, code, body)
		require.EqualValues(t, 5, total(body))
		rows := body["rows"].([]any)
		require.Len(t, rows, 2)
		byEmail := map[string]float64{}
		for _, row := range rows {
			m := row.(map[string]any)
			byEmail[m["user_email"].(string)] = m["requests"].(float64)
		}
		require.Equal(t, map[string]float64{"alice@example.com": 3, "bob@example.com": 2}, byEmail)
		require.EqualValues(t, 5*10, body["total"].(map[string]any)["input_tokens"])
		require.NotNil(t, body["rolled_up_to"])
	}

	// A member asking for everyone gets their own; naming another user is
	// refused.
	code, body := usage(alice, url.Values{"group_by": {"user"}})
	require.Equal(t, http.StatusOK, code, body)
	require.EqualValues(t, 3, total(body))
	require.Len(t, body["rows"].([]any), 1)
	code, body = usage(alice, url.Values{"group_by": {"model"}})
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "gpt-4o", body["rows"].([]any)[0].(map[string]any)["key"])
	code, _ = usage(alice, url.Values{"user": {"bob@example.com"}})
	require.Equal(t, http.StatusForbidden, code)
	code, body = usage(alice, url.Values{"user": {"me"}})
	require.Equal(t, http.StatusOK, code, body)
	require.EqualValues(t, 3, total(body))
	code, body = usage(owner, url.Values{"user": {"bob@example.com"}, "group_by": {"client"}})
	require.Equal(t, http.StatusOK, code, body)
	require.EqualValues(t, 2, total(body))
	require.Equal(t, "codex", body["rows"].([]any)[0].(map[string]any)["key"])

	list := func(token, query string) (int, map[string]any) {
		return r.do("GET", "/api/v1/interceptions"+query, token, nil)
	}
	code, body = list(alice, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["interceptions"].([]any), 3)
	for _, i := range body["interceptions"].([]any) {
		require.Equal(t, aliceID, i.(map[string]any)["user_id"])
		require.Equal(t, "claude-code", i.(map[string]any)["client"])
	}
	code, _ = list(alice, "?user=bob@example.com")
	require.Equal(t, http.StatusForbidden, code)
	code, body = list(auditor, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["interceptions"].([]any), 5)
	code, body = list(owner, "?user=bob@example.com")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["interceptions"].([]any), 2)

	// Pages, newest first, end to end.
	seen := map[string]bool{}
	cursor := ""
	for range 5 {
		q := "?limit=2"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		code, body = list(owner, q)
		require.Equal(t, http.StatusOK, code, body)
		for _, i := range body["interceptions"].([]any) {
			id := i.(map[string]any)["id"].(string)
			require.False(t, seen[id], "a row on two pages")
			seen[id] = true
		}
		cursor, _ = body["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	require.Len(t, seen, 5)
}

func TestUsageRefusesBadQueries(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	for _, tc := range []struct{ query, field string }{
		{"?group_by=team", "group_by"},
		{"?from=yesterday", "from"},
		{"?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"},
		{"?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"},
		{"?user=nobody@example.com", "user"},
	} {
		code, body := r.do("GET", "/api/v1/usage"+tc.query, owner, nil)
		require.Equal(t, http.StatusBadRequest, code, "%s: %v", tc.query, body)
		require.Equal(t, tc.field, body["validations"].([]any)[0].(map[string]any)["field"], tc.query)
	}
	for _, tc := range []struct{ query, field string }{
		{"?client=vim", "client"},
		{"?status=maybe", "status"},
		{"?limit=0", "limit"},
		{"?cursor=nope", "cursor"},
	} {
		code, body := r.do("GET", "/api/v1/interceptions"+tc.query, owner, nil)
		require.Equal(t, http.StatusBadRequest, code, "%s: %v", tc.query, body)
		require.Equal(t, tc.field, body["validations"].([]any)[0].(map[string]any)["field"], tc.query)
	}
	// Today by default.
	code, body := r.do("GET", "/api/v1/usage", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	from, err := time.Parse(time.RFC3339, body["from"].(string))
	require.NoError(t, err)
	require.Equal(t, from, from.Truncate(24*time.Hour), "a UTC midnight")
}

// TestUsageCost: the usage answer carries the priced requests' cost, in
// micro-dollars and as dollars, counts the unpriced requests (tokens, no
// cost) and names their models; an interception shows its cost, null when
// unpriced.
func TestUsageCost(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	me := userID(t, r, owner)
	hour := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	recordRequests(t, r, me, "gpt-4o", "codex", hour.Add(time.Minute), 2)
	recordRequests(t, r, me, "ft:mystery", "codex", hour.Add(2*time.Minute), 1)
	_, err := r.db.Pool.Exec(context.Background(), `UPDATE interceptions SET cost_micros = 1250001 WHERE model = 'gpt-4o'`)
	require.NoError(t, err)
	rollUp(t, r)

	q := url.Values{"from": {hour.Format(time.RFC3339)}, "to": {hour.Add(time.Hour).Format(time.RFC3339)}, "group_by": {"model"}}
	code, body := r.do("GET", "/api/v1/usage?"+q.Encode(), owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	total := body["total"].(map[string]any)
	require.EqualValues(t, 2*1250001, total["cost_micros"])
	require.Equal(t, "2.500002", total["cost_usd"])
	require.EqualValues(t, 1, total["unpriced_requests"])
	require.Equal(t, []any{map[string]any{"provider_type": "openai", "model": "ft:mystery", "unpriced_requests": float64(1)}}, body["unpriced_models"])

	code, body = r.do("GET", "/api/v1/interceptions", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	for _, i := range body["interceptions"].([]any) {
		row := i.(map[string]any)
		if row["model"] == "gpt-4o" {
			require.EqualValues(t, 1250001, row["cost_micros"])
			require.Equal(t, "1.250001", row["cost_usd"])
		} else {
			require.Nil(t, row["cost_micros"], "unpriced: null, not 0")
			require.Nil(t, row["cost_usd"])
		}
	}
}

// A request a policy refused is a denial, not an error: the usage answer
// counts it in requests and denied, per row and in the total, and the
// interceptions list finds it by its status.
func TestUsageDenied(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	ownerID := userID(t, r, owner)
	hour := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	for i, row := range []struct{ model, status string }{
		{"gpt-4o", "ok"}, {"gpt-4o", "denied"}, {"gpt-4o", "denied"}, {"gpt-4o", "upstream_error"},
		{"claude-sonnet-4-5", "ok"}, {"claude-sonnet-4-5", "denied"},
	} {
		_, err := r.db.Pool.Exec(context.Background(), `
			INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id, provider_name, provider_type,
			                           model, endpoint, streaming, started_at, ended_at, status, client)
			VALUES ($1, $1, 'req', $2, 'tok', $3, 'openai', 'openai', $4, 'chat_completions', true, $5::timestamptz,
			        $5::timestamptz + interval '1 second', $6, 'codex')`,
			uuid.New(), ownerID, uuid.Nil, row.model, hour.Add(time.Duration(i)*time.Minute), row.status)
		require.NoError(t, err)
	}
	rollUp(t, r)

	q := url.Values{"from": {hour.Format(time.RFC3339)}, "to": {hour.Add(time.Hour).Format(time.RFC3339)}, "group_by": {"model"}}
	code, body := r.do("GET", "/api/v1/usage?"+q.Encode(), owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	counts := func(m map[string]any) [3]float64 {
		return [3]float64{m["requests"].(float64), m["errors"].(float64), m["denied"].(float64)}
	}
	rows := body["rows"].([]any)
	require.Len(t, rows, 2)
	byModel := map[string][3]float64{}
	for _, row := range rows {
		byModel[row.(map[string]any)["key"].(string)] = counts(row.(map[string]any))
	}
	require.Equal(t, map[string][3]float64{"gpt-4o": {4, 1, 2}, "claude-sonnet-4-5": {2, 0, 1}}, byModel)
	require.Equal(t, [3]float64{6, 1, 3}, counts(body["total"].(map[string]any)))

	code, body = r.do("GET", "/api/v1/interceptions?status=denied", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["interceptions"].([]any), 3)
}
