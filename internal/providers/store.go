package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// storedKey is a key row with its plaintext.
type storedKey struct {
	row   dbsqlc.AiProviderKey
	plain string
}

// record is a provider row with its settings decoded and its secrets
// decrypted (the credentials only when asked for: see open).
type record struct {
	row      dbsqlc.AiProvider
	settings *Settings
	creds    []Credential
	keys     []storedKey
}

// spec is the record's state as a Spec.
func (r record) spec() Spec {
	keys := make([]string, len(r.keys))
	for i, k := range r.keys {
		keys[i] = k.plain
	}
	return Spec{Name: r.row.Name, Type: Type(r.row.Type), DisplayName: r.row.DisplayName, Enabled: r.row.Enabled,
		BaseURL: r.row.BaseUrl, Settings: r.settings, Credentials: r.creds, Keys: keys}
}

func (r record) view() Provider {
	p := Provider{ID: r.row.ID, Name: r.row.Name, Type: Type(r.row.Type), DisplayName: r.row.DisplayName,
		Enabled: r.row.Enabled, Deleted: r.row.Deleted, BaseURL: r.row.BaseUrl,
		APIKeys: make([]Key, len(r.keys)), CreatedAt: r.row.CreatedAt.UTC(), UpdatedAt: r.row.UpdatedAt.UTC(),
		Warnings: BaseURLWarnings(Type(r.row.Type), r.row.BaseUrl)}
	if r.settings != nil {
		p.Settings = &SettingsView{Settings: *r.settings, HasCredentials: r.row.Credentials != nil}
	}
	for i, k := range r.keys {
		p.APIKeys[i] = Key{ID: k.row.ID, Masked: Mask(k.plain), CreatedAt: k.row.CreatedAt.UTC()}
	}
	p.State = state(p)
	return p
}

// Associated data binds each ciphertext to the row holding it, so a
// ciphertext copied to another row does not decrypt.
func keyAD(id uuid.UUID) string         { return "ai_provider_keys:" + id.String() }
func credentialsAD(id uuid.UUID) string { return "ai_providers:" + id.String() + ":credentials" }

// keysOf reads the key rows of rows, by provider, in the order they are
// tried.
func keysOf(ctx context.Context, q *dbsqlc.Queries, rows []dbsqlc.AiProvider) (map[uuid.UUID][]dbsqlc.AiProviderKey, error) {
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	keyRows, err := q.AIProviderKeysList(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list provider keys: %w", err)
	}
	out := make(map[uuid.UUID][]dbsqlc.AiProviderKey, len(rows))
	for _, k := range keyRows {
		out[k.ProviderID] = append(out[k.ProviderID], k)
	}
	return out, nil
}

// open decodes a provider row's settings and decrypts its keys and, with
// withCreds, its Bedrock credentials, which listing and showing never need.
// It is the one place stored secrets become plaintext; its errors name the
// provider.
func (s *Service) open(row dbsqlc.AiProvider, keys []dbsqlc.AiProviderKey, withCreds bool) (record, error) {
	rec := record{row: row}
	if row.Settings != nil {
		var st Settings
		if err := json.Unmarshal(row.Settings, &st); err != nil {
			return record{}, fmt.Errorf("decode settings of provider %q: %w", row.Name, err)
		}
		rec.settings = &st
	}
	for _, k := range keys {
		plain, err := s.keyring.DecryptString(k.ApiKey, keyAD(k.ID))
		if err != nil {
			return record{}, fmt.Errorf("decrypt key %s of provider %q: %w", k.ID, row.Name, err)
		}
		rec.keys = append(rec.keys, storedKey{row: k, plain: plain})
	}
	if withCreds && row.Credentials != nil {
		raw, err := s.keyring.Decrypt(row.Credentials, []byte(credentialsAD(row.ID)))
		if err != nil {
			return record{}, fmt.Errorf("decrypt credentials of provider %q: %w", row.Name, err)
		}
		if err := json.Unmarshal(raw, &rec.creds); err != nil {
			return record{}, fmt.Errorf("decode credentials of provider %q: %w", row.Name, err)
		}
	}
	return rec, nil
}

