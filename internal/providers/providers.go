// Package providers owns aigate's AI providers: their validation, canonical
// form and hash, the encryption of their keys and Bedrock credentials, and
// the create, update, delete and restore operations. Every change commits,
// in one transaction, the rows, the audit entries and a notification on
// ChangesChannel. HTTP handlers, the CLI and the environment seed are thin
// layers over this package.
package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	ID     uuid.UUID `json:"id"`
	Name   string    `json:"name"`
	Action string    `json:"action"`
}

// Provider is a provider as callers see it: keys masked, credentials never.
type Provider struct {
	ID          uuid.UUID     `json:"id"`
	Name        string        `json:"name"`
	Type        Type          `json:"type"`
	DisplayName string        `json:"display_name"`
	Enabled     bool          `json:"enabled"`
	Deleted     bool          `json:"deleted"`
	BaseURL     string        `json:"base_url"`
	Settings    *SettingsView `json:"settings"`
	APIKeys     []Key         `json:"api_keys"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	Warnings    []Warning     `json:"warnings,omitempty"` // see BaseURLWarnings
}

// SettingsView is Settings plus whether credentials are stored; the
// credentials themselves are write-only.
type SettingsView struct {
	Settings
	HasCredentials bool `json:"has_credentials"`
}

// Key is a stored API key, masked.
type Key struct {
	ID        uuid.UUID `json:"id"`
	Masked    string    `json:"masked"`
	CreatedAt time.Time `json:"created_at"`
}

// Service is the providers domain.
type Service struct {
	db      *database.DB
	keyring *encryption.Keyring
	audit   *audit.Recorder
	now     func() time.Time
}

// NewService returns the providers service; keyring encrypts and decrypts
// keys and credentials.
func NewService(db *database.DB, keyring *encryption.Keyring, rec *audit.Recorder, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, keyring: keyring, audit: rec, now: now}
}

// clock is now at the database's precision, so what a change returns
// equals what a later read returns.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// storedKey is a key row with its plaintext.
type storedKey struct {
	row   dbsqlc.AiProviderKey
	plain string
}

// record is a provider row with its secrets decrypted.
type record struct {
	row   dbsqlc.AiProvider
	creds []Credential
	keys  []storedKey
}

func (r record) settings() (*Settings, error) {
	if r.row.Settings == nil {
		return nil, nil
	}
	var st Settings
	if err := json.Unmarshal(r.row.Settings, &st); err != nil {
		return nil, fmt.Errorf("decode settings of provider %q: %w", r.row.Name, err)
	}
	return &st, nil
}

// spec is the record's state as a Spec.
func (r record) spec() (Spec, error) {
	st, err := r.settings()
	if err != nil {
		return Spec{}, err
	}
	keys := make([]string, len(r.keys))
	for i, k := range r.keys {
		keys[i] = k.plain
	}
	return Spec{Name: r.row.Name, Type: Type(r.row.Type), DisplayName: r.row.DisplayName, Enabled: r.row.Enabled,
		BaseURL: r.row.BaseUrl, Settings: st, Credentials: r.creds, Keys: keys}, nil
}

func (r record) view() (Provider, error) {
	st, err := r.settings()
	if err != nil {
		return Provider{}, err
	}
	p := Provider{ID: r.row.ID, Name: r.row.Name, Type: Type(r.row.Type), DisplayName: r.row.DisplayName,
		Enabled: r.row.Enabled, Deleted: r.row.Deleted, BaseURL: r.row.BaseUrl,
		APIKeys: make([]Key, len(r.keys)), CreatedAt: r.row.CreatedAt.UTC(), UpdatedAt: r.row.UpdatedAt.UTC(),
		Warnings: BaseURLWarnings(Type(r.row.Type), r.row.BaseUrl)}
	if st != nil {
		p.Settings = &SettingsView{Settings: *st, HasCredentials: r.row.Credentials != nil}
	}
	for i, k := range r.keys {
		p.APIKeys[i] = Key{ID: k.row.ID, Masked: Mask(k.plain), CreatedAt: k.row.CreatedAt.UTC()}
	}
	return p, nil
}

// Associated data binds each ciphertext to the row holding it, so a
// ciphertext copied to another row does not decrypt.
func keyAD(id uuid.UUID) string         { return "ai_provider_keys:" + id.String() }
func credentialsAD(id uuid.UUID) string { return "ai_providers:" + id.String() + ":credentials" }

// load decrypts the keys (and, with creds, the credentials) of rows.
func (s *Service) load(ctx context.Context, q *dbsqlc.Queries, rows []dbsqlc.AiProvider, creds bool) ([]record, error) {
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	keyRows, err := q.AIProviderKeysList(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list provider keys: %w", err)
	}
	byProvider := make(map[uuid.UUID][]storedKey, len(rows))
	names := make(map[uuid.UUID]string, len(rows))
	for _, r := range rows {
		names[r.ID] = r.Name
	}
	for _, k := range keyRows {
		plain, err := s.keyring.DecryptString(k.ApiKey, keyAD(k.ID))
		if err != nil {
			return nil, fmt.Errorf("decrypt key %s of provider %q: %w", k.ID, names[k.ProviderID], err)
		}
		byProvider[k.ProviderID] = append(byProvider[k.ProviderID], storedKey{row: k, plain: plain})
	}
	out := make([]record, len(rows))
	for i, r := range rows {
		out[i] = record{row: r, keys: byProvider[r.ID]}
		if creds && r.Credentials != nil {
			raw, err := s.keyring.Decrypt(r.Credentials, []byte(credentialsAD(r.ID)))
			if err != nil {
				return nil, fmt.Errorf("decrypt credentials of provider %q: %w", r.Name, err)
			}
			if err := json.Unmarshal(raw, &out[i].creds); err != nil {
				return nil, fmt.Errorf("decode credentials of provider %q: %w", r.Name, err)
			}
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

// List returns live providers (enabled and disabled) in name order, and
// deleted ones too when includeDeleted is set.
func (s *Service) List(ctx context.Context, includeDeleted bool) ([]Provider, error) {
	q := dbsqlc.New(s.db.Pool)
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
		if out[i], err = r.view(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Get returns a live provider by id or name.
func (s *Service) Get(ctx context.Context, ref string) (Provider, error) {
	q := dbsqlc.New(s.db.Pool)
	row, err := lookup(ctx, q, ref, false, false)
	if err != nil {
		return Provider{}, err
	}
	recs, err := s.load(ctx, q, []dbsqlc.AiProvider{row}, false)
	if err != nil {
		return Provider{}, err
	}
	return recs[0].view()
}

// KeyInput is one entry of an api_keys list: {"id": ...} keeps a stored key
// (in a PATCH), {"api_key": ...} adds one.
type KeyInput struct {
	ID     *string `json:"id,omitempty"`
	APIKey *string `json:"api_key,omitempty"`
}

// SettingsInput is the settings object of a create or update request. In an
// update, an absent field keeps its value; "" resets a model to its default
// and clears the region or a credential.
type SettingsInput struct {
	Region          *string `json:"region,omitempty"`
	Model           *string `json:"model,omitempty"`
	SmallFastModel  *string `json:"small_fast_model,omitempty"`
	AccessKey       *string `json:"access_key,omitempty"`
	AccessKeySecret *string `json:"access_key_secret,omitempty"`
}

// Input creates a provider.
type Input struct {
	Name        string         `json:"name"`
	Type        string         `json:"type"`
	DisplayName string         `json:"display_name"`
	Enabled     *bool          `json:"enabled,omitempty"` // default true
	BaseURL     string         `json:"base_url"`
	Settings    *SettingsInput `json:"settings,omitempty"`
	APIKeys     []KeyInput     `json:"api_keys,omitempty"`
}

// Patch changes a provider; absent (nil) fields stay as they are. APIKeys,
// when present, is the complete new key set in order.
type Patch struct {
	Name        *string        `json:"name,omitempty"`
	Type        *string        `json:"type,omitempty"` // only to say it again: type is immutable
	DisplayName *string        `json:"display_name,omitempty"`
	Enabled     *bool          `json:"enabled,omitempty"`
	BaseURL     *string        `json:"base_url,omitempty"`
	Settings    *SettingsInput `json:"settings,omitempty"`
	APIKeys     *[]KeyInput    `json:"api_keys,omitempty"`
}

func (p Patch) empty() bool {
	return p.Name == nil && p.Type == nil && p.DisplayName == nil && p.Enabled == nil && p.BaseURL == nil &&
		p.Settings == nil && p.APIKeys == nil
}

// applySettings merges si into st and creds.
func applySettings(st *Settings, creds []Credential, si *SettingsInput) (*Settings, []Credential, []apperr.Validation) {
	next := Settings{}
	if st != nil {
		next = *st
	}
	if si.Region != nil {
		next.Region = *si.Region
	}
	if si.Model != nil {
		next.Model = *si.Model
	}
	if si.SmallFastModel != nil {
		next.SmallFastModel = *si.SmallFastModel
	}
	if si.AccessKey == nil && si.AccessKeySecret == nil {
		return &next, creds, nil
	}
	if len(creds) > 1 && (si.AccessKey == nil || si.AccessKeySecret == nil) {
		return nil, nil, []apperr.Validation{{Field: "settings.access_key", Detail: fmt.Sprintf(
			"this provider holds %d credential pairs; give access_key and access_key_secret together to replace them", len(creds))}}
	}
	var pair Credential
	if len(creds) == 1 {
		pair = creds[0]
	}
	if si.AccessKey != nil {
		pair.AccessKey = *si.AccessKey
	}
	if si.AccessKeySecret != nil {
		pair.AccessKeySecret = *si.AccessKeySecret
	}
	if pair == (Credential{}) {
		return &next, nil, nil
	}
	return &next, []Credential{pair}, nil
}

// newKeys reads a create request's api_keys, which may only add keys.
func newKeys(in []KeyInput) ([]string, []apperr.Validation) {
	var vs []apperr.Validation
	keys := make([]string, 0, len(in))
	for i, k := range in {
		if k.ID != nil || k.APIKey == nil {
			vs = append(vs, apperr.Validation{Field: fmt.Sprintf("api_keys[%d]", i), Detail: `must be {"api_key": "..."}; a new provider has no keys to keep`})
			continue
		}
		keys = append(keys, *k.APIKey)
	}
	return keys, vs
}

// Spec turns in into a validated Spec.
func (in Input) Spec() (Spec, error) {
	spec := Spec{Name: in.Name, Type: Type(in.Type), DisplayName: in.DisplayName, Enabled: in.Enabled == nil || *in.Enabled,
		BaseURL: in.BaseURL}
	keys, vs := newKeys(in.APIKeys)
	spec.Keys = keys
	if in.Settings != nil {
		st, creds, svs := applySettings(nil, nil, in.Settings)
		vs = append(vs, svs...)
		spec.Settings, spec.Credentials = st, creds
	}
	norm, err := spec.Normalize()
	if err != nil {
		e, _ := apperr.As(err)
		vs = append(vs, e.Validations...)
	}
	if err := apperr.Invalid(vs...); err != nil {
		return Spec{}, err
	}
	return norm, nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func nameTaken(name string) error {
	return apperr.Conflict("A provider named %q already exists (names of deleted providers stay reserved: restore it, or choose another name).", name)
}

// Create adds a provider.
func (s *Service) Create(ctx context.Context, actor audit.Actor, in Input) (Provider, error) {
	spec, err := in.Spec()
	if err != nil {
		return Provider{}, err
	}
	rec, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (record, error) {
		rec, err := s.insert(ctx, tx, actor, spec, 201)
		if err != nil {
			return record{}, err
		}
		return rec, s.publish(ctx, tx, rec.row, "create")
	})
	if err != nil {
		return Provider{}, err
	}
	return rec.view()
}

// Insert writes a provider made from a normalized spec, with its keys and
// audit entries, in tx. It does not notify: the environment seed runs
// before any gateway reads, and every gateway loads the full set at start.
func (s *Service) Insert(ctx context.Context, tx pgx.Tx, actor audit.Actor, spec Spec) error {
	_, err := s.insert(ctx, tx, actor, spec, 0)
	return err
}

func (s *Service) insert(ctx context.Context, tx pgx.Tx, actor audit.Actor, spec Spec, status int) (record, error) {
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
	rec := record{row: row, creds: spec.Credentials}
	slots := make([]keySlot, len(spec.Keys))
	for i, k := range spec.Keys {
		slots[i] = keySlot{plain: k}
	}
	if rec.keys, err = s.writeKeys(ctx, tx, actor, row, nil, slots, status); err != nil {
		return record{}, err
	}
	err = s.audit.Record(ctx, tx, audit.Entry{
		Actor: actor, Action: "create", ResourceType: "ai_provider", ResourceID: id.String(), ResourceName: row.Name,
		Diff: audit.Changes(nil, auditFields(rec), "credentials"), StatusCode: status,
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

// keySlot is one position of a key set being written: a kept key (id set)
// or a new one.
type keySlot struct {
	id    uuid.UUID // uuid.Nil for a new key
	plain string
}

// writeKeys makes rows hold exactly slots, in order: old keys not in slots
// are deleted, kept keys renumbered, new keys encrypted and inserted. Each
// added and removed key is audited, masked.
func (s *Service) writeKeys(ctx context.Context, tx pgx.Tx, actor audit.Actor, row dbsqlc.AiProvider, old []storedKey, slots []keySlot, status int) ([]storedKey, error) {
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
		if err := s.auditKey(ctx, tx, actor, "delete", row, k.row.ID, int(k.row.Position), k.plain, status); err != nil {
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
		if err := s.auditKey(ctx, tx, actor, "create", row, id, i, sl.plain, status); err != nil {
			return nil, err
		}
		out[i] = storedKey{row: k, plain: sl.plain}
	}
	return out, nil
}

func (s *Service) auditKey(ctx context.Context, tx pgx.Tx, actor audit.Actor, action string, row dbsqlc.AiProvider, id uuid.UUID, position int, plain string, status int) error {
	fields := map[string]any{"provider": row.Name, "position": position, "api_key": Mask(plain)}
	diff := audit.Changes(nil, fields)
	if action == "delete" {
		diff = audit.Changes(fields, nil)
	}
	return s.audit.Record(ctx, tx, audit.Entry{
		Actor: actor, Action: action, ResourceType: "ai_provider_key", ResourceID: id.String(),
		ResourceName: row.Name, Diff: diff, StatusCode: status,
	})
}

func (s *Service) publish(ctx context.Context, tx pgx.Tx, row dbsqlc.AiProvider, action string) error {
	payload, err := json.Marshal(Change{ID: row.ID, Name: row.Name, Action: action})
	if err != nil {
		return err
	}
	return pubsub.Publish(ctx, tx, ChangesChannel, string(payload))
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

// Update applies p to the live provider ref.
func (s *Service) Update(ctx context.Context, actor audit.Actor, ref string, p Patch) (Provider, error) {
	if p.empty() {
		return Provider{}, apperr.Invalid(apperr.Validation{Field: "body", Detail: "give at least one of name, display_name, enabled, base_url, settings, api_keys"})
	}
	rec, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (record, error) {
		q := dbsqlc.New(tx)
		row, err := lookup(ctx, q, ref, true, false)
		if err != nil {
			return record{}, err
		}
		recs, err := s.load(ctx, q, []dbsqlc.AiProvider{row}, true)
		if err != nil {
			return record{}, err
		}
		old := recs[0]
		next, slots, err := old.patched(p)
		if err != nil {
			return record{}, err
		}
		return s.write(ctx, tx, actor, old, next, slots, "write", 200)
	})
	if err != nil {
		return Provider{}, err
	}
	return rec.view()
}

// patched returns the state p asks for, validated, and the key set.
func (r record) patched(p Patch) (Spec, []keySlot, error) {
	cur, err := r.spec()
	if err != nil {
		return Spec{}, nil, err
	}
	var vs []apperr.Validation
	next := cur
	if p.Type != nil && *p.Type != string(cur.Type) {
		vs = append(vs, apperr.Validation{Field: "type", Detail: fmt.Sprintf("is %s and cannot change; create a new provider of the other type instead", cur.Type)})
	}
	if p.Name != nil {
		next.Name = *p.Name
	}
	if p.DisplayName != nil {
		next.DisplayName = *p.DisplayName
	}
	if p.Enabled != nil {
		next.Enabled = *p.Enabled
	}
	if p.BaseURL != nil {
		next.BaseURL = *p.BaseURL
	}
	if p.Settings != nil {
		if cur.Type != Bedrock {
			vs = append(vs, apperr.Validation{Field: "settings", Detail: "Bedrock settings apply only to bedrock providers; the type is immutable, so create a bedrock provider instead"})
		} else {
			st, creds, svs := applySettings(cur.Settings, cur.Credentials, p.Settings)
			vs = append(vs, svs...)
			if svs == nil {
				// A model set to "" is back to its default: Normalize fills it in.
				next.Settings, next.Credentials = st, creds
			}
		}
	}
	slots := make([]keySlot, len(r.keys))
	for i, k := range r.keys {
		slots[i] = keySlot{id: k.row.ID, plain: k.plain}
	}
	if p.APIKeys != nil {
		var kvs []apperr.Validation
		slots, kvs = keySlots(*p.APIKeys, r.keys)
		vs = append(vs, kvs...)
	}
	next.Keys = make([]string, len(slots))
	for i, sl := range slots {
		next.Keys[i] = sl.plain
	}
	if len(vs) == 0 {
		norm, err := next.Normalize()
		if err != nil {
			return Spec{}, nil, err
		}
		next = norm
	}
	if err := apperr.Invalid(vs...); err != nil {
		return Spec{}, nil, err
	}
	return next, slots, nil
}

// write makes the stored provider old hold next (and, for delete and
// restore, flips deleted), audits and notifies. A change to nothing writes,
// audits and notifies nothing.
func (s *Service) write(ctx context.Context, tx pgx.Tx, actor audit.Actor, old record, next Spec, slots []keySlot, action string, status int) (record, error) {
	cur, err := old.spec()
	if err != nil {
		return record{}, err
	}
	deleted, enabled := old.row.Deleted, next.Enabled
	switch action {
	case "delete":
		deleted, enabled = true, false
	case "restore":
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
	rec := record{row: row, creds: next.Credentials, keys: old.keys}
	if !sameKeys {
		if rec.keys, err = s.writeKeys(ctx, tx, actor, row, old.keys, slots, status); err != nil {
			return record{}, err
		}
	}
	err = s.audit.Record(ctx, tx, audit.Entry{
		Actor: actor, Action: action, ResourceType: "ai_provider", ResourceID: row.ID.String(), ResourceName: row.Name,
		Diff: audit.Changes(auditFields(old), auditFields(rec), "credentials"), StatusCode: status,
	})
	if err != nil {
		return record{}, err
	}
	return rec, s.publish(ctx, tx, row, action)
}

// Delete soft-deletes the live provider ref: it stops serving, its name
// stays reserved and the environment seed will not bring it back.
func (s *Service) Delete(ctx context.Context, actor audit.Actor, ref string) error {
	_, err := s.flip(ctx, actor, ref, "delete", 204)
	return err
}

// Restore undeletes the provider ref and enables it.
func (s *Service) Restore(ctx context.Context, actor audit.Actor, ref string) (Provider, error) {
	rec, err := s.flip(ctx, actor, ref, "restore", 200)
	if err != nil {
		return Provider{}, err
	}
	return rec.view()
}

func (s *Service) flip(ctx context.Context, actor audit.Actor, ref, action string, status int) (record, error) {
	return database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (record, error) {
		q := dbsqlc.New(tx)
		row, err := lookup(ctx, q, ref, true, action == "restore")
		if err != nil {
			return record{}, err
		}
		if action == "restore" && !row.Deleted {
			return record{}, apperr.Conflict("Provider %q is not deleted.", row.Name)
		}
		recs, err := s.load(ctx, q, []dbsqlc.AiProvider{row}, true)
		if err != nil {
			return record{}, err
		}
		cur, err := recs[0].spec()
		if err != nil {
			return record{}, err
		}
		slots := make([]keySlot, len(recs[0].keys))
		for i, k := range recs[0].keys {
			slots[i] = keySlot{id: k.row.ID, plain: k.plain}
		}
		return s.write(ctx, tx, actor, recs[0], cur, slots, action, status)
	})
}

func jsonEqual(a, b any) bool {
	x, errX := json.Marshal(a)
	y, errY := json.Marshal(b)
	return errX == nil && errY == nil && string(x) == string(y)
}

// Stored is a provider row, deleted or not, with its secrets decrypted: what
// the environment seed compares the environment with.
type Stored struct {
	ID      uuid.UUID
	Deleted bool
	Spec    Spec
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
		spec, err := r.spec()
		if err != nil {
			return nil, err
		}
		out[r.row.Name] = Stored{ID: r.row.ID, Deleted: r.row.Deleted, Spec: spec}
	}
	return out, nil
}
