package policies

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/users/emailaddr"
)

// Group is a group as the API shows it. Members is set by GetGroup and the
// membership changes, not by ListGroups.
type Group struct {
	ID          uuid.UUID `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	MemberCount int       `json:"member_count"`
	Members     []Member  `json:"members,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Member is a user in a group.
type Member struct {
	ID      uuid.UUID `json:"id"`
	Email   string    `json:"email"`
	Name    string    `json:"name"`
	AddedAt time.Time `json:"added_at"`
}

// GroupInput creates a group.
type GroupInput struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
}

// GroupPatch changes a group; nil fields stay as they are.
type GroupPatch struct {
	Name        *string `json:"name"`
	DisplayName *string `json:"display_name"`
}

func validateGroup(name, displayName string) error {
	var vs []apperr.Validation
	if !validName(name) {
		vs = append(vs, apperr.Validation{Field: "name", Detail: nameRule + ", and not an id"})
	}
	if len(displayName) > maxDisplayName || strings.TrimSpace(displayName) != displayName {
		vs = append(vs, apperr.Validation{Field: "display_name", Detail: fmt.Sprintf("must be at most %d bytes, without surrounding spaces", maxDisplayName)})
	}
	return apperr.Invalid(vs...)
}

func lookupGroup(ctx context.Context, q *dbsqlc.Queries, ref string, forUpdate bool) (dbsqlc.Group, error) {
	var (
		g   dbsqlc.Group
		err error
	)
	if id, perr := uuid.Parse(ref); perr == nil {
		g, err = q.GroupGetByID(ctx, id)
	} else {
		g, err = q.GroupGetByName(ctx, ref)
	}
	if err == nil && forUpdate {
		g, err = q.GroupGetByIDForUpdate(ctx, g.ID)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return dbsqlc.Group{}, apperr.NotFound("No group %q.", ref)
	}
	if err != nil {
		return dbsqlc.Group{}, fmt.Errorf("look up group: %w", err)
	}
	return g, nil
}

func groupFields(g dbsqlc.Group) map[string]any {
	return map[string]any{"name": g.Name, "display_name": g.DisplayName}
}

// withMembers is g with its members, read in q.
func withMembers(ctx context.Context, q *dbsqlc.Queries, g dbsqlc.Group) (Group, error) {
	rows, err := q.GroupMemberList(ctx, g.ID)
	if err != nil {
		return Group{}, fmt.Errorf("list group members: %w", err)
	}
	out := Group{ID: g.ID, Name: g.Name, DisplayName: g.DisplayName, MemberCount: len(rows), Members: []Member{},
		CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
	for _, r := range rows {
		out.Members = append(out.Members, Member{ID: r.ID, Email: r.Email, Name: r.Name, AddedAt: r.AddedAt})
	}
	return out, nil
}

func groupWriteError(err error, name string) error {
	if isPgError(err, uniqueViolation) {
		return apperr.Conflict("A group named %q already exists: choose another name.", name)
	}
	return fmt.Errorf("write group: %w", err)
}

func (s *Service) recordGroup(ctx context.Context, tx pgx.Tx, actor audit.Actor, action audit.Action, g dbsqlc.Group, diff audit.Diff) error {
	if err := s.audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, ResourceType: "group",
		ResourceID: g.ID.String(), ResourceName: g.Name, Diff: diff}); err != nil {
		return err
	}
	return publish(ctx, tx, Change{Resource: "group", ID: g.ID, Name: g.Name, Action: action})
}

// CreateGroup adds a group with no members.
func (s *Service) CreateGroup(ctx context.Context, actor audit.Actor, in GroupInput) (Group, error) {
	if err := validateGroup(in.Name, in.DisplayName); err != nil {
		return Group{}, err
	}
	return commitTx(ctx, s, func(ctx context.Context, tx pgx.Tx) (Group, error) {
		q := dbsqlc.New(tx)
		id, err := uuid.NewRandom()
		if err != nil {
			return Group{}, err
		}
		g, err := q.GroupInsert(ctx, dbsqlc.GroupInsertParams{ID: id, Name: in.Name, DisplayName: in.DisplayName, Now: s.clock()})
		if err != nil {
			return Group{}, groupWriteError(err, in.Name)
		}
		if err := s.recordGroup(ctx, tx, actor, audit.ActionCreate, g, audit.Changes(nil, groupFields(g))); err != nil {
			return Group{}, err
		}
		return withMembers(ctx, q, g)
	})
}

// UpdateGroup renames the group ref or changes its display name.
func (s *Service) UpdateGroup(ctx context.Context, actor audit.Actor, ref string, p GroupPatch) (Group, error) {
	if p.Name == nil && p.DisplayName == nil {
		return Group{}, apperr.Invalid(apperr.Validation{Field: "body", Detail: "give at least one of name, display_name"})
	}
	return commitTx(ctx, s, func(ctx context.Context, tx pgx.Tx) (Group, error) {
		q := dbsqlc.New(tx)
		old, err := lookupGroup(ctx, q, ref, true)
		if err != nil {
			return Group{}, err
		}
		name, display := old.Name, old.DisplayName
		if p.Name != nil {
			name = *p.Name
		}
		if p.DisplayName != nil {
			display = *p.DisplayName
		}
		if err := validateGroup(name, display); err != nil {
			return Group{}, err
		}
		g, err := q.GroupUpdate(ctx, dbsqlc.GroupUpdateParams{ID: old.ID, Name: name, DisplayName: display, Now: s.clock()})
		if err != nil {
			return Group{}, groupWriteError(err, name)
		}
		if err := s.recordGroup(ctx, tx, actor, audit.ActionWrite, g, audit.Changes(groupFields(old), groupFields(g))); err != nil {
			return Group{}, err
		}
		return withMembers(ctx, q, g)
	})
}

