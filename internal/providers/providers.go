// Package providers owns aigate's AI providers: their validation, canonical
// form and hash, the encryption of their keys and Bedrock credentials, and
// the create, update, delete and restore operations. Every change commits,
// in one transaction, the rows, the audit entries and a notification on
// ChangesChannel. HTTP handlers, the CLI and the environment seed are thin
// layers over this package.
//
// The files follow its seams: the types callers see and send (types.go), the
// canonical form and its rules (spec.go), how a request changes a provider
// (patch.go), the rows and the one decrypt path (store.go), key sets
// (keys.go), what the gateway loads (live.go), the keyring (encryption.go),
// and the operations (this file).
package providers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/encryption"
	"github.com/aigate/aigate/internal/pubsub"
)

// ChangesChannel is notified, on commit, of every provider change.
const ChangesChannel = "ai_providers_changed"

// Change is the payload sent on ChangesChannel. Listeners reload the full
// set rather than patch from it; it says what changed for logs.
type Change struct {
	ID     uuid.UUID    `json:"id"`
	Name   string       `json:"name"`
	Action audit.Action `json:"action"`
}

// Service is the providers domain.
type Service struct {
	db      *database.DB
	keyring *encryption.Keyring
	audit   *audit.Recorder
	now     func() time.Time
	// committed runs after each change commits (see OnCommit).
	committed func(context.Context)
}

// NewService returns the providers service; keyring encrypts and decrypts
// keys and credentials.
func NewService(db *database.DB, keyring *encryption.Keyring, rec *audit.Recorder, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, keyring: keyring, audit: rec, now: now}
}

// OnCommit sets f to run after each create, update, delete or restore
// commits, before the call returns. The server reloads its gateway's
// snapshot in it: the replica that made a change serves it by the time the
// API answers, where the others take the notification's round trip. Set it
// before the service is shared.
func (s *Service) OnCommit(f func(context.Context)) { s.committed = f }

func (s *Service) afterCommit(ctx context.Context) {
	if s.committed != nil {
		s.committed(ctx)
	}
}

// clock is now at the database's precision, so what a change returns
// equals what a later read returns.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func (s *Service) publish(ctx context.Context, tx pgx.Tx, row dbsqlc.AiProvider, action audit.Action) error {
	payload, err := json.Marshal(Change{ID: row.ID, Name: row.Name, Action: action})
	if err != nil {
		return err
	}
	return pubsub.Publish(ctx, tx, ChangesChannel, string(payload))
}

// List returns live providers (enabled and disabled) in name order, and
// deleted ones too when includeDeleted is set. Providers and keys are read
// in one snapshot, as LoadLive reads them.
func (s *Service) List(ctx context.Context, includeDeleted bool) ([]Provider, error) {
	return database.SnapshotTx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) ([]Provider, error) {
		q := dbsqlc.New(tx)
		rows, err := q.AIProviderList(ctx, includeDeleted)
		if err != nil {
			return nil, fmt.Errorf("list providers: %w", err)
		}
		recs, err := s.load(ctx, q, rows, false)
		if err != nil {
			return nil, err
		}
		out := make([]Provider, len(recs))
		for i, r := range recs {
			out[i] = r.view()
		}
		return out, nil
	})
}

// Get returns a live provider by id or name, read in one snapshot.
func (s *Service) Get(ctx context.Context, ref string) (Provider, error) {
	return database.SnapshotTx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (Provider, error) {
		q := dbsqlc.New(tx)
		row, err := lookup(ctx, q, ref, false, false)
		if err != nil {
			return Provider{}, err
		}
		recs, err := s.load(ctx, q, []dbsqlc.AiProvider{row}, false)
		if err != nil {
			return Provider{}, err
		}
		return recs[0].view(), nil
	})
}

