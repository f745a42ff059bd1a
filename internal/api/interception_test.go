package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/interceptions"
)

// interceptionRow is what insertInterception writes beyond its defaults.
type interceptionRow struct {
	user                   string
	started                time.Time
	duration               time.Duration
	ttfbMs, upstreamStatus *int
	status, errText        string
	toolCalls, prompt      string // JSON; prompt "" for none
	session                string // "" for none
}

// insertInterception writes one interception as the gateway's recorder
// would, with an id as the gateway makes it, and returns the id.
func insertInterception(t *testing.T, r *replica, row interceptionRow) uuid.UUID {
	t.Helper()
	id := interceptions.NewID(row.started)
	var prompt, session, errText *string
	if row.prompt != "" {
		prompt = &row.prompt
	}
	if row.session != "" {
		session = &row.session
	}
	if row.errText != "" {
		errText = &row.errText
	}
	_, err := r.db.Pool.Exec(context.Background(), `
		INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id, provider_name, provider_type,
		                           model, endpoint, streaming, client, session_id, started_at, ended_at, ttfb_ms, status,
		                           upstream_status, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
		                           reasoning_tokens, tool_calls, prompt, error)
		VALUES ($1, $2, $13, $3, 'tok-1', $2, 'openai-main', 'openai', 'gpt-4o', 'chat_completions', true, 'codex', $4,
		        $5, $6, $7, $8, $9, 120, 30, 40, 0, 7, $10::jsonb, $11::jsonb, $12)`,
		id, uuid.New(), row.user, session, row.started, row.started.Add(row.duration), row.ttfbMs, row.status,
		row.upstreamStatus, row.toolCalls, prompt, errText, "req-"+id.String())
	require.NoError(t, err)
	return id
}

// GET /api/v1/interceptions/{id}: everything the listing says of the
// request and what only its page needs (request and token ids, provider
// type, duration, tool calls, the prompt when recorded). A member sees
// their own; anyone else's is the 404 of an id nobody has.
func TestInterceptionDetail(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	alice := addUser(t, r, owner, "alice@example.com", "member")
	bob := addUser(t, r, owner, "bob@example.com", "member")
	auditor := addUser(t, r, owner, "audrey@example.com", "auditor")
	aliceID, bobID := userID(t, r, alice), userID(t, r, bob)
	started := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Hour)
	ttfb, ok200, bad502 := 250, 200, 502
	const prompt = `{"model": "gpt-4o", "messages": [{"role": "user", "content": "weather in Paris?"}], "stream": true}`
	aliceReq := insertInterception(t, r, interceptionRow{user: aliceID, started: started, duration: 1500*time.Millisecond + 700*time.Microsecond,
		ttfbMs: &ttfb, upstreamStatus: &ok200, status: "ok", session: "sess-1",
		toolCalls: `[{"id": "call_1", "name": "get_weather"}, {"id": "call_2", "name": "search"}]`, prompt: prompt})
	bobReq := insertInterception(t, r, interceptionRow{user: bobID, started: started.Add(time.Minute), duration: 20 * time.Millisecond,
		upstreamStatus: &bad502, status: "upstream_error", errText: "the provider's stream failed", toolCalls: `[]`})

	code, list := r.do("GET", "/api/v1/interceptions?user=alice@example.com", owner, nil)
	require.Equal(t, http.StatusOK, code, list)
	require.Len(t, list["interceptions"].([]any), 1)
	listed := list["interceptions"].([]any)[0].(map[string]any)

	for _, who := range []string{owner, auditor, alice} {
		code, body := r.do("GET", "/api/v1/interceptions/"+aliceReq.String(), who, nil)
		require.Equal(t, http.StatusOK, code, body)
		for k, v := range listed {
			require.Equal(t, v, body[k], "the listing's %s", k)
		}
		extra := map[string]any{}
		for k, v := range body {
			if _, ok := listed[k]; !ok {
				extra[k] = v
			}
		}
		promptJSON := extra["prompt"]
		delete(extra, "prompt")
		require.Equal(t, map[string]any{
			"request_id": "req-" + aliceReq.String(), "token_id": "tok-1", "provider_type": "openai", "duration_ms": float64(1500),
			"tool_calls": []any{map[string]any{"id": "call_1", "name": "get_weather"}, map[string]any{"id": "call_2", "name": "search"}},
		}, extra)
		require.Equal(t, map[string]any{
			"model": "gpt-4o", "stream": true, "messages": []any{map[string]any{"role": "user", "content": "weather in Paris?"}},
		}, promptJSON, "the prompt as stored, as JSON")
		require.Equal(t, "alice@example.com", body["user_email"])
		require.Equal(t, "sess-1", body["session"])
		require.EqualValues(t, 250, body["ttfb_ms"])
	}

	code, body := r.do("GET", "/api/v1/interceptions/"+bobReq.String(), auditor, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, []any{}, body["tool_calls"])
	require.Contains(t, body, "prompt")
	require.Nil(t, body["prompt"], "not recorded: null")
	require.Nil(t, body["ttfb_ms"], "no byte came back")
	require.EqualValues(t, 502, body["upstream_status"])
	require.Equal(t, "the provider's stream failed", body["error"])
	require.EqualValues(t, 20, body["duration_ms"])

	// Another member's request and an id nobody has get one answer.
	code, other := r.do("GET", "/api/v1/interceptions/"+bobReq.String(), alice, nil)
	require.Equal(t, http.StatusNotFound, code, other)
	unknown := interceptions.NewID(started)
	code, none := r.do("GET", "/api/v1/interceptions/"+unknown.String(), alice, nil)
	require.Equal(t, http.StatusNotFound, code, none)
	require.Equal(t, "No interception "+bobReq.String()+" among your requests. A request is recorded about a second after it ends, "+
		"and kept for the interceptions retention (90 days by default).", other["message"])
	require.Equal(t, "No interception "+unknown.String()+" among your requests. A request is recorded about a second after it ends, "+
		"and kept for the interceptions retention (90 days by default).", none["message"], "the same answer but for the id")
	code, _ = r.do("GET", "/api/v1/interceptions/"+unknown.String(), owner, nil)
	require.Equal(t, http.StatusNotFound, code)

	code, body = r.do("GET", "/api/v1/interceptions/not-a-uuid", owner, nil)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, validations(t, body)["interception"], "must be an interception id")

	// A request recorded with an id that does not carry its start (a v4,
	// as older fixtures have) is found too.
	recordRequests(t, r, aliceID, "gpt-4o", "codex", started.Add(2*time.Minute), 1)
	code, list = r.do("GET", "/api/v1/interceptions?model=gpt-4o&limit=1", alice, nil)
	require.Equal(t, http.StatusOK, code, list)
	newest := list["interceptions"].([]any)[0].(map[string]any)["id"].(string)
	require.NotEqual(t, aliceReq.String(), newest)
	code, body = r.do("GET", "/api/v1/interceptions/"+newest, alice, nil)
	require.Equal(t, http.StatusOK, code, body)

	// The record outlives its user, without the email.
	code, _ = r.do("DELETE", "/api/v1/users/bob@example.com", owner, nil)
	require.Equal(t, http.StatusNoContent, code)
	code, body = r.do("GET", "/api/v1/interceptions/"+bobReq.String(), owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, bobID, body["user_id"])
	require.NotContains(t, body, "user_email")
}
