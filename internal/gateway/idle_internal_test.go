package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The idle timeout counts from the last bytes the upstream sent, not from
// the headers: every read that returns bytes re-arms it, and only a silence
// as long as the timeout cancels the upstream request. Closing the body
// disarms it.
func TestIdleTimeoutCountsFromTheLastRead(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	const idle = time.Minute
	upstream, send := io.Pipe()
	defer upstream.Close()
	g := New(Config{Clock: clk, IdleTimeout: idle, Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: upstream}, nil
	})})
	x := &exchange{g: g}
	x.ctx, x.cancel = context.WithCancelCause(context.Background())
	defer x.cancel(nil)
	req, err := http.NewRequestWithContext(x.ctx, http.MethodPost, "http://upstream.invalid/", strings.NewReader("{}"))
	require.NoError(t, err)
	resp, err := x.roundTrip(req)
	require.NoError(t, err)
	require.Equal(t, 1, clk.Armed(HeaderTimer), "one header timer, for the one attempt")
	_, armed := clk.Next(HeaderTimer)
	require.False(t, armed, "the header timer stops when the headers are in")

	read := func(want string) {
		t.Helper()
		go func() { _, _ = send.Write([]byte(want)) }()
		buf := make([]byte, len(want))
		_, err := io.ReadFull(resp.Body, buf)
		require.NoError(t, err)
		require.Equal(t, want, string(buf))
	}
	read("a")
	for range 3 {
		clk.Advance(idle - time.Second)
		read("b")
		next, ok := clk.Next(IdleTimer)
		require.True(t, ok)
		require.Equal(t, clk.Now().Add(idle), next, "re-armed by the read")
	}
	require.NoError(t, x.ctx.Err(), "three silences shorter than the timeout")
	clk.Advance(idle - time.Microsecond)
	require.NoError(t, x.ctx.Err())
	clk.Advance(time.Microsecond)
	require.Error(t, x.ctx.Err(), "a silence as long as the timeout cancels the upstream request")
	require.True(t, errors.Is(context.Cause(x.ctx), errIdleTimeout))
	require.True(t, x.idledOut())

	require.NoError(t, resp.Body.Close())

	// A body closed before its timeout (a response read to the end, or an
	// attempt given up for another key) leaves no timer behind.
	y := &exchange{g: g}
	y.ctx, y.cancel = context.WithCancelCause(context.Background())
	defer y.cancel(nil)
	resp, err = y.roundTrip(req.WithContext(y.ctx))
	require.NoError(t, err)
	_, armed = clk.Next(IdleTimer)
	require.True(t, armed)
	require.NoError(t, resp.Body.Close())
	_, armed = clk.Next(IdleTimer)
	require.False(t, armed, "closing the body disarms the timer")
	clk.Advance(2 * idle)
	require.NoError(t, y.ctx.Err())
}
