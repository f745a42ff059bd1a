package usage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// ReportSchemaVersion is Report.SchemaVersion: raised when a field changes
// meaning or goes away, not when one is added.
const ReportSchemaVersion = 1

// Report is the JSON body POSTed to the telemetry URL, one per snapshot.
// It holds counts only: no user, token, provider name, model or prompt.
// A receiver deduplicates on (deployment_id, period_end): a report whose
// answer was lost is sent again.
type Report struct {
	SchemaVersion int `json:"schema_version"`
	// DeploymentID is the deployment's generated ID; absent when unknown.
	DeploymentID string    `json:"deployment_id,omitempty"`
	SnapshotID   int64     `json:"snapshot_id"`
	PeriodStart  time.Time `json:"period_start"`
	PeriodEnd    time.Time `json:"period_end"`
	// CountedSince is the earliest count summed in (earlier than
	// period_start when counts arrived late); absent when nothing was.
	CountedSince *time.Time `json:"counted_since,omitempty"`
	TakenAt      time.Time  `json:"taken_at"`
	// Replicas is how many replicas had counts in the snapshot.
	Replicas int            `json:"replicas"`
	Requests ReportRequests `json:"requests"`
	Tokens   ReportTokens   `json:"tokens"`
	// DistinctUsers and DistinctProviders sum the replicas' distinct
	// counts (an upper bound with several replicas).
	DistinctUsers     int64 `json:"distinct_users"`
	DistinctProviders int64 `json:"distinct_providers"`
}

// ReportRequests counts requests in a Report.
type ReportRequests struct {
	Allowed int64 `json:"allowed"`
	Denied  int64 `json:"denied"`
}

// ReportTokens counts tokens in a Report.
type ReportTokens struct {
	Input      int64 `json:"input"`
	Output     int64 `json:"output"`
	CacheRead  int64 `json:"cache_read"`
	CacheWrite int64 `json:"cache_write"`
	Reasoning  int64 `json:"reasoning"`
}

func (s *Snapshotter) report(snap Snapshot) Report {
	r := Report{
		SchemaVersion: ReportSchemaVersion, SnapshotID: snap.ID,
		PeriodStart: snap.PeriodStart, PeriodEnd: snap.PeriodEnd, CountedSince: snap.CountedSince, TakenAt: snap.TakenAt,
		Replicas: snap.Replicas,
		Requests: ReportRequests{Allowed: snap.RequestsAllowed, Denied: snap.RequestsDenied},
		Tokens: ReportTokens{Input: snap.Tokens.Input, Output: snap.Tokens.Output, CacheRead: snap.Tokens.CacheRead,
			CacheWrite: snap.Tokens.CacheWrite, Reasoning: snap.Tokens.Reasoning},
		DistinctUsers: snap.DistinctUsers, DistinctProviders: snap.DistinctProviders,
	}
	if s.cfg.DeploymentID != uuid.Nil {
		r.DeploymentID = s.cfg.DeploymentID.String()
	}
	return r
}

// sendLoop sends this replica's unsent snapshots each time Take stores one.
func (s *Snapshotter) sendLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			s.sendPending(ctx)
		}
	}
}

// sendPending sends, oldest first, every snapshot this replica took that the
// endpoint has not accepted and that has attempts left. The list comes from
// the database, so a snapshot whose wake-up was merged with another's, or
// whose sending an earlier failure cut short, is not forgotten.
func (s *Snapshotter) sendPending(ctx context.Context) {
	rows, err := dbsqlc.New(s.cfg.DB.Pool).UsageSnapshotListUnsent(ctx, dbsqlc.UsageSnapshotListUnsentParams{
		TakenBy: s.cfg.ReplicaID, MaxAttempts: int32(s.cfg.TelemetryMaxAttempts),
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("could not list usage snapshots to send; trying again after the next snapshot", "error", err)
		}
		return
	}
	for _, row := range rows {
		if !s.send(ctx, snapshotFromRow(row)) {
			return
		}
		if s.sendDone != nil {
			s.sendDone(row.ID)
		}
	}
}

// send posts one snapshot until the endpoint accepts it or its attempts run
// out, recording each outcome on its row. It returns false when ctx ended.
func (s *Snapshotter) send(ctx context.Context, snap Snapshot) bool {
	q := dbsqlc.New(s.cfg.DB.Pool)
	backoff := s.cfg.TelemetryBackoff
	for attempt := snap.TelemetryAttempts + 1; ; attempt++ {
		err := s.post(ctx, s.report(snap))
		if ctx.Err() != nil {
			// Cut short by shutdown, not refused: not counted as an attempt.
			return false
		}
		if err == nil {
			if err := q.UsageSnapshotTelemetrySent(ctx, dbsqlc.UsageSnapshotTelemetrySentParams{ID: snap.ID, Now: s.clock.Now().UTC()}); err != nil {
				s.log.Warn("usage snapshot sent, but recording that failed; it may be sent again", "snapshot_id", snap.ID, "error", err)
			} else {
				s.log.Info("usage snapshot sent to telemetry", "snapshot_id", snap.ID, "period_end", snap.PeriodEnd, "attempt", attempt)
			}
			return true
		}
		msg := err.Error()
		if err := q.UsageSnapshotTelemetryFailed(ctx, dbsqlc.UsageSnapshotTelemetryFailedParams{ID: snap.ID, LastError: msg}); err != nil {
			s.log.Warn("could not record a failed telemetry attempt", "snapshot_id", snap.ID, "error", err)
		}
		if attempt >= s.cfg.TelemetryMaxAttempts {
			s.log.Warn("usage snapshot not sent to telemetry; giving up", "snapshot_id", snap.ID, "attempts", attempt, "error", msg)
			return true
		}
		s.log.Warn("usage snapshot not sent to telemetry; retrying", "snapshot_id", snap.ID, "attempt", attempt, "retry_in", backoff, "error", msg)
		if clock.Sleep(ctx, s.clock, TelemetryRetryTimer, backoff) != nil {
			return false
		}
		backoff = min(2*backoff, s.cfg.TelemetryMaxBackoff)
	}
}

// post sends one report. Its errors never hold the URL, which may carry a
// token: they are stored on the row and logged.
func (s *Snapshotter) post(ctx context.Context, r Report) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode usage report: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.TelemetryURL, bytes.NewReader(body))
	if err != nil {
		return errors.New("invalid telemetry URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "aigate")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post usage report: %w", err)
	}
	// Read a little so the connection can be reused; the body says nothing
	// aigate acts on.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("telemetry endpoint answered %s", resp.Status)
	}
	return nil
}
