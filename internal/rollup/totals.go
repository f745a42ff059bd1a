package rollup

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// GroupBy is what Totals sums per.
type GroupBy string

// The groupings. GroupNone sums the whole window into one row.
const (
	GroupNone     GroupBy = ""
	GroupUser     GroupBy = "user"
	GroupProvider GroupBy = "provider"
	GroupModel    GroupBy = "model"
	GroupClient   GroupBy = "client"
	GroupDay      GroupBy = "day"
	GroupHour     GroupBy = "hour"
)

// GroupBys lists the groupings a caller may ask for by name.
var GroupBys = []GroupBy{GroupUser, GroupProvider, GroupModel, GroupClient, GroupDay, GroupHour}

// Valid reports whether g is one of the groupings.
func (g GroupBy) Valid() bool {
	switch g {
	case GroupNone, GroupUser, GroupProvider, GroupModel, GroupClient, GroupDay, GroupHour:
		return true
	}
	return false
}

// Query selects buckets for Totals.
type Query struct {
	// A bucket counts when its hour starts in [From, To): with From at
	// 12:30 the 12:00 bucket is left out, with To at 12:30 it is in (so
	// [midnight, now) is today so far). Align From to the hour, or use
	// Today, for windows that mean what they say.
	From, To time.Time
	// UserID, when set, keeps only that user's buckets.
	UserID *uuid.UUID
	// GroupBy sums per user, provider, model, client, UTC day or hour;
	// GroupNone sums the window into one row.
	GroupBy GroupBy
}

// Row is one group's totals.
type Row struct {
	// The group's key; only the fields of Query.GroupBy are set. Start is
	// the hour, or the UTC day's midnight, that the row sums (GroupHour,
	// GroupDay). A provider is its id, name and type: a renamed provider's
	// hours before and after the rename are two rows, and so are two
	// providers that had one name in turn.
	Start        time.Time
	UserID       uuid.UUID
	ProviderID   uuid.UUID
	ProviderName string
	ProviderType string
	Model        string
	Client       string

	// Requests counts every request, denied ones included.
	Requests int64
	// Errors counts requests that were admitted and did not end ok
	// (upstream and gateway errors, and requests the client cancelled);
	// Denied counts the requests a policy refused (status denied), which
	// are not errors: an error rate is Errors / (Requests - Denied), of the
	// requests admitted, as the dashboard shows it.
	Errors, Denied                                                                int64
	InputTokens, OutputTokens, CacheReadTokens, CacheWriteTokens, ReasoningTokens int64
	// CostMicros is the cost of the priced requests, in micro-dollars;
	// UnpricedRequests counts the requests with tokens whose model had no
	// price, whose cost CostMicros lacks.
	CostMicros, UnpricedRequests int64

	// Latency and TTFB, in milliseconds: the requests-weighted mean of the
	// hourly buckets' nearest-rank p50 and p95. For a row made of one bucket
	// they are that bucket's percentiles exactly; over several buckets they
	// are an estimate (percentiles do not add), close when the buckets'
	// distributions are alike. The TTFB fields are nil when no request of the
	// row got a byte back from its provider.
	LatencyP50Ms, LatencyP95Ms float64
	TTFBP50Ms, TTFBP95Ms       *float64
}

// Today returns the UTC day that contains now, as [from, to) for a Query.
// Its last bucket is the running hour, which every tick rolls up again.
func Today(now time.Time) (from, to time.Time) {
	y, m, d := now.UTC().Date()
	from = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return from, from.AddDate(0, 0, 1)
}

