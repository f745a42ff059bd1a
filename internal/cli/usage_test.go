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
	for i, model := range []string{"gpt-4o", "gpt-4o", "claude-sonnet-4-5"} {
		_, err := sr.DB().Pool.Exec(context.Background(), `
			INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id, provider_name, provider_type,
			                           model, endpoint, streaming, started_at, ended_at, status, client, input_tokens, output_tokens)
			VALUES ($1, $1, 'req', $2, 'tok', $1, 'openai', 'openai', $3, 'chat_completions', true,
			        $4::timestamptz, $4::timestamptz + interval '2 seconds', 'ok', 'claude-code', 100, 7)`,
			uuid.New(), ownerID, model, hour.Add(time.Duration(i)*time.Minute))
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
	require.Regexp(t, `^MODEL\s+REQUESTS\s+ERRORS\s+INPUT\s+OUTPUT\s+CACHE READ\s+CACHE WRITE\s+REASONING$`, lines[0])
	require.Regexp(t, `^gpt-4o\s+2\s+0\s+200\s+14\s`, lines[1], "the busiest group first")
	require.Regexp(t, `^claude-sonnet-4-5\s+1\s+0\s+100\s+7\s`, lines[2])
	require.Regexp(t, `^TOTAL\s+3\s+0\s+300\s+21\s`, lines[3])
	require.Contains(t, errOut, "requests recorded up to ")

	var ans struct {
		Rows  []struct{ Key, UserEmail string }
		Total struct{ Requests int64 }
	}
	require.NoError(t, json.Unmarshal([]byte(r.ok("", append([]string{"usage", "--by", "user", "-o", "json"}, window...)...)), &ans))
	require.EqualValues(t, 3, ans.Total.Requests)
	require.Len(t, ans.Rows, 1)
	require.Equal(t, ownerID.String(), ans.Rows[0].Key)

	code, out, errOut = r.run("", nil, "interceptions", "list", "--limit", "2")
	require.Equal(t, 0, code, errOut)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	require.Regexp(t, `^STARTED\s+USER\s+PROVIDER\s+MODEL\s+CLIENT\s+STATUS\s+INPUT\s+OUTPUT\s+MS$`, lines[0])
	require.Regexp(t, ownerEmail+`\s+openai\s+claude-sonnet-4-5\s+claude-code\s+ok\s+100\s+7\s+2000$`, lines[1], "newest first")
	require.Contains(t, errOut, "More requests: --cursor ")
	cursor := strings.TrimSpace(strings.TrimPrefix(errOut, "More requests: --cursor "))
	code, out, errOut = r.run("", nil, "interceptions", "list", "--limit", "2", "--cursor", cursor)
	require.Equal(t, 0, code, errOut)
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 2, "the last page: %s", out)
	require.NotContains(t, errOut, "More requests")

	r.fail("", "usage", "--by", "team")
}
