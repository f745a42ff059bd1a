package policies

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/pubsub"
	"github.com/aigate/aigate/internal/users/emailaddr"
)

// Service is the groups and policies domain.
type Service struct {
	db    *database.DB
	audit *audit.Recorder
	now   func() time.Time
	// committed is called after every change commits; see OnCommit.
	committed func(context.Context)
}

// OnCommit makes every change call f once it has committed, before the
// change's method returns: the server reloads its replica's policy engine
// there, so a request made after the API answered is judged by the change
// (other replicas follow on ChangedChannel).
func (s *Service) OnCommit(f func(context.Context)) { s.committed = f }

// commitTx is database.Tx, then the OnCommit hook when it committed.
func commitTx[T any](ctx context.Context, s *Service, fn func(ctx context.Context, tx pgx.Tx) (T, error)) (T, error) {
	v, err := database.Tx(ctx, s.db, fn)
	if err == nil && s.committed != nil {
		s.committed(ctx)
	}
	return v, err
}

// NewService returns the service; now is the clock of created_at and
// updated_at.
func NewService(db *database.DB, rec *audit.Recorder, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, audit: rec, now: now}
}

// clock is now at the database's precision, so what a change returns
// equals what a later read returns.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Change is the payload sent on ChangedChannel. Listeners reload policies
// and memberships whole; it says what changed, for logs.
type Change struct {
	Resource string       `json:"resource"` // group or policy
	ID       uuid.UUID    `json:"id"`
	Name     string       `json:"name"`
	Action   audit.Action `json:"action"`
}

func publish(ctx context.Context, tx pgx.Tx, c Change) error {
	payload, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return pubsub.Publish(ctx, tx, ChangedChannel, string(payload))
}

// View is a policy as the API shows it: the scope's group by name and user
// by email, absent members as null, budgets also in dollars.
type View struct {
	ID          uuid.UUID `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Scope       Scope     `json:"scope"`
	Group       *string   `json:"group"`
	User        *string   `json:"user"`
	Token       *string   `json:"token"`
	PerMember   bool      `json:"per_member"`
	Providers   []string  `json:"providers"`
	Models      []string  `json:"models"`
	Kind        Kind      `json:"kind"`
	Period      *Period   `json:"period"`
	Limit       *int64    `json:"limit"`
	LimitUSD    *string   `json:"limit_usd,omitempty"`
	AllowModels []string  `json:"allow_models"`
	TimeZone    string    `json:"time_zone"`
	Enabled     bool      `json:"enabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// Policy is the policy the view shows, for Status and Matches.
	Policy Policy `json:"-"`
}

func nilUUID(u pgtype.UUID) uuid.UUID {
	if !u.Valid {
		return uuid.Nil
	}
	return uuid.UUID(u.Bytes)
}

func pgUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: id != uuid.Nil} }