// LoadAll returns every provider row in tx, deleted ones included, by name.
func (s *Service) LoadAll(ctx context.Context, tx pgx.Tx) (map[string]Stored, error) {
	q := dbsqlc.New(tx)
	rows, err := q.AIProviderList(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("list providers: %w", err)
	}
	recs, err := s.load(ctx, q, rows, true)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Stored, len(recs))
	for _, r := range recs {
		out[r.row.Name] = Stored{ID: r.row.ID, Deleted: r.row.Deleted, Spec: r.spec()}
	}
	return out, nil
}

// Create adds a provider.
func (s *Service) Create(ctx context.Context, actor audit.Actor, in Input) (Provider, error) {
	spec, err := in.Spec()
	if err != nil {
		return Provider{}, err
	}
	rec, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (record, error) {
		rec, err := s.insert(ctx, tx, actor, spec)
		if err != nil {
			return record{}, err
		}
		return rec, s.publish(ctx, tx, rec.row, audit.ActionCreate)
	})
	if err != nil {
		return Provider{}, err
	}
	s.afterCommit(ctx)
	return rec.view(), nil
}

// Insert writes a provider made from a normalized spec, with its keys and
// audit entries, in tx. It does not notify: the environment seed runs
// before any gateway reads, and every gateway loads the full set at start.
func (s *Service) Insert(ctx context.Context, tx pgx.Tx, actor audit.Actor, spec Spec) error {
	_, err := s.insert(ctx, tx, actor, spec)
	return err
}

// Update applies p to the live provider ref.
func (s *Service) Update(ctx context.Context, actor audit.Actor, ref string, p Patch) (Provider, error) {
	if p.empty() {
		return Provider{}, apperr.Invalid(apperr.Validation{Field: "body", Detail: "give at least one of name, display_name, enabled, base_url, settings, api_keys"})
	}
	rec, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (record, error) {
		old, err := s.openForUpdate(ctx, tx, ref, false)
		if err != nil {
			return record{}, err
		}
		next, slots, err := old.patched(p)
		if err != nil {
			return record{}, err
		}
		return s.write(ctx, tx, actor, old, next, slots, audit.ActionWrite)
	})
	if err != nil {
		return Provider{}, err
	}
	s.afterCommit(ctx)
	return rec.view(), nil
}

// Delete soft-deletes the live provider ref: it stops serving, its name
// stays reserved and the environment seed will not bring it back.
func (s *Service) Delete(ctx context.Context, actor audit.Actor, ref string) error {
	_, err := s.flip(ctx, actor, ref, audit.ActionDelete)
	return err
}

// Restore undeletes the provider ref and enables it.
func (s *Service) Restore(ctx context.Context, actor audit.Actor, ref string) (Provider, error) {
	rec, err := s.flip(ctx, actor, ref, audit.ActionRestore)
	if err != nil {
		return Provider{}, err
	}
	return rec.view(), nil
}

func (s *Service) flip(ctx context.Context, actor audit.Actor, ref string, action audit.Action) (record, error) {
	rec, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (record, error) {
		rec, err := s.openForUpdate(ctx, tx, ref, action == audit.ActionRestore)
		if err != nil {
			return record{}, err
		}
		if action == audit.ActionRestore && !rec.row.Deleted {
			return record{}, apperr.Conflict("Provider %q is not deleted.", rec.row.Name)
		}
		return s.write(ctx, tx, actor, rec, rec.spec(), rec.slots(), action)
	})
	if err == nil {
		s.afterCommit(ctx)
	}
	return rec, err
}

// openForUpdate locks the provider ref in tx and opens it, credentials
// included; deleted providers are found only with deleted set.
func (s *Service) openForUpdate(ctx context.Context, tx pgx.Tx, ref string, deleted bool) (record, error) {
	q := dbsqlc.New(tx)
	row, err := lookup(ctx, q, ref, true, deleted)
	if err != nil {
		return record{}, err
	}
	recs, err := s.load(ctx, q, []dbsqlc.AiProvider{row}, true)
	if err != nil {
		return record{}, err
	}
	return recs[0], nil
}
