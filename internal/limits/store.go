package limits

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/pubsub"
)

// store is the engine's SQL: every statement on policy_windows and
// policy_leases. Windows are locked before leases, and several windows in
// key order, in every transaction here.
type store struct {
	db      *database.DB
	replica uuid.UUID
}

// errPolicyGone: the policy was deleted while a request needed its window;
// the rules are reloaded on the same notification, so a retry goes without it.
var errPolicyGone = errors.New("the policy was deleted; try again")

type acquired struct {
	granted int64
	// tight: the window is tight (this acquire may have made it so).
	tight bool
	// unacked is how many other replicas' live leases have not handed back
	// since it became tight.
	unacked int64
}

// acquire leases up to want (at least need, or nothing) from w's window,
// opening the window first and reclaiming expired leases. When the window
// cannot give need it becomes tight, and the replicas are told to hand back
// what they hold idle.
func (s store) acquire(ctx context.Context, w *window, want, need int64, now time.Time, ttl time.Duration) (acquired, error) {
	k := w.key
	return database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (acquired, error) {
		q := dbsqlc.New(tx)
		if err := q.PolicyWindowEnsure(ctx, dbsqlc.PolicyWindowEnsureParams{
			PolicyID: k.policy, Subject: k.subject, WindowStart: w.start, WindowEnd: w.end,
		}); err != nil {
			if isForeignKey(err) {
				return acquired{}, errPolicyGone
			}
			return acquired{}, fmt.Errorf("open window: %w", err)
		}
		row, err := q.PolicyWindowLock(ctx, dbsqlc.PolicyWindowLockParams{PolicyID: k.policy, Subject: k.subject, WindowStart: w.start})
		if errors.Is(err, pgx.ErrNoRows) {
			return acquired{}, errPolicyGone
		}
		if err != nil {
			return acquired{}, fmt.Errorf("lock window: %w", err)
		}
		reclaimed, err := q.PolicyLeasesReclaimExpired(ctx, dbsqlc.PolicyLeasesReclaimExpiredParams{
			PolicyID: k.policy, Subject: k.subject, WindowStart: w.start, Now: now,
		})
		if err != nil {
			return acquired{}, fmt.Errorf("reclaim expired leases: %w", err)
		}
		if reclaimed > 0 {
			// Re-read: granted changed.
			if row, err = q.PolicyWindowLock(ctx, dbsqlc.PolicyWindowLockParams{PolicyID: k.policy, Subject: k.subject, WindowStart: w.start}); err != nil {
				return acquired{}, fmt.Errorf("lock window: %w", err)
			}
		}
		free := row.LimitValue - row.Settled - row.Granted
		res := acquired{tight: row.TightSince != nil}
		if amount := min(want, free); amount >= need && amount > 0 {
			if _, err := q.PolicyWindowGrant(ctx, dbsqlc.PolicyWindowGrantParams{
				PolicyID: k.policy, Subject: k.subject, WindowStart: w.start, ReplicaID: s.replica,
				Amount: amount, ExpiresAt: now.Add(ttl),
			}); err != nil {
				return acquired{}, fmt.Errorf("grant: %w", err)
			}
			res.granted = amount
			return res, nil
		}
		since := now
		if row.TightSince != nil {
			since = *row.TightSince
		} else {
			if err := q.PolicyWindowSetTight(ctx, dbsqlc.PolicyWindowSetTightParams{
				PolicyID: k.policy, Subject: k.subject, WindowStart: w.start, Now: &now,
			}); err != nil {
				return acquired{}, fmt.Errorf("mark window tight: %w", err)
			}
			res.tight = true
		}
		if res.unacked, err = q.PolicyLeasesUnacked(ctx, dbsqlc.PolicyLeasesUnackedParams{
			PolicyID: k.policy, Subject: k.subject, WindowStart: w.start, ReplicaID: s.replica, Now: now, TightSince: &since,
		}); err != nil {
			return acquired{}, fmt.Errorf("count leases: %w", err)
		}
		if res.unacked > 0 {
			// Asked on every shortfall, not only the first: a replica that
			// leased after it acked holds allowance again.
			if err := pubsub.Publish(ctx, tx, ReclaimChannel, k.String()); err != nil {
				return acquired{}, err
			}
		}
		return res, nil
	})
}