// DeleteGroup removes the group ref and its memberships. A group that
// policies name is kept: deleting it would silently delete them too (the
// schema cascades), and a budget should not vanish as a side effect.
func (s *Service) DeleteGroup(ctx context.Context, actor audit.Actor, ref string) error {
	_, err := commitTx(ctx, s, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		q := dbsqlc.New(tx)
		g, err := lookupGroup(ctx, q, ref, true)
		if err != nil {
			return struct{}{}, err
		}
		names, err := q.PolicyNamesByGroup(ctx, pgUUID(g.ID))
		if err != nil {
			return struct{}{}, fmt.Errorf("list the group's policies: %w", err)
		}
		if len(names) > 0 {
			return struct{}{}, apperr.Conflict("Group %q is named by policies %s: delete them (aigate policies delete NAME) or move them to another group first.",
				g.Name, strings.Join(names, ", "))
		}
		members, err := withMembers(ctx, q, g)
		if err != nil {
			return struct{}{}, err
		}
		if _, err := q.GroupDelete(ctx, g.ID); err != nil {
			return struct{}{}, fmt.Errorf("delete group: %w", err)
		}
		old := groupFields(g)
		emails := make([]string, len(members.Members))
		for i, m := range members.Members {
			emails[i] = m.Email
		}
		old["members"] = emails
		return struct{}{}, s.recordGroup(ctx, tx, actor, audit.ActionDelete, g, audit.Changes(old, nil))
	})
	return err
}

// AddMember puts the user userRef (an email or id) in the group ref. Adding
// a member again changes nothing and records nothing.
func (s *Service) AddMember(ctx context.Context, actor audit.Actor, ref, userRef string) (Group, error) {
	return s.membership(ctx, actor, ref, userRef, true)
}

// RemoveMember takes the user userRef out of the group ref; a user who is
// not in it is a 404.
func (s *Service) RemoveMember(ctx context.Context, actor audit.Actor, ref, userRef string) (Group, error) {
	return s.membership(ctx, actor, ref, userRef, false)
}

func (s *Service) membership(ctx context.Context, actor audit.Actor, ref, userRef string, add bool) (Group, error) {
	return commitTx(ctx, s, func(ctx context.Context, tx pgx.Tx) (Group, error) {
		q := dbsqlc.New(tx)
		g, err := lookupGroup(ctx, q, ref, true)
		if err != nil {
			return Group{}, err
		}
		var u dbsqlc.User
		if id, perr := uuid.Parse(userRef); perr == nil {
			u, err = q.UserGetByID(ctx, id)
		} else {
			u, err = q.UserGetByEmail(ctx, emailaddr.Normalize(userRef))
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return Group{}, apperr.NotFound("No user %q.", userRef)
		}
		if err != nil {
			return Group{}, fmt.Errorf("look up user: %w", err)
		}
		var n int64
		change := audit.Change{}
		if add {
			n, err = q.GroupMemberAdd(ctx, dbsqlc.GroupMemberAddParams{GroupID: g.ID, UserID: u.ID, Now: s.clock()})
			change.New = u.Email
		} else {
			n, err = q.GroupMemberRemove(ctx, dbsqlc.GroupMemberRemoveParams{GroupID: g.ID, UserID: u.ID})
			change.Old = u.Email
		}
		if err != nil {
			return Group{}, fmt.Errorf("change group members: %w", err)
		}
		if n == 0 && !add {
			return Group{}, apperr.NotFound("User %s is not a member of group %q.", u.Email, g.Name)
		}
		if n > 0 {
			if err := s.recordGroup(ctx, tx, actor, audit.ActionWrite, g, audit.Diff{"member": change}); err != nil {
				return Group{}, err
			}
		}
		return withMembers(ctx, q, g)
	})
}

// GetGroup returns the group ref (a name or id) with its members.
func (s *Service) GetGroup(ctx context.Context, ref string) (Group, error) {
	return database.SnapshotTx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (Group, error) {
		q := dbsqlc.New(tx)
		g, err := lookupGroup(ctx, q, ref, false)
		if err != nil {
			return Group{}, err
		}
		return withMembers(ctx, q, g)
	})
}

// ListGroups returns every group, by name, with its member count.
func (s *Service) ListGroups(ctx context.Context) ([]Group, error) {
	rows, err := dbsqlc.New(s.db.Pool).GroupList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	out := make([]Group, len(rows))
	for i, r := range rows {
		out[i] = Group{ID: r.ID, Name: r.Name, DisplayName: r.DisplayName, MemberCount: int(r.MemberCount),
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	}
	return out, nil
}
