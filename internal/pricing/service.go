package pricing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/pubsub"
)

// ChangesChannel is the NOTIFY channel every committed change of the price
// rows is announced on, in the change's transaction.
const ChangesChannel = "aigate_prices_changed"

// RetryTimer names the timer Run arms, on Config.Clock, after a failed
// reload.
const RetryTimer = "pricing.reload.retry"

// The retry backoff after a failed reload: it doubles up to the maximum.
const (
	firstRetryBackoff = 100 * time.Millisecond
	maxRetryBackoff   = time.Minute
)

// MaxImport bounds the rows of one import.
const MaxImport = 10_000

// Config configures a Service.
type Config struct {
	DB *database.DB
	// PubSub delivers the change notifications; nil reloads only on this
	// replica's own changes (tests of the package alone).
	PubSub *pubsub.PubSub
	Audit  *audit.Recorder
	// Clock stamps the snapshots and the overrides and times the retries;
	// nil is the real clock.
	Clock     clock.Clock
	Logger    *slog.Logger
	ReplicaID uuid.UUID
	// Default replaces the shipped book (tests); nil is LoadDefaultBook's.
	Default *DefaultBook
}

// Service owns the price rows: the default book's load at startup, the
// operators' overrides, and the Book snapshot each replica prices its
// requests with, reloaded on every change notification.
type Service struct {
	cfg   Config
	log   *slog.Logger
	clock clock.Clock

	// mu serialises reloads, so a slow one that began first never replaces
	// the book of one that began after it.
	mu      sync.Mutex
	current atomic.Pointer[Book]
	// trigger holds at most one pending reload.
	trigger chan struct{}
	cancel  func()
}

// New returns a Service; it reads nothing yet (Start does).
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, log: cfg.Logger, clock: clock.Or(cfg.Clock), trigger: make(chan struct{}, 1)}
}

// Book returns the current snapshot; nil before Start.
func (s *Service) Book() *Book { return s.current.Load() }

