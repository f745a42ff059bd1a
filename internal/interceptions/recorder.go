package interceptions

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// Defaults for Config.
const (
	DefaultQueueSize       = 10_000
	DefaultQueueBytes      = 64 << 20
	DefaultBatchSize       = 500
	DefaultFlushInterval   = time.Second
	DefaultWriteTimeout    = 30 * time.Second
	DefaultMaxAttempts     = 8
	DefaultRetryBackoff    = 100 * time.Millisecond
	DefaultMaxRetryBackoff = 5 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultDropLogInterval: at most one "records dropped" warning per
	// interval from the request path, carrying the count since the last.
	DefaultDropLogInterval = 10 * time.Second
)

// The names of the Recorder's timers on its Clock.
const (
	// FlushTimer is armed, for FlushInterval, when a batch gets its first
	// record.
	FlushTimer = "interceptions.flush"
	// RetryTimer is armed for the backoff after a failed write attempt.
	RetryTimer = "interceptions.retry"
	// ShutdownTimer is armed, for ShutdownTimeout, when Run's context ends.
	ShutdownTimer = "interceptions.shutdown"
)

// Config tunes a Recorder. Zero fields take the defaults above.
type Config struct {
	// QueueSize is how many records may wait to be written, the batch being
	// written included; beyond it Record drops. The queue is allocated up
	// front: about 350 bytes a record (3.5 MB at the default), plus what the
	// records point to (prompts).
	QueueSize int
	// QueueBytes is how many prompt bytes may wait to be written, the batch
	// being written included. A record whose prompt would go beyond it is
	// queued without its prompt (counted in
	// aigate_interceptions_prompts_dropped_total): its usage is kept, and a
	// slow database cannot make prompts pile up to gigabytes.
	QueueBytes int64
	// BatchSize is the most rows per COPY.
	BatchSize int
	// FlushInterval is how long a partial batch waits for more records.
	FlushInterval time.Duration
	// WriteTimeout bounds one COPY attempt, waits for a connection or a lock
	// included.
	WriteTimeout time.Duration
	// MaxAttempts is how many times a batch is tried when the failure is one
	// a retry may fix (connection lost, timeout); then it is dropped.
	MaxAttempts int
	// RetryBackoff is the wait after the first failed attempt; it doubles up
	// to MaxRetryBackoff. With the defaults a batch is retried for about 11s.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// ShutdownTimeout bounds the final flush once Run's context is done.
	ShutdownTimeout time.Duration
	DropLogInterval time.Duration
	Logger          *slog.Logger
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Settle applies the records' charges (Record.Charges) in the
	// transaction that writes them: both commit or neither does. nil when
	// no policies are enforced; records with charges are then written
	// without settling them.
	Settle func(ctx context.Context, tx pgx.Tx, charges []Charge) error
	// Clock times the flush, the retries, the shutdown bound, the drop
	// warnings and the write durations; nil is the real clock. Its timers
	// are FlushTimer, RetryTimer and ShutdownTimer. (WriteTimeout is a
	// context deadline, on the real clock.)
	Clock clock.Clock
}

func (c *Config) setDefaults() {
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&c.QueueSize, DefaultQueueSize)
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	set(&c.BatchSize, DefaultBatchSize)
	set(&c.MaxAttempts, DefaultMaxAttempts)
	setD(&c.FlushInterval, DefaultFlushInterval)
	setD(&c.WriteTimeout, DefaultWriteTimeout)
	setD(&c.RetryBackoff, DefaultRetryBackoff)
	setD(&c.MaxRetryBackoff, DefaultMaxRetryBackoff)
	setD(&c.ShutdownTimeout, DefaultShutdownTimeout)
	setD(&c.DropLogInterval, DefaultDropLogInterval)
	c.MaxRetryBackoff = max(c.MaxRetryBackoff, c.RetryBackoff)
	c.Clock = clock.Or(c.Clock)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// dropReason is why a record was dropped: the reason label of
// aigate_interceptions_dropped_total.
type dropReason int

