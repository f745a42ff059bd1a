package database_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/testdb"
)

const secretPassword = "s3cr3t-Pa55word"

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// An unreachable server is retried every RetryInterval until the next
// attempt would fall past Timeout, on the clock.
func TestConnectUnreachableNamesTargetNotPassword(t *testing.T) {
	t.Parallel()
	addr := closedPort(t)
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	const timeout, interval = 300 * time.Millisecond, 50 * time.Millisecond
	done := make(chan error, 1)
	go func() {
		_, err := database.Connect(context.Background(), database.ConnectOptions{
			URL:     "postgres://alice:" + secretPassword + "@" + addr + "/aigate",
			Timeout: timeout, RetryInterval: interval, Clock: clk,
		})
		done <- err
	}()
	// Attempts at 0, 50, …, 300 ms: after the seventh, an eighth would
	// start past the timeout.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 1; i <= 6; i++ {
		require.NoError(t, clk.WaitArmed(ctx, database.ConnectRetryTimer, i))
		clk.Advance(interval)
	}
	err := <-done
	require.Error(t, err)
	require.Equal(t, 6, clk.Armed(database.ConnectRetryTimer))
	var ce *database.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 7, ce.Attempts, "an unreachable server is retried")
	require.Equal(t, timeout, ce.Waited)
	msg := err.Error()
	require.Contains(t, msg, "alice@127.0.0.1")
	require.Contains(t, msg, "after 7 attempt(s) over 300ms")
	require.Contains(t, msg, "--postgres-url (AIGATE_POSTGRES_URL)")
	require.NotContains(t, msg, secretPassword)
}

func TestConnectBadPasswordFailsFast(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	// The test cluster trusts local socket connections, so use a role that
	// does not exist to get an authentication-class error instead.
	_, err := database.Connect(context.Background(), database.ConnectOptions{
		URL: url + " user=nobody_here password=" + secretPassword, Timeout: 10 * time.Second,
	})
	if strings.HasPrefix(url, "postgres") {
		_, err = database.Connect(context.Background(), database.ConnectOptions{
			URL: strings.Replace(url, "://", "://nobody_here:"+secretPassword+"@", 1), Timeout: 10 * time.Second,
		})
	}
	require.Error(t, err)
	var ce *database.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 1, ce.Attempts, "wrong credentials are not retried")
	require.Contains(t, err.Error(), "SQLSTATE 28")
	require.NotContains(t, err.Error(), secretPassword)
}

func TestConnectInvalidURLHidesIt(t *testing.T) {
	t.Parallel()
	_, err := database.Connect(context.Background(), database.ConnectOptions{URL: "postgres://bob:" + secretPassword + "@host:notaport/db"})
	require.Error(t, err)
	require.Contains(t, err.Error(), "invalid --postgres-url (AIGATE_POSTGRES_URL)")
	require.NotContains(t, err.Error(), secretPassword)
}