// LoadDefault stores the shipped default book unless the stored one is as
// new or newer, under the price_book lock so replicas starting together
// load it once. A newer book's rows replace the default rows effective from
// its as_of on (a re-load of the same date), and the older books' rows stay
// for the requests before it. It reports whether it stored the book.
func (s *Service) LoadDefault(ctx context.Context) (bool, error) {
	book := s.cfg.Default
	if book == nil {
		b, err := LoadDefaultBook()
		if err != nil {
			return false, err
		}
		book = &b
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	return database.LockedTx(ctx, s.cfg.DB, database.LockPriceBook, func(ctx context.Context, tx pgx.Tx) (bool, error) {
		q := dbsqlc.New(tx)
		st, err := q.PriceBookStateGet(ctx)
		if err != nil {
			return false, fmt.Errorf("read the price book state: %w", err)
		}
		if st.DefaultAsOf.Valid && !st.DefaultAsOf.Time.Before(book.AsOf) {
			return false, nil
		}
		if _, err := q.ModelPriceDeleteDefaultFrom(ctx, book.AsOf); err != nil {
			return false, fmt.Errorf("replace the default prices: %w", err)
		}
		rows := make([]dbsqlc.ModelPriceInsertDefaultParams, len(book.Prices))
		for i, p := range book.Prices {
			rows[i] = dbsqlc.ModelPriceInsertDefaultParams{
				ID: uuid.Must(uuid.NewV7()), Source: SourceDefault, ProviderType: dbsqlc.AiProviderType(p.ProviderType),
				Model: p.Model, MinInputTokens: p.MinInputTokens, EffectiveFrom: book.AsOf, Input: p.Input,
				Output: p.Output, CacheRead: p.CacheRead, CacheWrite5m: p.CacheWrite5m, CacheWrite1h: p.CacheWrite1h,
				Reasoning: p.Reasoning, Note: p.Note, CreatedAt: now, UpdatedAt: now,
			}
		}
		if _, err := q.ModelPriceInsertDefault(ctx, rows); err != nil {
			return false, fmt.Errorf("store the default prices: %w", err)
		}
		if err := q.PriceBookStateSet(ctx, dbsqlc.PriceBookStateSetParams{
			DefaultAsOf: pgtype.Date{Time: book.AsOf, Valid: true}, LoadedAt: &now, LoadedBy: s.cfg.ReplicaID,
		}); err != nil {
			return false, fmt.Errorf("record the price book state: %w", err)
		}
		s.log.Info("default price book stored", "as_of", book.AsOf.Format(time.DateOnly), "prices", len(rows),
			"replica_id", s.cfg.ReplicaID)
		return true, pubsub.Publish(ctx, tx, ChangesChannel, "default")
	})
}

// Start subscribes to the change notifications and loads the first book:
// subscribed first, so no change committed during the load is missed.
func (s *Service) Start(ctx context.Context) error {
	if s.cfg.PubSub != nil {
		cancel, err := s.cfg.PubSub.Subscribe(ChangesChannel, func(ev pubsub.Event) {
			if ev.Missed {
				s.log.Info("price change notifications may have been missed; reloading the price book")
			}
			s.Trigger()
		})
		if err != nil {
			return fmt.Errorf("subscribe to price changes: %w", err)
		}
		s.cancel = cancel
	}
	if err := s.Reload(ctx); err != nil {
		s.Close()
		return err
	}
	return nil
}

// Close ends the subscription.
func (s *Service) Close() {
	if s.cancel != nil {
		s.cancel()
	}
}

// Trigger asks Run for a reload without waiting for it.
func (s *Service) Trigger() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// Run reloads the book on every trigger until ctx ends; a failed reload is
// retried with backoff, and the previous book stays in use meanwhile.
func (s *Service) Run(ctx context.Context) {
	var retry *clock.Timer
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	backoff := firstRetryBackoff
	for {
		var retryC <-chan time.Time
		if retry != nil {
			retryC = retry.C
		}
		select {
		case <-ctx.Done():
			return
		case <-s.trigger:
		case <-retryC:
		}
		if retry != nil {
			retry.Stop()
			retry = nil
		}
		if err := s.Reload(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("price book reload failed; still pricing with the previous one", "retry_in", backoff, "error", err)
			retry = s.clock.NewTimer(RetryTimer, backoff)
			backoff = min(2*backoff, maxRetryBackoff)
			continue
		}
		backoff = firstRetryBackoff
	}
}

// Reload reads every price row and swaps the snapshot.
func (s *Service) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := dbsqlc.New(s.cfg.DB.Pool)
	rows, err := q.ModelPriceListAll(ctx)
	if err != nil {
		return fmt.Errorf("load the price book: %w", err)
	}
	st, err := q.PriceBookStateGet(ctx)
	if err != nil {
		return fmt.Errorf("read the price book state: %w", err)
	}
	prices := make([]Price, len(rows))
	for i, r := range rows {
		prices[i] = fromRow(r)
	}
	var asOf time.Time
	if st.DefaultAsOf.Valid {
		asOf = st.DefaultAsOf.Time
	}
	s.current.Store(NewBook(prices, asOf, s.clock.Now()))
	s.log.Debug("price book loaded", "prices", len(prices))
	return nil
}

func fromRow(r dbsqlc.ModelPrice) Price {
	return Price{
		ID: r.ID, Source: r.Source, ProviderType: string(r.ProviderType), Model: r.Model,
		MinInputTokens: r.MinInputTokens, EffectiveFrom: r.EffectiveFrom.UTC(), Input: r.Input, Output: r.Output,
		CacheRead: r.CacheRead, CacheWrite5m: r.CacheWrite5m, CacheWrite1h: r.CacheWrite1h, Reasoning: r.Reasoning,
		Note: r.Note,
	}
}

// Set stores an override (a new one, or new prices for the override of the
// same provider type, model, tier and effective_from), audited and announced
// in one transaction, and reloads this replica's book before returning.
func (s *Service) Set(ctx context.Context, actor audit.Actor, in PriceInput) (Price, error) {
	out, err := s.Import(ctx, actor, []PriceInput{in})
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) && len(ae.Validations) > 0 {
			// One price: its fields, not the import's element index.
			for i := range ae.Validations {
				ae.Validations[i].Field = trimIndex(ae.Validations[i].Field)
			}
		}
		return Price{}, err
	}
	return out[0], nil
}

