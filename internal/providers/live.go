package providers

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// Live is a provider as the gateway serves it, secrets decrypted. Disabled
// providers are included (the gateway answers 503 for them, not 404);
// deleted ones are not.
type Live struct {
	ID          uuid.UUID
	Name        string
	Type        Type
	Enabled     bool
	BaseURL     string
	Settings    *Settings    // bedrock only
	Credentials []Credential // bedrock only
	Keys        []LiveKey    // in the order they are tried
	UpdatedAt   time.Time
	// Err says why the provider cannot be served (a key that does not
	// decrypt, settings that do not parse). One broken provider must not
	// take the others down, so it is reported here instead of failing the
	// whole load.
	Err error
}

// LiveKey is one decrypted upstream key.
type LiveKey struct {
	ID     uuid.UUID
	Secret string
}

// LoadLive reads every live provider and its keys in one consistent
// snapshot, so a reload never pairs a provider with another version's keys.
func (s *Service) LoadLive(ctx context.Context) ([]Live, error) {
	return database.SnapshotTx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) ([]Live, error) {
		q := dbsqlc.New(tx)
		rows, err := q.AIProviderList(ctx, false)
		if err != nil {
			return nil, fmt.Errorf("list providers: %w", err)
		}
		keys, err := keysOf(ctx, q, rows)
		if err != nil {
			return nil, err
		}
		out := make([]Live, len(rows))
		for i, r := range rows {
			out[i] = s.live(r, keys[r.ID])
		}
		return out, nil
	})
}

func (s *Service) live(r dbsqlc.AiProvider, keys []dbsqlc.AiProviderKey) Live {
	l := Live{ID: r.ID, Name: r.Name, Type: Type(r.Type), Enabled: r.Enabled, BaseURL: r.BaseUrl, UpdatedAt: r.UpdatedAt.UTC()}
	rec, err := s.open(r, keys, true)
	if err != nil {
		l.Err = err
		return l
	}
	l.Settings, l.Credentials = rec.settings, rec.creds
	for _, k := range rec.keys {
		l.Keys = append(l.Keys, LiveKey{ID: k.row.ID, Secret: k.plain})
	}
	return l
}
