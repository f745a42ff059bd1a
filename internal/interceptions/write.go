package interceptions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// write writes batch; when it returns every record in it is written or
// dropped and counted, and neither it nor its prompt bytes are pending.
func (r *Recorder) write(ctx context.Context, batch []Record) {
	defer r.release(batch)
	r.writeRetrying(ctx, batch)
}

// writeRetrying writes batch, retrying the failures a retry may fix and
// splitting the batch when the database refuses a row.
func (r *Recorder) writeRetrying(ctx context.Context, batch []Record) {
	backoff := r.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		err := r.copy(ctx, batch)
		if err == nil {
			return
		}
		r.m.writeErrors.Inc()
		if ctx.Err() != nil {
			r.dropBatch(len(batch), reasonShutdownTimeout)
			r.log.Error("interception records dropped: shutdown timeout while writing",
				"records", len(batch), "error", safeError(err))
			return
		}
		if refused(err) {
			r.split(ctx, batch, err)
			return
		}
		if attempt >= r.cfg.MaxAttempts {
			r.dropBatch(len(batch), reasonWriteFailed)
			r.log.Error("interception records dropped: write failed", "records", len(batch),
				"attempts", attempt, "error", safeError(err))
			return
		}
		r.log.Warn("interception write failed; retrying", "records", len(batch), "attempt", attempt,
			"retry_in", backoff, "error", safeError(err))
		t := r.cfg.Clock.NewTimer(RetryTimer, backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			r.dropBatch(len(batch), reasonShutdownTimeout)
			r.log.Error("interception records dropped: shutdown timeout while retrying",
				"records", len(batch), "error", safeError(err))
			return
		case <-t.C:
		}
		backoff = min(2*backoff, r.cfg.MaxRetryBackoff)
	}
}

// split handles a batch the database refused (err). One COPY is all or
// nothing, so the batch is halved until each refused record is alone; the
// others are written. A refused record is tried once more without its prompt
// (jsonb refuses some JSON, such as \u0000, and the usage must not be lost to
// it), then dropped and counted.
//
// A duplicate id is not a refusal: the id is made once per request, so the
// row is already there, written by an earlier attempt whose commit landed but
// whose answer was lost. It counts as written and is not written again.
func (r *Recorder) split(ctx context.Context, batch []Record, err error) {
	if isDuplicateID(err) {
		if len(batch) == 1 {
			r.m.written.Inc()
			r.log.Debug("interception already written", "id", batch[0].ID)
			return
		}
		// One query rather than halving a whole batch that was written.
		if rest, ok := r.withoutWritten(ctx, batch); ok && len(rest) < len(batch) {
			if len(rest) > 0 {
				r.writeRetrying(ctx, rest)
			}
			return
		}
	}
	if len(batch) > 1 {
		half := len(batch) / 2
		r.writeRetrying(ctx, batch[:half])
		r.writeRetrying(ctx, batch[half:])
		return
	}
	rec := batch[0]
	if rec.Prompt != nil {
		// Refused again, it is dropped below, now without a prompt.
		r.log.Warn("interception record refused by the database; trying it without its prompt",
			"id", rec.ID, "request_id", rec.RequestID, "error", safeError(err))
		rec.Prompt = nil
		r.writeRetrying(ctx, []Record{rec})
		return
	}
	r.settleAlone(ctx, rec)
	r.dropBatch(1, reasonRejected)
	r.log.Error("interception record dropped: the database refused it", "id", rec.ID,
		"request_id", rec.RequestID, "error", safeError(err))
}

// settleAlone settles the charges of a record the database refused: what
// the request used of its policies is not lost with its record.
func (r *Recorder) settleAlone(ctx context.Context, rec Record) {
	if len(rec.Charges) == 0 || r.cfg.Settle == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.WriteTimeout)
	defer cancel()
	tx, err := r.db.Pool.Begin(ctx)
	if err == nil {
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		if err = r.cfg.Settle(ctx, tx, rec.Charges); err == nil {
			err = tx.Commit(ctx)
		}
	}
	if err != nil {
		r.log.Error("could not settle the policy charges of a dropped interception record", "id", rec.ID, "error", safeError(err))
	}
}

// withoutWritten returns the records of batch whose id is not in the table;
// false when the lookup failed.
func (r *Recorder) withoutWritten(ctx context.Context, batch []Record) ([]Record, bool) {
	p := dbsqlc.InterceptionListExistingIDsParams{
		Ids: make([]uuid.UUID, len(batch)), MinStartedAt: batch[0].StartedAt, MaxStartedAt: batch[0].StartedAt,
	}
	for i := range batch {
		p.Ids[i] = batch[i].ID
		p.MinStartedAt = minTime(p.MinStartedAt, batch[i].StartedAt)
		p.MaxStartedAt = maxTime(p.MaxStartedAt, batch[i].StartedAt)
	}
	qctx, cancel := context.WithTimeout(ctx, r.cfg.WriteTimeout)
	defer cancel()
	found, err := dbsqlc.New(r.db.Pool).InterceptionListExistingIDs(qctx, p)
	if err != nil {
		r.log.Warn("look up written interceptions", "error", safeError(err))
		return nil, false
	}
	written := make(map[uuid.UUID]bool, len(found))
	for _, id := range found {
		written[id] = true
	}
	rest := make([]Record, 0, len(batch))
	for _, rec := range batch {
		if !written[rec.ID] {
			rest = append(rest, rec)
		}
	}
	if n := len(batch) - len(rest); n > 0 {
		r.m.written.Add(float64(n))
		r.log.Info("interceptions already written by an earlier attempt", "records", n)
	}
	return rest, true
}

