package users_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/users"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const password = "correct horse battery"

type fixture struct {
	db  *database.DB
	svc *users.Service
	clk *clock.Manual
}

func setup(t *testing.T) fixture {
	t.Helper()
	db := testdb.New(t)
	clk := clock.NewManual(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	authn := auth.NewAuthenticator(auth.Config{DB: db, Clock: clk, Logger: testdb.Logger(t)})
	return fixture{db: db, svc: users.NewService(db, authn, &audit.Recorder{Now: clk.Now}, clk.Now), clk: clk}
}

// user creates a user with role and returns it with the actor it acts as.
func (f fixture) user(t *testing.T, email, role string) (users.User, audit.Actor) {
	t.Helper()
	u, err := f.svc.Create(context.Background(), audit.System, users.Input{Email: email, Name: email, Password: password, Role: role})
	require.NoError(t, err)
	return u, audit.Actor{ID: u.ID.String(), Email: u.Email}
}

func ptr[T any](v T) *T { return &v }

// requireKind fails unless err is an apperr of kind k.
func requireKind(t *testing.T, err error, k apperr.Kind) *apperr.Error {
	t.Helper()
	require.Error(t, err)
	ae, ok := apperr.As(err)
	require.True(t, ok, "not an error a user may see: %v", err)
	require.Equal(t, k, ae.Kind, "%v", err)
	return ae
}

func activeOwners(t *testing.T, f fixture) []string {
	t.Helper()
	all, err := f.svc.List(context.Background())
	require.NoError(t, err)
	var out []string
	for _, u := range all {
		if u.Role == auth.RoleOwner && !u.Suspended {
			out = append(out, u.Email)
		}
	}
	return out
}

func TestCreateFirstOnceUnderARace(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	hasUsers, err := f.svc.Any(ctx)
	require.NoError(t, err)
	require.False(t, hasUsers)

	const callers = 4
	errs := make(chan error, callers)
	for i := range callers {
		go func() {
			_, _, err := f.svc.CreateFirst(ctx, users.Input{Email: "o" + string(rune('a'+i)) + "@example.com", Name: "O", Password: password})
			errs <- err
		}()
	}
	won := 0
	for range callers {
		if err := <-errs; err == nil {
			won++
		} else {
			require.ErrorIs(t, err, users.ErrAlreadyInitialised)
		}
	}
	require.Equal(t, 1, won)
	require.Len(t, activeOwners(t, f), 1)
	hasUsers, err = f.svc.Any(ctx)
	require.NoError(t, err)
	require.True(t, hasUsers)
}

func TestCreateValidatesEveryField(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, err := f.svc.Create(context.Background(), audit.System, users.Input{Email: "not-an-email", Name: " ", Password: "short", Role: "admin"})
	ae := requireKind(t, err, apperr.KindInvalid)
	fields := map[string]string{}
	for _, v := range ae.Validations {
		fields[v.Field] = v.Detail
	}
	require.Equal(t, "must be an email address such as ada@example.com", fields["email"])
	require.Equal(t, "must be 1 to 200 characters", fields["name"])
	require.Contains(t, fields["password"], "to 1024 characters")
	require.Equal(t, "must be one of owner, auditor, member", fields["role"])
	require.NotContains(t, err.Error(), "short", "the password is not echoed")
}

func TestEmailIsOneUserWhateverItsSpelling(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ada, _ := f.user(t, "Ada@Example.com", "member")
	require.Equal(t, "ada@example.com", ada.Email)
	_, err := f.svc.Create(ctx, audit.System, users.Input{Email: "ADA@example.COM", Name: "Ada 2", Password: password, Role: "member"})
	requireKind(t, err, apperr.KindConflict)

	got, err := f.svc.Get(ctx, "ADA@EXAMPLE.COM")
	require.NoError(t, err)
	require.Equal(t, ada.ID, got.ID)

	bob, _ := f.user(t, "bob@example.com", "member")
	_, err = f.svc.Update(ctx, audit.System, bob.ID.String(), users.Patch{Email: ptr("ada@EXAMPLE.com")})
	requireKind(t, err, apperr.KindConflict)
}

// The last active owner can be neither demoted, suspended nor deleted; with
// a second owner each works, and the survivor is then the last.
func TestLastOwnerIsProtected(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ada, adaActor := f.user(t, "ada@example.com", "owner")

	for name, change := range map[string]func() error{
		"demote": func() error {
			_, err := f.svc.Update(ctx, adaActor, ada.Email, users.Patch{Role: ptr("member")})
			return err
		},
		"suspend": func() error {
			_, err := f.svc.Update(ctx, adaActor, ada.Email, users.Patch{Suspended: ptr(true)})
			return err
		},
		"delete": func() error { return f.svc.Delete(ctx, adaActor, ada.Email) },
	} {
		ae := requireKind(t, change(), apperr.KindConflict)
		require.Equal(t, "This is the last active owner; make another user owner first.", ae.Message, name)
	}
	// Changes that keep the owner an owner need no other owner.
	renamed, err := f.svc.Update(ctx, adaActor, ada.Email, users.Patch{Name: ptr("Ada L."), Role: ptr("owner"), Suspended: ptr(false)})
	require.NoError(t, err)
	require.Equal(t, "Ada L.", renamed.Name)

	// A suspended owner does not count as the other owner.
	bob, _ := f.user(t, "bob@example.com", "owner")
	_, err = f.svc.Update(ctx, adaActor, bob.Email, users.Patch{Suspended: ptr(true)})
	require.NoError(t, err)
	_, err = f.svc.Update(ctx, adaActor, ada.Email, users.Patch{Role: ptr("auditor")})
	requireKind(t, err, apperr.KindConflict)

	_, err = f.svc.Update(ctx, adaActor, bob.Email, users.Patch{Suspended: ptr(false)})
	require.NoError(t, err)
	demoted, err := f.svc.Update(ctx, adaActor, ada.Email, users.Patch{Role: ptr("auditor")})
	require.NoError(t, err)
	require.Equal(t, auth.RoleAuditor, demoted.Role)
	require.Equal(t, []string{"bob@example.com"}, activeOwners(t, f))
	requireKind(t, f.svc.Delete(ctx, adaActor, bob.Email), apperr.KindConflict)

	// Members come and go without owners being involved.
	carl, _ := f.user(t, "carl@example.com", "member")
	require.NoError(t, f.svc.Delete(ctx, adaActor, carl.ID.String()))
	_, err = f.svc.Get(ctx, carl.Email)
	requireKind(t, err, apperr.KindNotFound)
}

// Two owners demoting (or suspending, or deleting) each other at once: one
// change wins, the other is refused as the last owner's, every time. Before
// the owners were locked in one order, each transaction held its target's
// row and waited for the other's, and PostgreSQL aborted one as a deadlock
// (a 500).
func TestConcurrentOwnerRemovalsNeverDeadlock(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ada, adaActor := f.user(t, "ada@example.com", "owner")
	bob, bobActor := f.user(t, "bob@example.com", "owner")
	remove := map[string]func(actor audit.Actor, target users.User) error{
		"demote": func(actor audit.Actor, target users.User) error {
			_, err := f.svc.Update(ctx, actor, target.ID.String(), users.Patch{Role: ptr("member")})
			return err
		},
		"suspend": func(actor audit.Actor, target users.User) error {
			_, err := f.svc.Update(ctx, actor, target.Email, users.Patch{Suspended: ptr(true)})
			return err
		},
	}
	const rounds = 40
	for round := range rounds {
		byAda, byBob := remove["demote"], remove["demote"]
		if round%2 == 1 {
			byBob = remove["suspend"]
		}
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  [2]error
		)
		wg.Add(2)
		go func() { defer wg.Done(); <-start; errs[0] = byAda(adaActor, bob) }()
		go func() { defer wg.Done(); <-start; errs[1] = byBob(bobActor, ada) }()
		close(start)
		wg.Wait()

		failed := 0
		for _, err := range errs {
			if err != nil {
				failed++
				ae := requireKind(t, err, apperr.KindConflict)
				require.Contains(t, ae.Message, "last active owner", "round %d", round)
			}
		}
		require.Equal(t, 1, failed, "round %d: exactly one change wins: %v", round, errs)
		owners := activeOwners(t, f)
		require.Len(t, owners, 1, "round %d", round)

		// Make the loser an active owner again for the next round.
		for _, u := range []users.User{ada, bob} {
			_, err := f.svc.Update(ctx, audit.System, u.Email, users.Patch{Role: ptr("owner"), Suspended: ptr(false)})
			require.NoError(t, err)
		}
		require.Len(t, activeOwners(t, f), 2)
	}

	// Deleting each other races the same way.
	var wg sync.WaitGroup
	var errs [2]error
	start := make(chan struct{})
	wg.Add(2)
	go func() { defer wg.Done(); <-start; errs[0] = f.svc.Delete(ctx, adaActor, bob.Email) }()
	go func() { defer wg.Done(); <-start; errs[1] = f.svc.Delete(ctx, bobActor, ada.Email) }()
	close(start)
	wg.Wait()
	require.True(t, (errs[0] == nil) != (errs[1] == nil), "exactly one delete wins: %v", errs)
	for _, err := range errs {
		if err != nil {
			requireKind(t, err, apperr.KindConflict)
		}
	}
	require.Len(t, activeOwners(t, f), 1)
}