// handBack returns amount of this replica's lease to its window, records
// the acknowledgement, and tells the waiting replicas.
func (s store) handBack(ctx context.Context, k windowKey, amount int64, now time.Time) error {
	start := time.UnixMicro(k.start).UTC()
	_, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		q := dbsqlc.New(tx)
		if _, err := q.PolicyWindowLock(ctx, dbsqlc.PolicyWindowLockParams{PolicyID: k.policy, Subject: k.subject, WindowStart: start}); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return struct{}{}, nil
			}
			return struct{}{}, fmt.Errorf("lock window: %w", err)
		}
		if err := q.PolicyLeaseHandBack(ctx, dbsqlc.PolicyLeaseHandBackParams{
			PolicyID: k.policy, Subject: k.subject, WindowStart: start, ReplicaID: s.replica, Amount: amount, Now: &now,
		}); err != nil {
			return struct{}{}, fmt.Errorf("hand back: %w", err)
		}
		return struct{}{}, pubsub.Publish(ctx, tx, ReturnedChannel, k.String())
	})
	return err
}

// settle applies charges in tx, the transaction that writes their
// interceptions.
func (s store) settle(ctx context.Context, tx pgx.Tx, charges []interceptions.Charge) error {
	type key struct {
		policy  uuid.UUID
		subject string
		start   int64
	}
	sums := map[key]int64{}
	for _, c := range charges {
		if c.Amount != 0 {
			sums[key{c.PolicyID, c.Subject, c.WindowStart.UnixMicro()}] += c.Amount
		}
	}
	if len(sums) == 0 {
		return nil
	}
	keys := make([]key, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(slices.Compare(a.policy[:], b.policy[:]), cmp.Compare(a.subject, b.subject), cmp.Compare(a.start, b.start))
	})
	p := dbsqlc.PolicyWindowsSettleParams{ReplicaID: s.replica}
	for _, k := range keys {
		p.PolicyIds = append(p.PolicyIds, k.policy)
		p.Subjects = append(p.Subjects, k.subject)
		p.WindowStarts = append(p.WindowStarts, time.UnixMicro(k.start).UTC())
		p.Amounts = append(p.Amounts, sums[k])
	}
	q := dbsqlc.New(tx)
	if err := q.PolicyWindowsLockMany(ctx, dbsqlc.PolicyWindowsLockManyParams{
		PolicyIds: p.PolicyIds, Subjects: p.Subjects, WindowStarts: p.WindowStarts,
	}); err != nil {
		return fmt.Errorf("lock policy windows: %w", err)
	}
	if err := q.PolicyWindowsSettle(ctx, p); err != nil {
		return fmt.Errorf("settle policy windows: %w", err)
	}
	return nil
}

// renew keeps this replica's leases alive and returns the keys it still
// holds.
func (s store) renew(ctx context.Context, expires time.Time) (map[windowKey]bool, error) {
	rows, err := dbsqlc.New(s.db.Pool).PolicyLeasesRenew(ctx, dbsqlc.PolicyLeasesRenewParams{ReplicaID: s.replica, ExpiresAt: expires})
	if err != nil {
		return nil, fmt.Errorf("renew policy leases: %w", err)
	}
	held := make(map[windowKey]bool, len(rows))
	for _, r := range rows {
		held[windowKey{policy: r.PolicyID, subject: r.Subject, start: r.WindowStart.UnixMicro()}] = true
	}
	return held, nil
}

// release gives one lease back whole.
func (s store) release(ctx context.Context, k windowKey) error {
	start := time.UnixMicro(k.start).UTC()
	_, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		q := dbsqlc.New(tx)
		if _, err := q.PolicyWindowLock(ctx, dbsqlc.PolicyWindowLockParams{PolicyID: k.policy, Subject: k.subject, WindowStart: start}); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return struct{}{}, nil
			}
			return struct{}{}, fmt.Errorf("lock window: %w", err)
		}
		return struct{}{}, q.PolicyLeaseDelete(ctx, dbsqlc.PolicyLeaseDeleteParams{
			PolicyID: k.policy, Subject: k.subject, WindowStart: start, ReplicaID: s.replica,
		})
	})
	return err
}

// releaseAll gives back every lease of this replica (at shutdown).
func (s store) releaseAll(ctx context.Context) error {
	rows, err := dbsqlc.New(s.db.Pool).PolicyLeasesOfReplica(ctx, s.replica)
	if err != nil {
		return fmt.Errorf("list policy leases: %w", err)
	}
	var errs []error
	for _, r := range rows {
		if err := s.release(ctx, windowKey{policy: r.PolicyID, subject: r.Subject, start: r.WindowStart.UnixMicro()}); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("release policy leases: %w", errors.Join(errs...))
	}
	return nil
}

func (s store) deleteEnded(ctx context.Context, before time.Time) (int64, error) {
	return dbsqlc.New(s.db.Pool).PolicyWindowsDeleteEnded(ctx, before)
}
