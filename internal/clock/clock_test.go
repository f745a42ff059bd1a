package clock_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aigate/aigate/internal/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// waitFor bounds waits on loops that run on other goroutines.
const waitFor = 30 * time.Second

func received(c <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-c:
		return t, true
	default:
		return time.Time{}, false
	}
}

func TestManualTimersFireInOrderAtTheirDeadlines(t *testing.T) {
	t.Parallel()
	m := clock.NewManual(start)
	late := m.NewTimer("late", 3*time.Second)
	early := m.NewTimer("early", time.Second)
	var order []string
	var firedAt time.Time
	m.AfterFunc("func", 2*time.Second, func() {
		order = append(order, "func")
		firedAt = m.Now()
	})

	m.Advance(999 * time.Millisecond)
	_, ok := received(early.C)
	require.False(t, ok, "not due yet")

	m.Advance(5 * time.Second)
	require.Equal(t, start.Add(5999*time.Millisecond), m.Now())
	at, ok := received(early.C)
	require.True(t, ok)
	require.Equal(t, start.Add(time.Second), at, "a timer fires at its own deadline")
	at, ok = received(late.C)
	require.True(t, ok)
	require.Equal(t, start.Add(3*time.Second), at)
	require.Equal(t, []string{"func"}, order, "AfterFunc ran before Advance returned")
	require.Equal(t, start.Add(2*time.Second), firedAt, "the clock reads the deadline while it fires")
}

func TestManualStopAndReset(t *testing.T) {
	t.Parallel()
	m := clock.NewManual(start)
	tm := m.NewTimer("t", time.Second)
	require.True(t, tm.Stop())
	require.False(t, tm.Stop())
	m.Advance(time.Minute)
	_, ok := received(tm.C)
	require.False(t, ok, "a stopped timer does not fire")

	require.False(t, tm.Reset(time.Second))
	m.Advance(time.Second)
	require.False(t, tm.Reset(time.Second), "it fired: no longer active")
	_, ok = received(tm.C)
	require.False(t, ok, "Reset discards the value not yet received")
	m.Advance(time.Second)
	_, ok = received(tm.C)
	require.True(t, ok)

	var calls atomic.Int32
	f := m.AfterFunc("f", time.Second, func() { calls.Add(1) })
	require.True(t, f.Stop())
	m.Advance(time.Hour)
	require.Zero(t, calls.Load())

	now := m.NewTimer("now", 0)
	_, ok = received(now.C)
	require.True(t, ok, "a timer armed with d <= 0 fires at once")
}

func TestManualTicker(t *testing.T) {
	t.Parallel()
	m := clock.NewManual(start)
	tk := m.NewTicker("tick", time.Second)
	m.Advance(time.Second)
	at, ok := received(tk.C)
	require.True(t, ok)
	require.Equal(t, start.Add(time.Second), at)
	m.Advance(3 * time.Second) // nobody reads: ticks beyond the first are dropped
	at, ok = received(tk.C)
	require.True(t, ok)
	require.Equal(t, start.Add(2*time.Second), at)
	_, ok = received(tk.C)
	require.False(t, ok)
	tk.Reset(10 * time.Second)
	m.Advance(9 * time.Second)
	_, ok = received(tk.C)
	require.False(t, ok)
	m.Advance(time.Second)
	_, ok = received(tk.C)
	require.True(t, ok)
	tk.Stop()
	m.Advance(time.Hour)
	_, ok = received(tk.C)
	require.False(t, ok)
}

// The pattern every loop test follows: wait for the loop to arm its timer,
// move time past it, wait for it to have run and armed the next one.
func TestManualWaitArmed(t *testing.T) {
	t.Parallel()
	m := clock.NewManual(start)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var runs atomic.Int32
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tm := m.NewTimer("loop", time.Minute)
		defer tm.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tm.C:
				runs.Add(1)
				tm.Reset(time.Minute)
			}
		}
	}()
	for i := range 3 {
		require.NoError(t, m.WaitArmed(ctx, "loop", i+1))
		require.EqualValues(t, i, runs.Load())
		next, ok := m.Next("loop")
		require.True(t, ok)
		require.Equal(t, start.Add(time.Duration(i+1)*time.Minute), next)
		m.Advance(time.Minute)
	}
	require.NoError(t, m.WaitArmed(ctx, "loop", 4))
	require.EqualValues(t, 3, runs.Load())
	close(stop)
	<-done
	_, ok := m.Next("loop")
	require.False(t, ok, "stopped")

	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	require.ErrorIs(t, m.WaitArmed(short, "never", 1), context.Canceled)
}

func TestSleep(t *testing.T) {
	t.Parallel()
	m := clock.NewManual(start)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	slept := make(chan error, 1)
	go func() { slept <- clock.Sleep(ctx, m, "sleep", time.Hour) }()
	require.NoError(t, m.WaitArmed(ctx, "sleep", 1))
	m.Advance(time.Hour)
	require.NoError(t, <-slept)

	gone, cancelGone := context.WithCancel(context.Background())
	cancelGone()
	require.ErrorIs(t, clock.Sleep(gone, m, "sleep", time.Hour), context.Canceled)
}

func TestReal(t *testing.T) {
	t.Parallel()
	c := clock.Or(nil)
	before := time.Now()
	require.False(t, c.Now().Before(before), "the real clock is the system's")
	tm := c.NewTimer("t", 0)
	<-tm.C
	done := make(chan struct{})
	c.AfterFunc("f", 0, func() { close(done) })
	<-done
	tk := c.NewTicker("k", time.Millisecond)
	<-tk.C
	tk.Stop()
	require.NoError(t, clock.Sleep(context.Background(), c, "s", 0))
}