const (
	reasonQueueFull       dropReason = iota // Record found the queue full
	reasonStopped                           // Record after Run's context was done
	reasonRejected                          // the database refused this record
	reasonWriteFailed                       // every attempt failed
	reasonShutdownTimeout                   // still queued when ShutdownTimeout ran out
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{"queue_full", "stopped", "rejected", "write_failed", "shutdown_timeout"}

func (d dropReason) String() string { return dropReasonNames[d] }

// Recorder queues records and writes them in batches. Record may be called
// from any goroutine; Run once.
type Recorder struct {
	db  *database.DB
	cfg Config
	log *slog.Logger

	// mu orders Record's send against the shutdown closing the queue:
	// Record holds it shared while it sends, the shutdown exclusively while
	// it sets closed. Nobody waits on the database holding it.
	mu     sync.RWMutex
	closed bool // guarded by mu
	queue  chan Record
	// pending counts records queued or in the batch being written; Record
	// admits a record only while it stays within QueueSize, which also
	// means the send on queue (capacity QueueSize) never waits.
	pending atomic.Int64
	// pendingBytes is the prompt bytes of the pending records; Record keeps
	// it within QueueBytes by leaving prompts out.
	pendingBytes atomic.Int64
	started      atomic.Bool

	dropped        atomic.Int64
	dropLog        rateLog
	promptsDropped atomic.Int64
	promptLog      rateLog

	rows []dbsqlc.InterceptionInsertBatchParams // the writer's buffer
	m    metrics
}

// NewRecorder returns a Recorder writing to db. Records queue until Run runs.
// It registers its metrics with cfg.Registerer and panics, as MustRegister
// does, if they are registered already.
func NewRecorder(db *database.DB, cfg Config) *Recorder {
	cfg.setDefaults()
	r := &Recorder{
		db:    db,
		cfg:   cfg,
		log:   cfg.Logger,
		queue: make(chan Record, cfg.QueueSize),
		rows:  make([]dbsqlc.InterceptionInsertBatchParams, 0, cfg.BatchSize),
	}
	r.m = newMetrics(func() float64 { return float64(r.pending.Load()) },
		func() float64 { return float64(r.pendingBytes.Load()) })
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(r.m.collectors()...)
	}
	return r
}

// Record queues rec and returns at once; it never waits on the database.
// When the queue is full, or Run has stopped, the record is dropped and
// counted (metric and a rate-limited warning) and Record returns false. When
// its prompt does not fit in what is left of QueueBytes, the record is queued
// without it, and the prompt is counted as dropped.
func (r *Recorder) Record(rec Record) bool {
	if rec.ID == uuid.Nil {
		rec.ID = NewID(rec.StartedAt)
	}
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		r.dropRequest(reasonStopped)
		return false
	}
	if r.pending.Add(1) > int64(r.cfg.QueueSize) {
		r.pending.Add(-1)
		r.mu.RUnlock()
		r.dropRequest(reasonQueueFull)
		return false
	}
	n := int64(len(rec.Prompt))
	if n > 0 && r.pendingBytes.Add(n) > r.cfg.QueueBytes {
		r.pendingBytes.Add(-n)
		rec.Prompt, n = nil, 0
		r.dropPrompt()
	}
	select {
	case r.queue <- rec:
		r.mu.RUnlock()
		return true
	default:
		// Cannot happen while pending bounds the queue; never wait.
		r.pending.Add(-1)
		r.pendingBytes.Add(-n)
		r.mu.RUnlock()
		r.dropRequest(reasonQueueFull)
		return false
	}
}

// Dropped is how many records were dropped since NewRecorder, for every reason.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// PromptsDropped is how many records were queued without their prompt, for
// want of room in QueueBytes, since NewRecorder.
func (r *Recorder) PromptsDropped() int64 { return r.promptsDropped.Load() }

// dropRequest counts one record dropped on the request path and warns at most
// once per DropLogInterval, with the count since the last warning.
func (r *Recorder) dropRequest(reason dropReason) {
	total := r.dropped.Add(1)
	r.m.dropped[reason].Inc()
	if since, ok := r.dropLog.due(r.cfg.Clock.Now(), r.cfg.DropLogInterval, total); ok {
		r.log.Warn("interception records dropped", "reason", reason.String(), "dropped", since, "dropped_total", total,
			"queue_size", r.cfg.QueueSize)
	}
}

// dropPrompt counts a prompt left out of its record, warning as dropRequest
// does.
func (r *Recorder) dropPrompt() {
	total := r.promptsDropped.Add(1)
	r.m.promptsDropped.Inc()
	if since, ok := r.promptLog.due(r.cfg.Clock.Now(), r.cfg.DropLogInterval, total); ok {
		r.log.Warn("interception prompts dropped: the queued prompts fill the recorder's byte budget; the records and their usage are kept",
			"dropped", since, "dropped_total", total, "queue_bytes", r.cfg.QueueBytes)
	}
}

