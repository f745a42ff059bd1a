package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/gateway"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/llmmock"
)

// Issue 15, acceptance 5 (the body part), on the manual clock: a request
// body slower than --http-body-timeout is refused with 408 in the
// provider's error shape, and nothing of it goes upstream.
func TestSlowBodyIsRefusedNotForwarded(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	e := setup(t, options{clock: clk})
	mock := llmmock.New(t, llmmock.Options{})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)

	// A whole, valid request, padded so the client's first write gets the
	// headers and the start of the body out at once; the rest never comes.
	full := body(chatBody, true) + strings.Repeat(" ", 64<<10)
	sent := 16 << 10
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest(http.MethodPost, e.url+"/ai/oa/v1/chat/completions", pr)
	require.NoError(t, err)
	req.ContentLength = int64(len(full))
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	type result struct {
		resp *http.Response
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := httpClient(t).Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		done <- result{resp, string(raw), err}
	}()
	_, err = pw.Write([]byte(full[:sent]))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, clk.WaitArmed(ctx, httpserver.TimerBody, 1))
	clk.Advance(httpserver.DefaultBodyTimeout)

	res := <-done
	require.NoError(t, res.err)
	require.Equal(t, http.StatusRequestTimeout, res.resp.StatusCode, res.body)
	var oaErr struct {
		Error struct{ Message, Type string }
	}
	require.NoError(t, json.Unmarshal([]byte(res.body), &oaErr), res.body)
	require.Contains(t, oaErr.Error.Message, "--http-body-timeout")
	require.Empty(t, mock.Requests(), "no part of the body went upstream")
	require.EqualValues(t, 1, metricValue(t, e.replica, "aigate_gateway_rejected_total"))
}

// The body deadline ends with the body: a stream relayed for far longer on
// the server's clock is not cut.
func TestStreamOutlivesTheBodyTimeout(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	e := setup(t, options{clock: clk})
	// The upstream pauses before each delta, so the test is mid-stream
	// when it moves the clock.
	mock := llmmock.New(t, llmmock.Options{Events: 3, EventDelay: 20 * time.Millisecond})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	req, err := http.NewRequest(http.MethodPost, e.url+"/ai/oa/v1/chat/completions", bytes.NewReader([]byte(body(chatBody, true))))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := httpClient(t).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rd := bufio.NewReader(resp.Body)
	first, err := rd.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(first, "data: {"), first)

	// Past the body's deadline, and short of the upstream idle timeout,
	// which would end the stream on its own (TestSilentStreamEndsAfterIdleTimeout).
	past := httpserver.DefaultBodyTimeout + time.Second
	require.Less(t, past, gateway.DefaultIdleTimeout)
	clk.Advance(past)
	rest, err := io.ReadAll(rd)
	require.NoError(t, err)
	whole := first + string(rest)
	require.Contains(t, whole, "chunk 2 ", "every delta arrived")
	require.True(t, strings.HasSuffix(whole, "data: [DONE]\n\n"), "the stream is whole")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, clk.WaitArmed(ctx, interceptions.FlushTimer, 1), "the record is queued")
	clk.Advance(interceptions.DefaultFlushInterval)
	rows := e.waitInterceptions(1)
	require.Equal(t, "ok", rows[0].Status)
}