// Totals sums the hourly buckets q selects, per q.GroupBy: for day
// and hour groupings in time order, otherwise the busiest group first. A
// window with no usage gives no rows. An invalid query is an
// apperr.KindInvalid error naming the field (from, to, group_by).
//
// Only rolled-up requests count: up to Watermark, and the current hour as
// of the last tick. The window's whole UTC days are read from their daily
// sums (usage_daily), which the same ticks keep equal to their hours, so
// a month costs about as much as a day.
func Totals(ctx context.Context, db *database.DB, q Query) ([]Row, error) {
	var vs []apperr.Validation
	if q.From.IsZero() {
		vs = append(vs, apperr.Validation{Field: "from", Detail: "is required"})
	}
	if q.To.IsZero() {
		vs = append(vs, apperr.Validation{Field: "to", Detail: "is required"})
	} else if !q.From.IsZero() && !q.From.Before(q.To) {
		vs = append(vs, apperr.Validation{Field: "to", Detail: "must be after from"})
	}
	if !q.GroupBy.Valid() {
		vs = append(vs, apperr.Validation{Field: "group_by", Detail: fmt.Sprintf("must be one of %v", GroupBys)})
	}
	if len(vs) > 0 {
		return nil, apperr.Invalid(vs...)
	}
	from, to := q.From.UTC(), q.To.UTC()
	params := dbsqlc.UsageTotalsParams{GroupBy: string(q.GroupBy), FromHour: from, ToHour: to, DaysFrom: to, DaysTo: to}
	if q.GroupBy != GroupHour {
		params.DaysFrom, params.DaysTo = wholeDays(from, to)
	}
	if q.UserID != nil {
		params.UserID = pgtype.UUID{Bytes: *q.UserID, Valid: true}
	}
	// Planned for its values: a member's question then reads their rows
	// through the user indexes (database.PlanPerCall).
	rows, err := dbsqlc.New(database.PlanPerCall(db.Pool)).UsageTotals(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("sum usage buckets: %w", err)
	}
	out := make([]Row, len(rows))
	for i, r := range rows {
		out[i] = Row{
			UserID: r.UserID, ProviderID: r.ProviderID, ProviderName: r.ProviderName, ProviderType: r.ProviderType,
			Model: r.Model, Client: r.Client,
			Requests: r.Requests, Errors: r.Errors, Denied: r.Denied, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
			CacheReadTokens: r.CacheReadTokens, CacheWriteTokens: r.CacheWriteTokens, ReasoningTokens: r.ReasoningTokens,
			CostMicros: r.CostMicros, UnpricedRequests: r.UnpricedRequests,
			LatencyP50Ms: float64(r.LatencyP50Weighted) / float64(r.Requests),
			LatencyP95Ms: float64(r.LatencyP95Weighted) / float64(r.Requests),
		}
		if q.GroupBy == GroupHour || q.GroupBy == GroupDay {
			out[i].Start = r.BucketStart.UTC()
		}
		if r.TtfbRequests > 0 {
			p50 := float64(r.TtfbP50Weighted) / float64(r.TtfbRequests)
			p95 := float64(r.TtfbP95Weighted) / float64(r.TtfbRequests)
			out[i].TTFBP50Ms, out[i].TTFBP95Ms = &p50, &p95
		}
	}
	return out, nil
}

// wholeDays returns [daysFrom, daysTo): the UTC days every hour of which
// starts in [from, to), which Totals reads from usage_daily. A day is whole
// when it starts at from or after and its last hour starts before to. With
// no whole day both are to, and the hours are all read from usage_hourly.
func wholeDays(from, to time.Time) (daysFrom, daysTo time.Time) {
	daysFrom = utcDay(from)
	if daysFrom.Before(from) {
		daysFrom = daysFrom.AddDate(0, 0, 1)
	}
	// The last whole day is the last that starts before to - 23h.
	lastHour := to.Add(-23 * time.Hour)
	last := utcDay(lastHour)
	if !last.Before(lastHour) {
		last = last.AddDate(0, 0, -1)
	}
	daysTo = last.AddDate(0, 0, 1)
	if !daysFrom.Before(daysTo) {
		return to, to
	}
	return daysFrom, daysTo
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Watermark returns the watermark of the last rollup, the database's time
// when it began: the requests recorded before it are in the buckets, but for
// records whose write was still in flight then, which the next tick adds.
// Nil before the first rollup.
func Watermark(ctx context.Context, db *database.DB) (*time.Time, error) {
	st, err := dbsqlc.New(db.Pool).UsageRollupStateGet(ctx)
	if err != nil {
		return nil, fmt.Errorf("read rollup watermark: %w", err)
	}
	if st.Watermark == nil {
		return nil, nil
	}
	w := st.Watermark.UTC()
	return &w, nil
}

// UnpricedModel is a model with unpriced requests in a window.
type UnpricedModel struct {
	ProviderType, Model string
	Requests            int64
}

// UnpricedModels lists the models with unpriced requests (tokens and no
// price) among the buckets whose hour starts in [from, to), of one user
// (userID) or of all, the most such requests first, at most 100: the
// usage API's warning that its costs leave those out.
func UnpricedModels(ctx context.Context, db *database.DB, from, to time.Time, userID *uuid.UUID) ([]UnpricedModel, error) {
	params := dbsqlc.UsageUnpricedModelsParams{FromHour: from.UTC(), ToHour: to.UTC()}
	if userID != nil {
		params.UserID = pgtype.UUID{Bytes: *userID, Valid: true}
	}
	rows, err := dbsqlc.New(db.Pool).UsageUnpricedModels(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list unpriced models: %w", err)
	}
	out := make([]UnpricedModel, len(rows))
	for i, r := range rows {
		out[i] = UnpricedModel{ProviderType: r.ProviderType, Model: r.Model, Requests: r.UnpricedRequests}
	}
	return out, nil
}