func toPolicy(r dbsqlc.Policy) Policy {
	p := Policy{ID: r.ID, Name: r.Name, Description: r.Description, Scope: Scope(r.Scope),
		GroupID: nilUUID(r.GroupID), UserID: nilUUID(r.UserID), PerMember: r.PerMember,
		Providers: r.Providers, Models: r.Models, Kind: Kind(r.Kind), AllowModels: r.AllowModels,
		TimeZone: r.TimeZone, Enabled: r.Enabled, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.TokenID != nil {
		p.TokenID = *r.TokenID
	}
	if r.Period != nil {
		p.Period = Period(*r.Period)
	}
	if r.LimitValue != nil {
		p.Limit = *r.LimitValue
	}
	loc, err := loadLocation(r.TimeZone)
	if err != nil {
		// Every stored zone was loadable when it was validated, and the
		// zone data is compiled in; should one still vanish, one policy
		// counting in UTC beats every policy failing to load.
		loc = time.UTC
	}
	p.Location = loc
	return p
}

func view(p Policy, groupName, userEmail *string) View {
	v := View{ID: p.ID, Name: p.Name, Description: p.Description, Scope: p.Scope, Group: groupName, User: userEmail,
		PerMember: p.PerMember, Providers: p.Providers, Models: p.Models, Kind: p.Kind, AllowModels: p.AllowModels,
		TimeZone: p.TimeZone, Enabled: p.Enabled, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Policy: p}
	if p.TokenID != "" {
		v.Token = &p.TokenID
	}
	if p.Period != PeriodNone {
		v.Period = &p.Period
	}
	if p.Kind != KindModels {
		v.Limit = &p.Limit
	}
	if p.Kind == KindBudget {
		usd := FormatUSD(p.Limit)
		v.LimitUSD = &usd
	}
	return v
}

// viewOf looks up the names of r's group and user.
func viewOf(ctx context.Context, q *dbsqlc.Queries, r dbsqlc.Policy) (View, error) {
	p := toPolicy(r)
	var group, user *string
	if p.GroupID != uuid.Nil {
		g, err := q.GroupGetByID(ctx, p.GroupID)
		if err != nil {
			return View{}, fmt.Errorf("look up policy group: %w", err)
		}
		group = &g.Name
	}
	if p.UserID != uuid.Nil {
		u, err := q.UserGetByID(ctx, p.UserID)
		if err != nil {
			return View{}, fmt.Errorf("look up policy user: %w", err)
		}
		user = &u.Email
	}
	return view(p, group, user), nil
}

// auditFields are the fields of a policy that audit diffs track, in the
// API's terms.
func auditFields(v View) map[string]any {
	return map[string]any{"name": v.Name, "description": v.Description, "scope": string(v.Scope), "group": v.Group,
		"user": v.User, "token": v.Token, "per_member": v.PerMember, "providers": v.Providers, "models": v.Models,
		"kind": string(v.Kind), "period": v.Period, "limit": v.Limit, "allow_models": v.AllowModels,
		"time_zone": v.TimeZone, "enabled": v.Enabled}
}

func isPgError(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

func lookupPolicy(ctx context.Context, q *dbsqlc.Queries, ref string, forUpdate bool) (dbsqlc.Policy, error) {
	var (
		row dbsqlc.Policy
		err error
	)
	if id, perr := uuid.Parse(ref); perr == nil {
		row, err = q.PolicyGetByID(ctx, id)
	} else {
		row, err = q.PolicyGetByName(ctx, ref)
	}
	if err == nil && forUpdate {
		row, err = q.PolicyGetByIDForUpdate(ctx, row.ID)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return dbsqlc.Policy{}, apperr.NotFound("No policy %q.", ref)
	}
	if err != nil {
		return dbsqlc.Policy{}, fmt.Errorf("look up policy: %w", err)
	}
	return row, nil
}

// resolve looks up the group, user and token sp names, in q, and says
// which do not exist in the field that named them.
func resolve(ctx context.Context, q *dbsqlc.Queries, sp *spec) (groupName, userEmail *string, err error) {
	var vs []apperr.Validation
	if sp.group != "" {
		g, err := lookupGroup(ctx, q, sp.group, false)
		if e, ok := apperr.As(err); ok && e.Kind == apperr.KindNotFound {
			vs = append(vs, apperr.Validation{Field: "group", Detail: fmt.Sprintf("no group %q: create it with `aigate groups create`, or name an existing one", sp.group)})
		} else if err != nil {
			return nil, nil, err
		} else {
			sp.p.GroupID, groupName = g.ID, &g.Name
		}
	}
	if sp.user != "" {
		var (
			u   dbsqlc.User
			err error
		)
		if id, perr := uuid.Parse(sp.user); perr == nil {
			u, err = q.UserGetByID(ctx, id)
		} else {
			u, err = q.UserGetByEmail(ctx, emailaddr.Normalize(sp.user))
		}
		if errors.Is(err, pgx.ErrNoRows) {
			vs = append(vs, apperr.Validation{Field: "user", Detail: fmt.Sprintf("no user %q: give an existing user's email or id", sp.user)})
		} else if err != nil {
			return nil, nil, fmt.Errorf("look up user: %w", err)
		} else {
			sp.p.UserID, userEmail = u.ID, &u.Email
		}
	}
	if sp.token != "" {
		_, err := q.APITokenGet(ctx, sp.token)
		if errors.Is(err, pgx.ErrNoRows) {
			vs = append(vs, apperr.Validation{Field: "token", Detail: fmt.Sprintf("no API token %q: give a token's id, as `aigate tokens list` shows it", sp.token)})
		} else if err != nil {
			return nil, nil, fmt.Errorf("look up token: %w", err)
		} else {
			sp.p.TokenID = sp.token
		}
	}
	return groupName, userEmail, apperr.Invalid(vs...)
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optPeriod(p Period) *string {
	if p == PeriodNone {
		return nil
	}
	s := string(p)
	return &s
}

func optLimit(p Policy) *int64 {
	if p.Kind == KindModels {
		return nil
	}
	return &p.Limit
}

// Create adds a policy.
func (s *Service) Create(ctx context.Context, actor audit.Actor, in Input) (View, error) {
	sp, err := draft{in}.validate()
	if err != nil {
		return View{}, err
	}
	return commitTx(ctx, s, func(ctx context.Context, tx pgx.Tx) (View, error) {
		q := dbsqlc.New(tx)
		group, user, err := resolve(ctx, q, &sp)
		if err != nil {
			return View{}, err
		}
		id, err := uuid.NewRandom()
		if err != nil {
			return View{}, err
		}
		p := sp.p
		row, err := q.PolicyInsert(ctx, dbsqlc.PolicyInsertParams{
			ID: id, Name: p.Name, Description: p.Description, Scope: string(p.Scope), GroupID: pgUUID(p.GroupID),
			UserID: pgUUID(p.UserID), TokenID: optString(p.TokenID), PerMember: p.PerMember, Providers: p.Providers,
			Models: p.Models, Kind: string(p.Kind), Period: optPeriod(p.Period), LimitValue: optLimit(p),
			AllowModels: p.AllowModels, TimeZone: p.TimeZone, Enabled: p.Enabled, Now: s.clock(),
		})
		if err != nil {
			return View{}, policyWriteError(err, p.Name)
		}
		v := view(toPolicy(row), group, user)
		if err := s.audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: audit.ActionCreate, ResourceType: "policy",
			ResourceID: v.ID.String(), ResourceName: v.Name, Diff: audit.Changes(nil, auditFields(v))}); err != nil {
			return View{}, err
		}
		return v, publish(ctx, tx, Change{Resource: "policy", ID: v.ID, Name: v.Name, Action: audit.ActionCreate})
	})
}

func policyWriteError(err error, name string) error {
	switch {
	case isPgError(err, uniqueViolation):
		return apperr.Conflict("A policy named %q already exists: choose another name, or edit that one.", name)
	case isPgError(err, foreignKeyViolation):
		// The group, user or token was deleted after it was looked up.
		return apperr.Conflict("The group, user or token this policy names was deleted meanwhile; try again.")
	}
	return fmt.Errorf("write policy: %w", err)
}

// draftOf is the stored policy v as a draft, its references by id so that
// a rename in between cannot redirect them.
func draftOf(v View) draft {
	p := v.Policy
	d := draft{Input{Name: p.Name, Description: p.Description, Scope: p.Scope, Token: p.TokenID, PerMember: p.PerMember,
		Providers: p.Providers, Models: p.Models, Kind: p.Kind, Period: p.Period, AllowModels: p.AllowModels,
		TimeZone: p.TimeZone, Enabled: &p.Enabled}}
	if p.GroupID != uuid.Nil {
		d.Group = p.GroupID.String()
	}
	if p.UserID != uuid.Nil {
		d.User = p.UserID.String()
	}
	if p.Kind != KindModels {
		d.Limit = &p.Limit
	}
	return d
}

// Update applies patch to the policy ref (an id or a name).
func (s *Service) Update(ctx context.Context, actor audit.Actor, ref string, patch Patch) (View, error) {
	if patch.empty() {
		return View{}, apperr.Invalid(apperr.Validation{Field: "body", Detail: "give at least one field to change, such as limit_usd or enabled"})
	}
	return commitTx(ctx, s, func(ctx context.Context, tx pgx.Tx) (View, error) {
		q := dbsqlc.New(tx)
		row, err := lookupPolicy(ctx, q, ref, true)
		if err != nil {
			return View{}, err
		}
		old, err := viewOf(ctx, q, row)
		if err != nil {
			return View{}, err
		}
		d, err := patched(draftOf(old), patch)
		if err != nil {
			return View{}, err
		}
		sp, err := d.validate()
		if err != nil {
			return View{}, err
		}
		group, user, err := resolve(ctx, q, &sp)
		if err != nil {
			return View{}, err
		}
		p := sp.p
		row, err = q.PolicyUpdate(ctx, dbsqlc.PolicyUpdateParams{
			ID: old.ID, Name: p.Name, Description: p.Description, GroupID: pgUUID(p.GroupID), UserID: pgUUID(p.UserID),
			TokenID: optString(p.TokenID), PerMember: p.PerMember, Providers: p.Providers, Models: p.Models,
			Period: optPeriod(p.Period), LimitValue: optLimit(p), AllowModels: p.AllowModels, TimeZone: p.TimeZone,
			Enabled: p.Enabled, Now: s.clock(),
		})
		if err != nil {
			return View{}, policyWriteError(err, p.Name)
		}
		v := view(toPolicy(row), group, user)
		if err := s.audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: audit.ActionWrite, ResourceType: "policy",
			ResourceID: v.ID.String(), ResourceName: v.Name, Diff: audit.Changes(auditFields(old), auditFields(v))}); err != nil {
			return View{}, err
		}
		return v, publish(ctx, tx, Change{Resource: "policy", ID: v.ID, Name: v.Name, Action: audit.ActionWrite})
	})
}