// copy writes batch with one COPY, all rows or none.
func (r *Recorder) copy(ctx context.Context, batch []Record) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.WriteTimeout)
	defer cancel()
	rows := r.rows[:0]
	var charges []Charge
	for i := range batch {
		charges = append(charges, batch[i].Charges...)
		p, err := toParams(&batch[i])
		if err != nil {
			return &encodeError{fmt.Errorf("interception %s: %w", batch[i].ID, err)}
		}
		rows = append(rows, p)
	}
	r.rows = rows[:0]
	defer clear(rows) // keep no prompts alive between batches

	start := r.cfg.Clock.Now()
	err := r.copyRows(ctx, rows, charges)
	r.m.batchDuration.Observe(r.cfg.Clock.Now().Sub(start).Seconds())
	if err != nil {
		return err
	}
	r.m.written.Add(float64(len(rows)))
	return nil
}

// copyRows writes rows, and settles charges in the same transaction when
// there are any: a COPY alone is all or nothing already.
func (r *Recorder) copyRows(ctx context.Context, rows []dbsqlc.InterceptionInsertBatchParams, charges []Charge) error {
	conn, err := r.db.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if err := registerTypes(ctx, conn.Conn()); err != nil {
		return err
	}
	if len(charges) == 0 || r.cfg.Settle == nil {
		return copyInto(ctx, dbsqlc.New(conn), rows)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := copyInto(ctx, dbsqlc.New(tx), rows); err != nil {
		return err
	}
	if err := r.cfg.Settle(ctx, tx, charges); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit %d interceptions: %w", len(rows), err)
	}
	return nil
}

func copyInto(ctx context.Context, q *dbsqlc.Queries, rows []dbsqlc.InterceptionInsertBatchParams) error {
	n, err := q.InterceptionInsertBatch(ctx, rows)
	if err != nil {
		return fmt.Errorf("copy %d interceptions: %w", len(rows), err)
	}
	if n != int64(len(rows)) {
		return fmt.Errorf("copy %d interceptions: %d written", len(rows), n)
	}
	return nil
}

// registerTypes prepares a pool connection for COPY, which sends every value
// in binary. Once per connection; both stay with it and change nothing for its
// other users but speed.
//
//   - ai_provider_type: pgx encodes in binary only types it knows, and the
//     enum is made by a migration, so its OID differs per database.
//   - uuid: pgx sends a uuid.UUID through its driver.Valuer, a string, which
//     the binary encoder refuses before it parses the text; building that
//     error (four uuids a row) was half the writer's CPU.
func registerTypes(ctx context.Context, conn *pgx.Conn) error {
	const enum = "ai_provider_type"
	m := conn.TypeMap()
	if _, ok := m.TypeForName(enum); !ok {
		t, err := conn.LoadType(ctx, enum)
		if err != nil {
			return fmt.Errorf("load type %s: %w", enum, err)
		}
		m.RegisterType(t)
	}
	if t, ok := m.TypeForOID(pgtype.UUIDOID); ok {
		if _, done := t.Codec.(uuidCodec); !done {
			m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: uuidCodec{t.Codec}})
		}
	}
	return nil
}

// uuidCodec is pgx's uuid codec that encodes a uuid.UUID in binary as the
// 16 bytes it is.
type uuidCodec struct{ pgtype.Codec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return encodeUUIDBinary{}
	}
	return c.Codec.PlanEncode(m, oid, format, value)
}

type encodeUUIDBinary struct{}

func (encodeUUIDBinary) Encode(value any, buf []byte) ([]byte, error) {
	u := value.(uuid.UUID)
	return append(buf, u[:]...), nil
}

// refused reports whether the database refused the data itself (SQLSTATE
// class 22, data exception, or 23, integrity constraint violation), or a
// record could not be encoded: sending the same rows again gives the same
// answer.
func refused(err error) bool {
	if _, ok := errors.AsType[*encodeError](err); ok {
		return true
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || len(pgErr.Code) < 2 {
		return false
	}
	class := pgErr.Code[:2]
	return class == "22" || class == "23"
}

// encodeError is a record that could not be made into a row.
type encodeError struct{ err error }

func (e *encodeError) Error() string { return e.err.Error() }
func (e *encodeError) Unwrap() error { return e.err }

// isDuplicateID reports a primary key violation. The table is partitioned,
// so the constraint named is the partition's own primary key
// (interceptions_p20260101_pkey, interceptions_default_pkey), and the key is
// (id, started_at), which a retried record repeats.
func isDuplicateID(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" &&
		strings.HasPrefix(pgErr.ConstraintName, "interceptions_") && strings.HasSuffix(pgErr.ConstraintName, "_pkey")
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// safeError is err for the log without the row it may quote: PostgreSQL puts
// a refused row's values (a prompt among them) in the error's detail and
// context, so of a server error only the message, SQLSTATE and the
// constraint or column it names are kept.
func safeError(err error) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err.Error()
	}
	s := fmt.Sprintf("%s (SQLSTATE %s", pgErr.Message, pgErr.Code)
	if pgErr.ConstraintName != "" {
		s += ", constraint " + pgErr.ConstraintName
	}
	if pgErr.ColumnName != "" {
		s += ", column " + pgErr.ColumnName
	}
	return s + ")"
}
