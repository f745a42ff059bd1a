package usage_test

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/usage"
)

// totals is what the test recorded, or what the database holds.
type totals struct {
	allowed, denied int64
	tokens          usage.Tokens
}

func (a *totals) add(b totals) {
	a.allowed += b.allowed
	a.denied += b.denied
	a.tokens.Input += b.tokens.Input
	a.tokens.Output += b.tokens.Output
	a.tokens.CacheRead += b.tokens.CacheRead
	a.tokens.CacheWrite += b.tokens.CacheWrite
	a.tokens.Reasoning += b.tokens.Reasoning
}

func summaryTotals(s usage.Summary) totals {
	return totals{allowed: s.RequestsAllowed, denied: s.RequestsDenied, tokens: s.Tokens}
}

// TestCutOverIsExact is acceptance 1: three replicas, each with its own
// Counters, Flusher and pool, count requests from many goroutines and flush
// back to back, while a snapshot is taken back to back too. One in eight
// committed flushes has its COMMIT's answer "lost" (the flush returns an
// error although it landed), so the in-doubt path runs under the same race.
// After each iteration every replica flushes what is left and a final
// summary is taken: the snapshots taken during the iteration plus that
// final summary equal, exactly, the requests and tokens recorded.
func TestCutOverIsExact(t *testing.T) {
	t.Parallel()
	const (
		replicas  = 3
		workers   = 4 // goroutines counting on each replica
		perWorker = 5_000
		// Workers count in chunks and, after each, wait for one more
		// snapshot, so every iteration has at least chunks-1 snapshots
		// cutting in while requests are counted and flushed.
		chunks     = 10
		iterations = 40
	)
	url := testdb.URL(t)
	ctx := ctxFor(t)
	var lostAnswers atomic.Int64
	reps := make([]*replica, replicas)
	for i := range reps {
		reps[i] = newReplica(t, url, nil, nil)
		reps[i].flusher.LoseCommitAnswer(func() bool {
			if rand.IntN(8) == 0 {
				lostAnswers.Add(1)
				return true
			}
			return false
		})
	}
	// The snapshots' own pool: a fourth connection pool, as on another replica.
	snapDB := testdb.Open(t, url)
	snapper := usage.NewSnapshotter(usage.SnapshotterConfig{DB: snapDB, ReplicaID: uuid.New(), Logger: testdb.Logger(t)})
	users, providers := ids(50), ids(3)
	periodEnd := start.Truncate(time.Hour)

	began := time.Now()
	var snapshots, midRecordingCuts int
	var lastSnapshotID int64
	for it := range iterations {
		var (
			recorded  totals
			recMu     sync.Mutex
			recording atomic.Bool
			stop      = make(chan struct{})
			loops     sync.WaitGroup
			snapN     atomic.Int64
			midCuts   atomic.Int64
			snapErr   error
			cuts      = newCounter()
		)
		recording.Store(true)
		for _, r := range reps {
			loops.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					// Errors are the lost answers; the next flush settles them.
					_ = r.flusher.Flush(ctx)
				}
			})
		}
		loops.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				periodEnd = periodEnd.Add(time.Hour)
				snap, taken, err := snapper.Take(ctx, periodEnd)
				if err == nil && !taken {
					err = errors.New("one snapshotter: every period is its own, yet a claim was lost")
				}
				if err != nil {
					snapErr = err
					cuts.fail()
					return
				}
				snapN.Add(1)
				if recording.Load() && snap.RequestsAllowed > 0 {
					midCuts.Add(1)
				}
				cuts.inc()
			}
		})

		var work sync.WaitGroup
		for ri, r := range reps {
			for w := range workers {
				work.Go(func() {
					var mine totals
					for i := range perWorker {
						if c := i / (perWorker / chunks); i%(perWorker/chunks) == 0 && c > 0 {
							cuts.wait(c)
						}
						if i%9 == 0 {
							r.counters.Denied()
							mine.denied++
							continue
						}
						tok := usage.Tokens{Input: int64(i%97 + ri), Output: int64(i % 31), CacheRead: int64(i % 7 * w),
							CacheWrite: int64(i % 3), Reasoning: int64(i % 5)}
						r.counters.Allowed(users[(i+w)%len(users)], providers[(i+ri)%len(providers)], tok)
						mine.add(totals{allowed: 1, tokens: tok})
					}
					recMu.Lock()
					recorded.add(mine)
					recMu.Unlock()
				})
			}
		}
		work.Wait()
		recording.Store(false)
		close(stop)
		loops.Wait()
		require.NoError(t, snapErr)

		// What is left: every replica flushes until a flush succeeds (a
		// lost answer is settled by the next), then one last summary.
		for _, r := range reps {
			var err error
			for range 100 {
				if err = r.flusher.Flush(ctx); err == nil {
					break
				}
			}
			require.NoError(t, err, "a flush that keeps failing")
		}
		final, err := usage.GetAndResetSummary(ctx, snapDB)
		require.NoError(t, err)

		got := summaryTotals(final)
		all, err := usage.Snapshots(ctx, snapDB)
		require.NoError(t, err)
		for _, s := range all {
			if s.ID > lastSnapshotID {
				got.add(summaryTotals(s.Summary))
				lastSnapshotID = s.ID
			}
		}
		require.Equal(t, recorded, got, "iteration %d: the snapshots plus the final state are what was recorded", it)
		require.EqualValues(t, replicas*workers*perWorker, recorded.allowed+recorded.denied)
		snapshots += int(snapN.Load())
		midRecordingCuts += int(midCuts.Load())
	}
	elapsed := time.Since(began)
	t.Logf("%d iterations of %d requests on %d replicas in %s: %d snapshots, %d of them cut in while requests were counted and flushed; %d flush answers lost and settled",
		iterations, replicas*workers*perWorker, replicas, elapsed.Round(time.Millisecond), snapshots, midRecordingCuts, lostAnswers.Load())
	require.Positive(t, midRecordingCuts, "the snapshots must have cut into flushing replicas for the test to mean anything")
	require.Positive(t, lostAnswers.Load())
}

// counter counts snapshots; workers wait on it without polling.
type counter struct {
	mu     sync.Mutex
	n      int
	failed bool
	ch     chan struct{} // closed and replaced at each change
}

func newCounter() *counter { return &counter{ch: make(chan struct{})} }

func (c *counter) inc() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	close(c.ch)
	c.ch = make(chan struct{})
}

// fail releases every waiter for good: the snapshot loop has stopped.
func (c *counter) fail() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed = true
	close(c.ch)
	c.ch = make(chan struct{})
}

// wait returns once n snapshots were counted (or the loop failed).
func (c *counter) wait(n int) {
	for {
		c.mu.Lock()
		if c.n >= n || c.failed {
			c.mu.Unlock()
			return
		}
		ch := c.ch
		c.mu.Unlock()
		<-ch
	}
}