func trimIndex(field string) string { return strings.TrimPrefix(field, "[0].") }

// Import stores several overrides, all or none, in one transaction with
// their audit entries. Each element's fields are validated as Set's; the
// validations name the element ("[2].input").
func (s *Service) Import(ctx context.Context, actor audit.Actor, ins []PriceInput) ([]Price, error) {
	if len(ins) == 0 {
		return nil, apperr.Invalid(apperr.Validation{Field: "prices", Detail: "is empty: give at least one price"})
	}
	if len(ins) > MaxImport {
		return nil, apperr.Invalid(apperr.Validation{Field: "prices", Detail: fmt.Sprintf("has %d prices; import at most %d at once", len(ins), MaxImport)})
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	prices := make([]Price, len(ins))
	var vs []apperr.Validation
	seen := map[string]int{}
	for i, in := range ins {
		p, pvs := in.parse(now)
		for _, v := range pvs {
			vs = append(vs, apperr.Validation{Field: fmt.Sprintf("[%d].%s", i, v.Field), Detail: v.Detail})
		}
		key := fmt.Sprintf("%s|%s|%d|%s", p.ProviderType, p.Model, p.MinInputTokens, p.EffectiveFrom.Format(time.RFC3339Nano))
		if j, dup := seen[key]; dup && len(pvs) == 0 {
			vs = append(vs, apperr.Validation{Field: fmt.Sprintf("[%d].model", i), Detail: fmt.Sprintf("repeats price %d (same provider type, model, min_input_tokens and effective_from)", j)})
		}
		seen[key] = i
		p.Source = SourceOverride
		prices[i] = p
	}
	if len(vs) > 0 {
		return nil, apperr.Invalid(vs...)
	}
	out, err := database.Tx(ctx, s.cfg.DB, func(ctx context.Context, tx pgx.Tx) ([]Price, error) {
		q := dbsqlc.New(tx)
		stored := make([]Price, len(prices))
		for i, p := range prices {
			var old *Price
			prev, err := q.ModelPriceGetOverrideByKey(ctx, dbsqlc.ModelPriceGetOverrideByKeyParams{
				ProviderType: dbsqlc.AiProviderType(p.ProviderType), Model: p.Model, MinInputTokens: p.MinInputTokens,
				EffectiveFrom: p.EffectiveFrom,
			})
			switch {
			case err == nil:
				o := fromRow(prev)
				old = &o
			case !errors.Is(err, pgx.ErrNoRows):
				return nil, fmt.Errorf("read the price being replaced: %w", err)
			}
			row, err := q.ModelPriceUpsertOverride(ctx, dbsqlc.ModelPriceUpsertOverrideParams{
				ID: uuid.Must(uuid.NewV7()), ProviderType: dbsqlc.AiProviderType(p.ProviderType), Model: p.Model,
				MinInputTokens: p.MinInputTokens, EffectiveFrom: p.EffectiveFrom, Input: p.Input, Output: p.Output,
				CacheRead: p.CacheRead, CacheWrite5m: p.CacheWrite5m, CacheWrite1h: p.CacheWrite1h,
				Reasoning: p.Reasoning, Note: p.Note, Now: now,
			})
			if err != nil {
				return nil, fmt.Errorf("store the price of %s %s: %w", p.ProviderType, p.Model, err)
			}
			stored[i] = fromRow(dbsqlc.ModelPrice{
				ID: row.ID, Source: row.Source, ProviderType: row.ProviderType, Model: row.Model,
				MinInputTokens: row.MinInputTokens, EffectiveFrom: row.EffectiveFrom, Input: row.Input,
				Output: row.Output, CacheRead: row.CacheRead, CacheWrite5m: row.CacheWrite5m,
				CacheWrite1h: row.CacheWrite1h, Reasoning: row.Reasoning, Note: row.Note,
			})
			action := audit.ActionCreate
			var before map[string]any
			if old != nil {
				action, before = audit.ActionWrite, auditFields(*old)
			}
			if err := s.cfg.Audit.Record(ctx, tx, audit.Entry{
				Actor: actor, Action: action, ResourceType: "price", ResourceID: row.ID.String(),
				ResourceName: p.ProviderType + " " + p.Model, Diff: audit.Changes(before, auditFields(stored[i])),
			}); err != nil {
				return nil, err
			}
		}
		return stored, pubsub.Publish(ctx, tx, ChangesChannel, "override")
	})
	if err != nil {
		return nil, err
	}
	s.reloadAfterChange(ctx)
	return out, nil
}

// Delete removes an override. A default row cannot be deleted (override it
// instead); an unknown id is not found.
func (s *Service) Delete(ctx context.Context, actor audit.Actor, id uuid.UUID) error {
	_, err := database.Tx(ctx, s.cfg.DB, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		q := dbsqlc.New(tx)
		row, err := q.ModelPriceDeleteOverride(ctx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			if _, gerr := q.ModelPriceGet(ctx, id); gerr == nil {
				return struct{}{}, apperr.Conflict("price %s is a default price of the shipped book and cannot be deleted; set an override to change it", id)
			}
			return struct{}{}, apperr.NotFound("no price override with id %s", id)
		}
		if err != nil {
			return struct{}{}, fmt.Errorf("delete price %s: %w", id, err)
		}
		p := fromRow(row)
		if err := s.cfg.Audit.Record(ctx, tx, audit.Entry{
			Actor: actor, Action: audit.ActionDelete, ResourceType: "price", ResourceID: id.String(),
			ResourceName: p.ProviderType + " " + p.Model, Diff: audit.Changes(auditFields(p), nil),
		}); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, pubsub.Publish(ctx, tx, ChangesChannel, "override")
	})
	if err != nil {
		return err
	}
	s.reloadAfterChange(ctx)
	return nil
}

