package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/rollup"
	"github.com/aigate/aigate/internal/servertest"
)

// aigate usage and aigate interceptions list print what the API answers:
// totals per group with a TOTAL line, and requests newest first, a page at a
// time.
func TestUsageCLI(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Now())
	sr := servertest.Start(t, servertest.Options{Clock: clk})
	r := newRunner(t)
	loginFirstOwner(t, r, sr.URL)
	var ownerID uuid.UUID
	require.NoError(t, sr.DB().Pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = $1`, ownerEmail).Scan(&ownerID))

	hour := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	// A denial is counted apart from the errors; it had no tokens.
	for i, row := range []struct{ model, status string }{
		{"gpt-4o", "denied"}, {"gpt-4o", "ok"}, {"gpt-4o", "ok"}, {"gpt-4o", "ok"},
		{"claude-sonnet-4-5", "denied"}, {"claude-sonnet-4-5", "upstream_error"}, {"claude-sonnet-4-5", "ok"},
	} {
		tokens := 1
		if row.status == "denied" {
			tokens = 0
		}
		_, err := sr.DB().Pool.Exec(context.Background(), `
			INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id, provider_name, provider_type,
			                           model, endpoint, streaming, started_at, ended_at, status, client, input_tokens, output_tokens)
			VALUES ($1, $1, 'req', $2, 'tok', $1, 'openai', 'openai', $3, 'chat_completions', true,
			        $4::timestamptz, $4::timestamptz + interval '2 seconds', $5, 'claude-code', 100 * $6::int, 7 * $6::int)`,
			uuid.New(), ownerID, row.model, hour.Add(time.Duration(i)*time.Minute), row.status, tokens)
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, clk.WaitArmed(ctx, rollup.TickTimer, 1))
	next, _ := clk.Next(rollup.TickTimer)
	clk.AdvanceTo(next)
	require.NoError(t, clk.WaitArmed(ctx, rollup.TickTimer, 2))

	window := []string{"--from", hour.Format(time.RFC3339), "--to", hour.Add(2 * time.Hour).Format(time.RFC3339)}
	code, out, errOut := r.run("", nil, append([]string{"usage", "--by", "model"}, window...)...)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	require.Regexp(t, `^MODEL\s+REQUESTS\s+ERRORS\s+DENIED\s+INPUT\s+OUTPUT\s+CACHE READ\s+CACHE WRITE\s+REASONING\s+COST USD\s+UNPRICED$`, lines[0])
	require.Regexp(t, `^gpt-4o\s+4\s+0\s+1\s+300\s+21\s`, lines[1], "the busiest group first")
	require.Regexp(t, `^claude-sonnet-4-5\s+3\s+1\s+1\s+200\s+14\s`, lines[2])
	require.Regexp(t, `^TOTAL\s+7\s+1\s+2\s+500\s+35\s`, lines[3])
	require.Contains(t, errOut, "requests recorded up to ")

	var ans struct {
		Rows  []struct{ Key, UserEmail string }
		Total struct{ Requests, Errors, Denied int64 }
	}
	require.NoError(t, json.Unmarshal([]byte(r.ok("", append([]string{"usage", "--by", "user", "-o", "json"}, window...)...)), &ans))
	require.EqualValues(t, 7, ans.Total.Requests)
	require.EqualValues(t, 1, ans.Total.Errors)
	require.EqualValues(t, 2, ans.Total.Denied)
	require.Len(t, ans.Rows, 1)
	require.Equal(t, ownerID.String(), ans.Rows[0].Key)

	code, out, errOut = r.run("", nil, "interceptions", "list", "--limit", "4")
	require.Equal(t, 0, code, errOut)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5, out)
	require.Regexp(t, `^STARTED\s+USER\s+PROVIDER\s+MODEL\s+CLIENT\s+STATUS\s+INPUT\s+OUTPUT\s+MS$`, lines[0])
	require.Regexp(t, ownerEmail+`\s+openai\s+claude-sonnet-4-5\s+claude-code\s+ok\s+100\s+7\s+2000$`, lines[1], "newest first")
	require.Contains(t, errOut, "More requests: --cursor ")
	cursor := strings.TrimSpace(strings.TrimPrefix(errOut, "More requests: --cursor "))
	code, out, errOut = r.run("", nil, "interceptions", "list", "--limit", "4", "--cursor", cursor)
	require.Equal(t, 0, code, errOut)
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 4, "the last page: %s", out)
	require.NotContains(t, errOut, "More requests")

	r.fail("", "usage", "--by", "team")
}

// aigate interceptions show prints one request's fields, its tool calls and
// its prompt, indented; -o json prints the API's answer; someone else's
// request is not found for a member.
func TestInterceptionsShowCLI(t *testing.T) {
	t.Parallel()
	sr := servertest.Start(t, servertest.Options{})
	r := newRunner(t)
	loginFirstOwner(t, r, sr.URL)
	r.ok(memberPassword, "users", "create", "--email", memberEmail, "--name", "M", "--role", "member", "--password-stdin")
	memberToken := strings.TrimSpace(r.ok("", "tokens", "create", "cli", "--user", memberEmail, "--scope", "api"))
	asMember := map[string]string{"AIGATE_URL": sr.URL, "AIGATE_TOKEN": memberToken, "XDG_CONFIG_HOME": t.TempDir()}
	var ownerID uuid.UUID
	require.NoError(t, sr.DB().Pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = $1`, ownerEmail).Scan(&ownerID))

	started := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
	withPrompt := interceptions.NewID(started)
	bare := interceptions.NewID(started.Add(time.Minute))
	for _, row := range []struct {
		id             uuid.UUID
		started        time.Time
		model          string
		tools, prompt  any
		ttfb, upstream any
	}{
		{withPrompt, started, "gpt-4o", `[{"id":"call_1","name":"get_weather"}]`, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, 250, 200},
		{bare, started.Add(time.Minute), "evil\x1b[31mred", `[]`, nil, nil, nil},
	} {
		_, err := sr.DB().Pool.Exec(context.Background(), `
			INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id, provider_name, provider_type,
			                           model, endpoint, streaming, started_at, ended_at, ttfb_ms, status, upstream_status, client,
			                           input_tokens, output_tokens, tool_calls, prompt)
			VALUES ($1, $1, 'req-1', $2, 'tok-1', $1, 'openai', 'openai', $3, 'chat_completions', true,
			        $4::timestamptz, $4::timestamptz + interval '2 seconds', $5, 'ok', $6, 'codex', 100, 7, $7::jsonb, $8::jsonb)`,
			row.id, ownerID, row.model, row.started, row.ttfb, row.upstream, row.tools, row.prompt)
		require.NoError(t, err)
	}

	out := r.ok("", "interceptions", "show", withPrompt.String())
	for _, want := range []string{
		`(?m)^ID:\s+` + withPrompt.String() + `$`,
		`(?m)^Started:\s+2026-05-06T07:08:09.123456Z$`,
		`(?m)^Duration:\s+2000 ms$`,
		`(?m)^Time to first byte:\s+250 ms$`,
		`(?m)^User:\s+` + ownerEmail + ` \(` + ownerID.String() + `\)$`,
		`(?m)^Provider:\s+openai \(openai\)$`,
		`(?m)^Upstream status:\s+200$`,
		`(?m)^Input tokens:\s+100$`,
		`(?m)^Tool calls:\n  ID\s+NAME\n  call_1\s+get_weather\n`,
		`(?m)^Prompt:\n\{\n  "model": "gpt-4o",\n  "messages": \[\n    \{\n`,
	} {
		require.Regexp(t, want, out)
	}

	out = r.ok("", "interceptions", "show", bare.String())
	require.Regexp(t, `(?m)^Time to first byte:\s+- \(no byte came back\)$`, out)
	require.Regexp(t, `(?m)^Model:\s+"evil\\x1b\[31mred"$`, out, "a client's text cannot drive the terminal")
	require.NotContains(t, out, "\x1b")
	require.Contains(t, out, "Tool calls: none\n")
	require.Contains(t, out, "Prompt: not recorded")

	var d struct {
		ID         string                      `json:"id"`
		DurationMs int64                       `json:"duration_ms"`
		ToolCalls  []struct{ ID, Name string } `json:"tool_calls"`
		Prompt     json.RawMessage             `json:"prompt"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.ok("", "interceptions", "show", withPrompt.String(), "-o", "json")), &d))
	require.Equal(t, withPrompt.String(), d.ID)
	require.EqualValues(t, 2000, d.DurationMs)
	require.Equal(t, "get_weather", d.ToolCalls[0].Name)
	require.JSONEq(t, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, string(d.Prompt))

	code, _, errOut := r.run("", asMember, "interceptions", "show", withPrompt.String())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "No interception "+withPrompt.String()+" among your requests.")
	require.Contains(t, r.fail("", "interceptions", "show", "nope"), "must be an interception id")
	require.Contains(t, r.fail("", "interceptions", "show"), "usage: aigate interceptions show ID")
}
