package policies

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// WindowStatus is where one window of a policy stands.
type WindowStatus struct {
	Policy string `json:"policy"`
	// Subject is "" for a shared pool, a user id for a per-member policy;
	// User is then that user's email.
	Subject     string    `json:"subject"`
	User        string    `json:"user,omitempty"`
	WindowStart time.Time `json:"window_start"`
	ResetsAt    time.Time `json:"resets_at"`
	Limit       int64     `json:"limit"`
	// Spent is what settled requests consumed; Reserved what replicas hold
	// on leases (granted and not yet consumed, requests in flight
	// included); Remaining is what is left to grant.
	Spent     int64 `json:"spent"`
	Reserved  int64 `json:"reserved"`
	Remaining int64 `json:"remaining"`
	Exhausted bool  `json:"exhausted"`
	// The same amounts in dollars, for budgets only.
	LimitUSD     string `json:"limit_usd,omitempty"`
	SpentUSD     string `json:"spent_usd,omitempty"`
	ReservedUSD  string `json:"reserved_usd,omitempty"`
	RemainingUSD string `json:"remaining_usd,omitempty"`
}

func statusOf(p Policy, subject string, start, end time.Time, settled, granted int64) WindowStatus {
	st := WindowStatus{Policy: p.Name, Subject: subject, WindowStart: start, ResetsAt: end, Limit: p.Limit,
		Spent: settled, Reserved: granted, Remaining: max(0, p.Limit-settled-granted)}
	st.Exhausted = st.Remaining == 0
	if p.Kind == KindBudget {
		st.LimitUSD, st.SpentUSD = FormatUSD(st.Limit), FormatUSD(st.Spent)
		st.ReservedUSD, st.RemainingUSD = FormatUSD(st.Reserved), FormatUSD(st.Remaining)
	}
	return st
}

// Status is where the window of p holding at stands for subject ("" for a
// shared pool, a user id for a per-member policy). A window no request has
// drawn on yet has spent nothing.
func Status(ctx context.Context, db *database.DB, p Policy, at time.Time, subject string) (WindowStatus, error) {
	start, end := p.Window(at)
	rows, err := dbsqlc.New(db.Pool).PolicyWindowsAt(ctx, dbsqlc.PolicyWindowsAtParams{PolicyID: p.ID, WindowStart: start})
	if err != nil {
		return WindowStatus{}, fmt.Errorf("read policy windows: %w", err)
	}
	for _, r := range rows {
		if r.Subject == subject {
			return statusOf(p, subject, start, end, r.Settled, r.Granted), nil
		}
	}
	return statusOf(p, subject, start, end, 0, 0), nil
}

// errNoStatus answers the status of a models policy.
func errNoStatus(name string) error {
	return apperr.Conflict("Policy %q is a models policy: it allows models and counts nothing, so it has no status.", name)
}

// Statuses is where the window of v holding at stands: its pool's, or for a
// per-member policy every member's who has drawn on it (with their
// emails). With only set, it is that user's window alone, which members
// see.
func (s *Service) Statuses(ctx context.Context, v View, at time.Time, only uuid.UUID) ([]WindowStatus, error) {
	p := v.Policy
	if p.Kind == KindModels {
		return nil, errNoStatus(p.Name)
	}
	if !p.PerMember || only != uuid.Nil {
		st, err := Status(ctx, s.db, p, at, p.Subject(only))
		if err != nil {
			return nil, err
		}
		if p.PerMember {
			st.User = s.email(ctx, only)
		}
		return []WindowStatus{st}, nil
	}
	start, end := p.Window(at)
	rows, err := dbsqlc.New(s.db.Pool).PolicyWindowsAt(ctx, dbsqlc.PolicyWindowsAtParams{PolicyID: p.ID, WindowStart: start})
	if err != nil {
		return nil, fmt.Errorf("read policy windows: %w", err)
	}
	out := []WindowStatus{}
	for _, r := range rows {
		st := statusOf(p, r.Subject, start, end, r.Settled, r.Granted)
		if r.UserEmail != nil {
			st.User = *r.UserEmail
		}
		out = append(out, st)
	}
	// By email, as people look for themselves; a deleted user's window
	// (no email) goes last.
	slices.SortStableFunc(out, func(a, b WindowStatus) int {
		if (a.User == "") != (b.User == "") {
			return cmp.Compare(b.User, a.User)
		}
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Subject, b.Subject))
	})
	return out, nil
}

// email is the email of user id, or "" for a user deleted since.
func (s *Service) email(ctx context.Context, id uuid.UUID) string {
	u, err := dbsqlc.New(s.db.Pool).UserGetByID(ctx, id)
	if err != nil {
		return ""
	}
	return u.Email
}