// rateLog lets a warning through at most once per interval, with the count
// since the last one it let through.
type rateLog struct {
	next   atomic.Int64 // unix nanoseconds before which nothing is logged
	logged atomic.Int64 // the total at the last log
}

func (l *rateLog) due(now time.Time, interval time.Duration, total int64) (since int64, ok bool) {
	t := now.UnixNano()
	next := l.next.Load()
	if t < next || !l.next.CompareAndSwap(next, t+int64(interval)) {
		return 0, false
	}
	return total - l.logged.Swap(total), true
}

// release takes batch, written or dropped, out of the pending records and
// bytes.
func (r *Recorder) release(batch []Record) {
	var n int64
	for i := range batch {
		n += int64(len(batch[i].Prompt))
	}
	r.pendingBytes.Add(-n)
	r.pending.Add(-int64(len(batch)))
}

// dropBatch counts records the writer gives up on. The caller logs why.
func (r *Recorder) dropBatch(n int, reason dropReason) {
	r.dropped.Add(int64(n))
	r.m.dropped[reason].Add(float64(n))
}

// errShutdownTimeout ends the final flush.
var errShutdownTimeout = errors.New("interception recorder shutdown timeout")

// Run writes queued records in batches until ctx is done. Then it stops
// accepting records and writes what is still queued, for at most
// ShutdownTimeout (a write in progress when ctx ends goes on within that
// bound too), drops and counts the rest, and returns. Run runs once; a second
// call returns at once.
func (r *Recorder) Run(ctx context.Context) {
	if !r.started.CompareAndSwap(false, true) {
		r.log.Error("interception recorder Run called twice")
		return
	}
	wctx, stop := afterDone(ctx, r.cfg.Clock, r.cfg.ShutdownTimeout)
	defer stop()

	batch := make([]Record, 0, r.cfg.BatchSize)
	for ctx.Err() == nil {
		batch = r.collect(ctx, batch[:0])
		if len(batch) > 0 {
			r.write(wctx, batch)
		}
		// The array is reused: keep no prompt of a written batch alive.
		clear(batch)
	}

	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	// No Record can send now: each sends holding mu shared, and sees closed.
	close(r.queue)
	batch = batch[:0]
	flush := func() {
		if wctx.Err() != nil {
			r.dropBatch(len(batch), reasonShutdownTimeout)
			r.release(batch)
		} else {
			r.write(wctx, batch)
		}
		clear(batch)
		batch = batch[:0]
	}
	for rec := range r.queue {
		batch = append(batch, rec)
		if len(batch) == r.cfg.BatchSize {
			flush()
		}
	}
	flush()
	if wctx.Err() != nil {
		r.log.Error("interception recorder: shutdown timeout; queued records dropped",
			"shutdown_timeout", r.cfg.ShutdownTimeout, "dropped_total", r.Dropped())
	}
	r.log.Info("interception recorder stopped", "dropped_total", r.Dropped())
}

// collect fills batch with the next records: it waits for one, then takes
// more until the batch is full, FlushInterval has passed or ctx is done.
func (r *Recorder) collect(ctx context.Context, batch []Record) []Record {
	select {
	case <-ctx.Done():
		return batch
	case rec := <-r.queue:
		batch = append(batch, rec)
	}
	timer := r.cfg.Clock.NewTimer(FlushTimer, r.cfg.FlushInterval)
	defer timer.Stop()
	for len(batch) < r.cfg.BatchSize {
		select {
		case rec := <-r.queue:
			batch = append(batch, rec)
		case <-timer.C:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// afterDone returns a context that outlives parent by grace on c: it is
// cancelled (cause errShutdownTimeout) grace after parent is done, or by stop.
func afterDone(parent context.Context, c clock.Clock, grace time.Duration) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	var (
		mu      sync.Mutex
		timer   *clock.Timer // guarded by mu
		stopped bool         // guarded by mu
	)
	stopAfter := context.AfterFunc(parent, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			timer = c.AfterFunc(ShutdownTimer, grace, func() { cancel(errShutdownTimeout) })
		}
	})
	return ctx, func() {
		stopAfter()
		mu.Lock()
		stopped = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel(context.Canceled)
	}
}
