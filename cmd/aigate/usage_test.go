package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/testdb"
)

// usageTotals are the numbers compared between GET /api/v1/usage and the
// interceptions table.
type usageTotals struct{ Requests, Input, Output int64 }

// Issue 14, acceptance 4: two aigate processes on one database serve 500
// gateway requests between them, from two users, two models and three
// clients; GET /api/v1/usage (on either process) then gives, per user, per
// model and per client, exactly the requests and tokens the interceptions
// table holds for the window, once the next rollup has run.
func TestUsageAcrossTwoProcesses(t *testing.T) {
	t.Parallel()
	const requests = 500
	dbURL := testdb.EmptyURL(t)
	mock := llmmock.New(t, llmmock.Options{Events: 2})
	serve := func() (*proc, string) {
		p := start(t, nil, nil, "server", "--postgres-url", dbURL, "--http-address", "127.0.0.1:0", "--log-format", "json",
			"--usage-rollup-interval", "1s", "--usage-flush-interval", "1s")
		return p, "http://" + p.waitFor("aigate ready")["address"].(string)
	}
	pa, a := serve()

	code, body := api(t, "POST", a+"/api/v1/users/first", "", map[string]any{"email": "o@example.com", "name": "O", "password": "correct horse battery"})
	require.Equal(t, http.StatusCreated, code, body)
	owner := body["token"].(string)
	tokens := []string{gatewayToken(t, a, owner)}
	code, body = api(t, "POST", a+"/api/v1/users", owner, map[string]any{"email": "ada@example.com", "name": "Ada", "password": "password-ada-1", "role": "member"})
	require.Equal(t, http.StatusCreated, code, body)
	code, body = api(t, "POST", a+"/api/v1/providers", owner, map[string]any{"name": "openai", "type": "openai", "base_url": mock.OpenAIBaseURL(),
		"api_keys": []any{map[string]any{"api_key": "sk-e2e-usage-0123456789abcdef"}}})
	require.Equal(t, http.StatusCreated, code, body)
	// a serves the provider now (a replica reloads on its own changes); b
	// is started after it, so its first snapshot has it. How fast a change
	// reaches a running replica is TestGatewayChangesReachOtherProcess' business.
	pb, b := serve()
	code, body = api(t, "POST", b+"/api/v1/login", "", map[string]any{"email": "ada@example.com", "password": "password-ada-1"})
	require.Equal(t, http.StatusOK, code, body)
	tokens = append(tokens, gatewayToken(t, b, body["token"].(string)))
	windowFrom := time.Now().UTC().Truncate(time.Hour)

	models := []string{"gpt-4o", "gpt-4o-mini"}
	agents := []string{"claude-cli/2.0.14 (external, cli)", "codex_cli_rs/0.46.0 (Mac OS 15.0; arm64)", "curl/8.5.0"}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	t.Cleanup(client.CloseIdleConnections)
	var wg sync.WaitGroup
	errs := make(chan error, requests)
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				base := a
				if i%2 == 1 {
					base = b
				}
				stream := i%3 == 0
				reqBody := fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"user","content":"hi"}]}`, models[i%len(models)], stream)
				req, err := http.NewRequest(http.MethodPost, base+"/ai/openai/v1/chat/completions", strings.NewReader(reqBody))
				if err != nil {
					errs <- err
					continue
				}
				req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
				req.Header.Set("User-Agent", agents[i%len(agents)])
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("request %d: status %d", i, resp.StatusCode)
				}
			}
		})
	}
	for i := range requests {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	db := testdb.Open(t, dbURL)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		return countRows(t, db, "SELECT count(*) FROM interceptions") == requests
	}, readyTimeout, 50*time.Millisecond, "every request recorded")
	window := url.Values{"from": {windowFrom.Format(time.RFC3339)}, "to": {windowFrom.Add(2 * time.Hour).Format(time.RFC3339)}}

	// What the interceptions table says, per group.
	fromTable := func(column string) map[string]usageTotals {
		rows, err := db.Pool.Query(ctx, `SELECT `+column+`::text, count(*), sum(input_tokens), sum(output_tokens)
			FROM interceptions WHERE started_at >= $1 AND started_at < $2 GROUP BY 1`, windowFrom, windowFrom.Add(2*time.Hour))
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]usageTotals{}
		for rows.Next() {
			var k string
			var v usageTotals
			require.NoError(t, rows.Scan(&k, &v.Requests, &v.Input, &v.Output))
			out[k] = v
		}
		require.NoError(t, rows.Err())
		return out
	}
	fromAPI := func(base, groupBy string) map[string]usageTotals {
		q := url.Values{"group_by": {groupBy}}
		for k, v := range window {
			q[k] = v
		}
		req, err := http.NewRequest(http.MethodGet, base+"/api/v1/usage?"+q.Encode(), nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+owner)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var ans struct {
			Rows []struct {
				Key          string `json:"key"`
				Requests     int64  `json:"requests"`
				InputTokens  int64  `json:"input_tokens"`
				OutputTokens int64  `json:"output_tokens"`
			} `json:"rows"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
		out := map[string]usageTotals{}
		for _, r := range ans.Rows {
			out[r.Key] = usageTotals{r.Requests, r.InputTokens, r.OutputTokens}
		}
		return out
	}
	for _, g := range []struct{ groupBy, column string }{{"user", "user_id"}, {"model", "model"}, {"client", "client"}} {
		want := fromTable(g.column)
		require.Len(t, want, map[string]int{"user": 2, "model": 2, "client": 3}[g.groupBy], g.groupBy)
		var got map[string]usageTotals
		require.Eventually(t, func() bool {
			got = fromAPI(a, g.groupBy)
			return fmt.Sprint(got) == fmt.Sprint(want)
		}, readyTimeout, 100*time.Millisecond, "%s: the rollups never matched the table: %v vs %v", g.groupBy, got, want)
		require.Equal(t, want, fromAPI(b, g.groupBy), "%s: the other process answers the same", g.groupBy)
	}
	var total int64
	for _, v := range fromTable("model") {
		total += v.Requests
	}
	require.EqualValues(t, requests, total)
	require.EqualValues(t, llmmock.FixedUsage.Input*requests, sum(fromTable("model"), func(v usageTotals) int64 { return v.Input }),
		"exact tokens on every request, streams without include_usage included")

	// The counters both processes flushed add up to the requests they served.
	pa.stop(syscall.SIGTERM)
	pb.stop(syscall.SIGTERM)
	require.EqualValues(t, requests, countRows(t, db, `SELECT coalesce(sum(requests_allowed), 0)::int FROM usage_counters`)+
		countRows(t, db, `SELECT coalesce(sum(requests_allowed), 0)::int FROM usage_snapshots`))
}

func sum(m map[string]usageTotals, f func(usageTotals) int64) int64 {
	var n int64
	for _, v := range m {
		n += f(v)
	}
	return n
}