// reloadAfterChange makes this replica's change visible here before its API
// answers; a failure costs only that, as the notification reloads too.
func (s *Service) reloadAfterChange(ctx context.Context) {
	if err := s.Reload(ctx); err != nil {
		s.log.Warn("reload after a price change failed; the change notification will reload", "error", err)
		s.Trigger()
	}
}

func auditFields(p Price) map[string]any {
	m := map[string]any{
		"provider_type": p.ProviderType, "model": p.Model, "min_input_tokens": p.MinInputTokens,
		"effective_from": p.EffectiveFrom.UTC().Format(time.RFC3339Nano), "input": FormatUSD(p.Input),
		"output": FormatUSD(p.Output), "cache_read": FormatUSD(p.CacheRead), "cache_write_5m": FormatUSD(p.CacheWrite5m),
		"cache_write_1h": FormatUSD(p.CacheWrite1h), "note": p.Note,
	}
	if p.Reasoning != nil {
		m["reasoning"] = FormatUSD(*p.Reasoning)
	}
	return m
}

// State is what a row is now, for the listing.
type State string

// The states of a row.
const (
	StateInEffect   State = "in_effect"  // what requests to its model are priced with now
	StateOverridden State = "overridden" // in effect for its key, but an override beats it
	StateSuperseded State = "superseded" // a later version of the same model and source applies
	StateScheduled  State = "scheduled"  // effective_from is still ahead
)

// StateOf tells what row p of b is at now: whether Lookup of its own model
// (a prefix pattern's prefix) and tier at now returns it.
func (b *Book) StateOf(p Price, now time.Time) State {
	if p.EffectiveFrom.After(now) {
		return StateScheduled
	}
	name := p.Model
	if p.IsPrefix() {
		name = name[:len(name)-1]
	}
	// Bedrock tries the ID as written first; a row's own name is one.
	if got, ok := b.Lookup(p.ProviderType, name, now, p.MinInputTokens+1); ok && got.ID == p.ID {
		return StateInEffect
	}
	for _, r := range b.byType[p.ProviderType] {
		if r.Source == p.Source && r.Model == p.Model && r.EffectiveFrom.After(p.EffectiveFrom) && !r.EffectiveFrom.After(now) {
			return StateSuperseded
		}
	}
	return StateOverridden
}