// Delete removes the policy ref, and with it its windows and leases.
func (s *Service) Delete(ctx context.Context, actor audit.Actor, ref string) error {
	_, err := commitTx(ctx, s, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		q := dbsqlc.New(tx)
		row, err := lookupPolicy(ctx, q, ref, true)
		if err != nil {
			return struct{}{}, err
		}
		old, err := viewOf(ctx, q, row)
		if err != nil {
			return struct{}{}, err
		}
		if _, err := q.PolicyDelete(ctx, row.ID); err != nil {
			return struct{}{}, fmt.Errorf("delete policy: %w", err)
		}
		if err := s.audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: audit.ActionDelete, ResourceType: "policy",
			ResourceID: row.ID.String(), ResourceName: row.Name, Diff: audit.Changes(auditFields(old), nil)}); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, publish(ctx, tx, Change{Resource: "policy", ID: row.ID, Name: row.Name, Action: audit.ActionDelete})
	})
	return err
}

// Get returns the policy ref (an id or a name).
func (s *Service) Get(ctx context.Context, ref string) (View, error) {
	return database.SnapshotTx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (View, error) {
		q := dbsqlc.New(tx)
		row, err := lookupPolicy(ctx, q, ref, false)
		if err != nil {
			return View{}, err
		}
		return viewOf(ctx, q, row)
	})
}

