package providers

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// keySlot is one position of a key set being written: a kept key (id set)
// or a new one.
type keySlot struct {
	id    uuid.UUID // uuid.Nil for a new key
	plain string
}

// slots is r's key set as it stands.
func (r record) slots() []keySlot {
	out := make([]keySlot, len(r.keys))
	for i, k := range r.keys {
		out[i] = keySlot{id: k.row.ID, plain: k.plain}
	}
	return out
}

// keySlots resolves a PATCH's api_keys against the stored keys.
func keySlots(in []KeyInput, old []storedKey) ([]keySlot, []apperr.Validation) {
	byID := make(map[string]storedKey, len(old))
	for _, k := range old {
		byID[k.row.ID.String()] = k
	}
	var vs []apperr.Validation
	seen := map[string]int{}
	slots := make([]keySlot, 0, len(in))
	for i, k := range in {
		field := fmt.Sprintf("api_keys[%d]", i)
		switch {
		case (k.ID == nil) == (k.APIKey == nil):
			vs = append(vs, apperr.Validation{Field: field, Detail: `must be either {"id": "<stored key id>"} to keep a key or {"api_key": "..."} to add one`})
		case k.ID != nil:
			id := strings.ToLower(*k.ID)
			stored, ok := byID[id]
			if !ok {
				vs = append(vs, apperr.Validation{Field: field + ".id", Detail: fmt.Sprintf("this provider has no key %q", *k.ID)})
				continue
			}
			if j, dup := seen[id]; dup {
				vs = append(vs, apperr.Validation{Field: field + ".id", Detail: fmt.Sprintf("duplicates api_keys[%d]", j)})
				continue
			}
			seen[id] = i
			slots = append(slots, keySlot{id: stored.row.ID, plain: stored.plain})
		default:
			slots = append(slots, keySlot{plain: *k.APIKey})
		}
	}
	return slots, vs
}

// writeKeys makes rows hold exactly slots, in order: old keys not in slots
// are deleted, kept keys renumbered, new keys encrypted and inserted. Each
// added and removed key is audited, masked.
func (s *Service) writeKeys(ctx context.Context, tx pgx.Tx, actor audit.Actor, row dbsqlc.AiProvider, old []storedKey, slots []keySlot) ([]storedKey, error) {
	q := dbsqlc.New(tx)
	now := s.clock()
	kept := make(map[uuid.UUID]bool, len(slots))
	for _, sl := range slots {
		kept[sl.id] = true
	}
	byID := make(map[uuid.UUID]storedKey, len(old))
	for _, k := range old {
		byID[k.row.ID] = k
		if kept[k.row.ID] {
			continue
		}
		if err := q.AIProviderKeyDelete(ctx, k.row.ID); err != nil {
			return nil, fmt.Errorf("delete key: %w", err)
		}
		if err := s.auditKey(ctx, tx, actor, audit.ActionDelete, row, k.row.ID, int(k.row.Position), k.plain); err != nil {
			return nil, err
		}
	}
	out := make([]storedKey, len(slots))
	for i, sl := range slots {
		if sl.id != uuid.Nil {
			k := byID[sl.id]
			if int(k.row.Position) != i {
				if err := q.AIProviderKeySetPosition(ctx, dbsqlc.AIProviderKeySetPositionParams{ID: sl.id, Position: int32(i), Now: now}); err != nil {
					return nil, fmt.Errorf("reorder keys: %w", err)
				}
				k.row.Position, k.row.UpdatedAt = int32(i), now
			}
			out[i] = k
			continue
		}
		id, err := uuid.NewRandom()
		if err != nil {
			return nil, err
		}
		sealed, err := s.keyring.EncryptString(sl.plain, keyAD(id))
		if err != nil {
			return nil, fmt.Errorf("encrypt key: %w", err)
		}
		k := dbsqlc.AiProviderKey{ID: id, ProviderID: row.ID, Position: int32(i), ApiKey: sealed,
			KeyDigest: s.keyring.ActiveDigest(), CreatedAt: now, UpdatedAt: now}
		if err := q.AIProviderKeyInsert(ctx, dbsqlc.AIProviderKeyInsertParams{
			ID: k.ID, ProviderID: k.ProviderID, Position: k.Position, ApiKey: k.ApiKey, KeyDigest: k.KeyDigest, Now: now,
		}); err != nil {
			return nil, fmt.Errorf("insert key: %w", err)
		}
		if err := s.auditKey(ctx, tx, actor, audit.ActionCreate, row, id, i, sl.plain); err != nil {
			return nil, err
		}
		out[i] = storedKey{row: k, plain: sl.plain}
	}
	return out, nil
}

func (s *Service) auditKey(ctx context.Context, tx pgx.Tx, actor audit.Actor, action audit.Action, row dbsqlc.AiProvider, id uuid.UUID, position int, plain string) error {
	fields := map[string]any{"provider": row.Name, "position": position, "api_key": Mask(plain)}
	diff := audit.Changes(nil, fields)
	if action == audit.ActionDelete {
		diff = audit.Changes(fields, nil)
	}
	return s.audit.Record(ctx, tx, audit.Entry{
		Actor: actor, Action: action, ResourceType: "ai_provider_key", ResourceID: id.String(),
		ResourceName: row.Name, Diff: diff,
	})
}