// A change is audited with who made it and what changed; a password change
// shows that it changed, never a hash.
func TestUpdateIsAuditedWithoutThePasswordHash(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	_, adaActor := f.user(t, "ada@example.com", "owner")
	bob, _ := f.user(t, "bob@example.com", "member")
	_, err := f.svc.Update(ctx, adaActor, bob.Email, users.Patch{Role: ptr("auditor"), Password: ptr("another long password")})
	require.NoError(t, err)

	page, err := audit.List(ctx, f.db, audit.Filter{ResourceType: "user", Resource: bob.ID.String(), Action: audit.ActionWrite})
	require.NoError(t, err)
	require.Len(t, page.Entries, 1)
	e := page.Entries[0]
	require.Equal(t, adaActor.ID, e.Actor)
	var diff audit.Diff
	require.NoError(t, json.Unmarshal(e.Diff, &diff))
	require.Equal(t, audit.Change{Old: "member", New: "auditor"}, diff["role"])
	require.Equal(t, audit.Change{Old: audit.Masked, New: audit.Masked}, diff["password"])
	require.NotContains(t, string(e.Diff), "argon2id")
	require.NotContains(t, diff, "email", "unchanged fields are left out")
}

func TestUpdateNeedsAChangeAndAKnownUser(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	_, err := f.svc.Update(ctx, audit.System, "ada@example.com", users.Patch{})
	ae := requireKind(t, err, apperr.KindInvalid)
	require.Equal(t, "give at least one of email, name, password, role, suspended", ae.Validations[0].Detail)

	_, err = f.svc.Update(ctx, audit.System, "nobody@example.com", users.Patch{Role: ptr("owner")})
	requireKind(t, err, apperr.KindNotFound)
	_, err = f.svc.Update(ctx, audit.System, "nobody@example.com", users.Patch{Role: ptr("boss")})
	ae = requireKind(t, err, apperr.KindInvalid)
	require.Equal(t, "role", ae.Validations[0].Field)
}