// List returns every policy, by name.
func (s *Service) List(ctx context.Context) ([]View, error) {
	rows, err := dbsqlc.New(s.db.Pool).PolicyList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	out := make([]View, len(rows))
	for i, r := range rows {
		out[i] = view(toPolicy(dbsqlc.Policy{ID: r.ID, Name: r.Name, Description: r.Description, Scope: r.Scope,
			GroupID: r.GroupID, UserID: r.UserID, TokenID: r.TokenID, PerMember: r.PerMember, Providers: r.Providers,
			Models: r.Models, Kind: r.Kind, Period: r.Period, LimitValue: r.LimitValue, AllowModels: r.AllowModels,
			TimeZone: r.TimeZone, Enabled: r.Enabled, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}), r.GroupName, r.UserEmail)
	}
	return out, nil
}

// ListFor returns the enabled policies that apply to the user userID: to
// everyone, to a group of theirs, to them, or to one of their tokens.
func (s *Service) ListFor(ctx context.Context, userID uuid.UUID) ([]View, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	tokens, groups, err := s.subjectOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := []View{}
	for _, v := range all {
		if v.Enabled && v.Policy.AppliesTo(userID, tokens, groups) {
			out = append(out, v)
		}
	}
	return out, nil
}

// GetFor returns the policy ref if it applies to the user userID, and the
// not-found answer of an unknown policy otherwise: a member learns nothing
// of the policies of others.
func (s *Service) GetFor(ctx context.Context, ref string, userID uuid.UUID) (View, error) {
	v, err := s.Get(ctx, ref)
	if err != nil {
		return View{}, err
	}
	tokens, groups, err := s.subjectOf(ctx, userID)
	if err != nil {
		return View{}, err
	}
	if !v.Enabled || !v.Policy.AppliesTo(userID, tokens, groups) {
		return View{}, apperr.NotFound("No policy %q.", ref)
	}
	return v, nil
}

// subjectOf returns the ids of userID's tokens and groups.
func (s *Service) subjectOf(ctx context.Context, userID uuid.UUID) ([]string, []uuid.UUID, error) {
	q := dbsqlc.New(s.db.Pool)
	ts, err := q.APITokenListByUser(ctx, userID)
	if err != nil {
		return nil, nil, fmt.Errorf("list tokens: %w", err)
	}
	tokens := make([]string, len(ts))
	for i, t := range ts {
		tokens[i] = t.ID
	}
	groups, err := q.GroupMembershipsOfUser(ctx, userID)
	if err != nil {
		return nil, nil, fmt.Errorf("list memberships: %w", err)
	}
	return tokens, groups, nil
}

// LoadEnabled returns every enabled policy, by name, for the enforcement
// engine.
func LoadEnabled(ctx context.Context, db *database.DB) ([]Policy, error) {
	rows, err := dbsqlc.New(db.Pool).PolicyListEnabled(ctx)
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	out := make([]Policy, len(rows))
	for i, r := range rows {
		out[i] = toPolicy(r)
	}
	return out, nil
}

// LoadMemberships returns every user's groups (user id -> group ids), for
// the enforcement engine.
func LoadMemberships(ctx context.Context, db *database.DB) (map[uuid.UUID][]uuid.UUID, error) {
	rows, err := dbsqlc.New(db.Pool).GroupMembershipsAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("load memberships: %w", err)
	}
	out := map[uuid.UUID][]uuid.UUID{}
	for _, r := range rows {
		out[r.UserID] = append(out[r.UserID], r.GroupID)
	}
	return out, nil
}