// load opens rows with their keys; q must read one snapshot (a
// transaction), so no provider is paired with another version's keys.
func (s *Service) load(ctx context.Context, q *dbsqlc.Queries, rows []dbsqlc.AiProvider, withCreds bool) ([]record, error) {
	keys, err := keysOf(ctx, q, rows)
	if err != nil {
		return nil, err
	}
	out := make([]record, len(rows))
	for i, r := range rows {
		if out[i], err = s.open(r, keys[r.ID], withCreds); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// lookup finds a provider by id or name. Deleted providers are not found
// unless deleted is set. With forUpdate the row is locked.
func lookup(ctx context.Context, q *dbsqlc.Queries, ref string, forUpdate, deleted bool) (dbsqlc.AiProvider, error) {
	var (
		row dbsqlc.AiProvider
		err error
	)
	if id, perr := uuid.Parse(ref); perr == nil {
		row, err = q.AIProviderGetByID(ctx, id)
	} else {
		row, err = q.AIProviderGetByName(ctx, ref)
	}
	if err == nil && forUpdate {
		row, err = q.AIProviderGetByIDForUpdate(ctx, row.ID)
	}
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && row.Deleted && !deleted) {
		return dbsqlc.AiProvider{}, apperr.NotFound("No provider %q.", ref)
	}
	if err != nil {
		return dbsqlc.AiProvider{}, fmt.Errorf("look up provider: %w", err)
	}
	return row, nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func nameTaken(name string) error {
	return apperr.Conflict("A provider named %q already exists (names of deleted providers stay reserved: restore it, or choose another name).", name)
}

func (s *Service) insert(ctx context.Context, tx pgx.Tx, actor audit.Actor, spec Spec) (record, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return record{}, err
	}
	settings, creds, digest, err := s.sealSettings(id, spec)
	if err != nil {
		return record{}, err
	}
	q := dbsqlc.New(tx)
	row, err := q.AIProviderInsert(ctx, dbsqlc.AIProviderInsertParams{
		ID: id, Name: spec.Name, Type: dbsqlc.AiProviderType(spec.Type), DisplayName: spec.DisplayName,
		Enabled: spec.Enabled, BaseUrl: spec.BaseURL, Settings: settings, Credentials: creds,
		CredentialsKeyDigest: digest, Now: s.clock(),
	})
	if isUniqueViolation(err) {
		return record{}, nameTaken(spec.Name)
	}
	if err != nil {
		return record{}, fmt.Errorf("insert provider %q: %w", spec.Name, err)
	}
	rec := record{row: row, settings: spec.Settings, creds: spec.Credentials}
	slots := make([]keySlot, len(spec.Keys))
	for i, k := range spec.Keys {
		slots[i] = keySlot{plain: k}
	}
	if rec.keys, err = s.writeKeys(ctx, tx, actor, row, nil, slots); err != nil {
		return record{}, err
	}
	err = s.audit.Record(ctx, tx, audit.Entry{
		Actor: actor, Action: audit.ActionCreate, ResourceType: "ai_provider", ResourceID: id.String(), ResourceName: row.Name,
		Diff: audit.Changes(nil, auditFields(rec), "credentials"),
	})
	return rec, err
}

// sealSettings encodes a spec's settings and encrypts its credentials for
// the provider with the given id.
func (s *Service) sealSettings(id uuid.UUID, spec Spec) (settings, creds []byte, digest *string, err error) {
	if spec.Settings != nil {
		if settings, err = json.Marshal(spec.Settings); err != nil {
			return nil, nil, nil, err
		}
	}
	if len(spec.Credentials) > 0 {
		raw, err := json.Marshal(spec.Credentials)
		if err != nil {
			return nil, nil, nil, err
		}
		if creds, err = s.keyring.Encrypt(raw, []byte(credentialsAD(id))); err != nil {
			return nil, nil, nil, fmt.Errorf("encrypt credentials: %w", err)
		}
		d := s.keyring.ActiveDigest()
		digest = &d
	}
	return settings, creds, digest, nil
}

// write makes the stored provider old hold next (and, for delete and
// restore, flips deleted), audits and notifies. A change to nothing writes,
// audits and notifies nothing.
func (s *Service) write(ctx context.Context, tx pgx.Tx, actor audit.Actor, old record, next Spec, slots []keySlot, action audit.Action) (record, error) {
	cur := old.spec()
	deleted, enabled := old.row.Deleted, next.Enabled
	switch action {
	case audit.ActionDelete:
		deleted, enabled = true, false
	case audit.ActionRestore:
		deleted, enabled = false, true
	}
	sameKeys := len(slots) == len(old.keys)
	for i := 0; sameKeys && i < len(slots); i++ {
		sameKeys = slots[i].id == old.keys[i].row.ID
	}
	sameCreds := jsonEqual(cur.Credentials, next.Credentials)
	if sameKeys && sameCreds && cur.Name == next.Name && cur.DisplayName == next.DisplayName &&
		enabled == old.row.Enabled && deleted == old.row.Deleted && cur.BaseURL == next.BaseURL &&
		jsonEqual(cur.Settings, next.Settings) {
		return old, nil
	}
	settings, creds, digest, err := s.sealSettings(old.row.ID, next)
	if err != nil {
		return record{}, err
	}
	if sameCreds { // keep the ciphertext: no needless re-encryption
		creds, digest = old.row.Credentials, old.row.CredentialsKeyDigest
	}
	row, err := dbsqlc.New(tx).AIProviderUpdate(ctx, dbsqlc.AIProviderUpdateParams{
		ID: old.row.ID, Name: next.Name, DisplayName: next.DisplayName, Enabled: enabled, Deleted: deleted,
		BaseUrl: next.BaseURL, Settings: settings, Credentials: creds, CredentialsKeyDigest: digest, Now: s.clock(),
	})
	if isUniqueViolation(err) {
		return record{}, nameTaken(next.Name)
	}
	if err != nil {
		return record{}, fmt.Errorf("update provider %q: %w", old.row.Name, err)
	}
	rec := record{row: row, settings: next.Settings, creds: next.Credentials, keys: old.keys}
	if !sameKeys {
		if rec.keys, err = s.writeKeys(ctx, tx, actor, row, old.keys, slots); err != nil {
			return record{}, err
		}
	}
	err = s.audit.Record(ctx, tx, audit.Entry{
		Actor: actor, Action: action, ResourceType: "ai_provider", ResourceID: row.ID.String(), ResourceName: row.Name,
		Diff: audit.Changes(auditFields(old), auditFields(rec), "credentials"),
	})
	if err != nil {
		return record{}, err
	}
	return rec, s.publish(ctx, tx, row, action)
}

// auditFields are the fields of a provider audit diffs track. Credentials
// are compared in plaintext and always masked; keys appear as their ids in
// order (each added or removed key gets its own entry, masked).
func auditFields(r record) map[string]any {
	m := map[string]any{
		"name": r.row.Name, "type": string(r.row.Type), "display_name": r.row.DisplayName,
		"enabled": r.row.Enabled, "deleted": r.row.Deleted, "base_url": r.row.BaseUrl,
	}
	if r.row.Settings != nil {
		var st map[string]any
		if json.Unmarshal(r.row.Settings, &st) == nil {
			m["settings"] = st
		}
	}
	if len(r.creds) > 0 {
		m["credentials"] = r.creds
	}
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.row.ID.String()
	}
	m["api_keys"] = ids
	return m
}

func jsonEqual(a, b any) bool {
	x, errX := json.Marshal(a)
	y, errY := json.Marshal(b)
	return errX == nil && errY == nil && string(x) == string(y)
}
