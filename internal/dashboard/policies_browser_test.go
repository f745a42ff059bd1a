package dashboard_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/browsertest"
	"github.com/aigate/aigate/internal/client"
)

// In a real browser: the owner creates a group, adds a member and creates a
// per-member daily budget for it on the pages; with some spend recorded in
// two members' windows, the owner sees both, and a member's My budgets
// shows her own window alone.
func TestBrowserGroupsAndBudgets(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	d := setup(t)
	d.addUser(t, "mia@example.com", "Mia Member", "member")
	d.addUser(t, "sam@example.com", "Sam Member", "member")

	b.Navigate(t, d.URL+"/signin")
	b.FillLabelled(t, "Email", "owner@example.com")
	b.FillLabelled(t, "Password", d.ownerPwd)
	b.ClickButtonAndWait(t, "Sign in")

	b.Navigate(t, d.URL+"/groups")
	b.FillLabelled(t, "Name (lowercase, e.g. search-team)", "search")
	b.FillLabelled(t, "Display name", "Search team")
	require.Equal(t, int64(http.StatusOK), b.ClickButtonAndWait(t, "Create group"))
	require.Equal(t, "Group created.", b.Text(t, ".flash"))
	for _, email := range []string{"mia@example.com", "sam@example.com"} {
		b.FillLabelled(t, "Member's email", email)
		require.Equal(t, int64(http.StatusOK), b.ClickButtonAndWait(t, "Add member"))
		require.Equal(t, "Member added.", b.Text(t, ".flash"))
	}
	require.Equal(t, []string{"mia@example.com", "sam@example.com"}, b.Texts(t, `[data-table="members"] tbody th`))

	b.Navigate(t, d.URL+"/policies")
	b.FillLabelled(t, "Name (lowercase, e.g. team-monthly)", "search-daily")
	b.SelectLabelled(t, "Applies to", "group")
	b.SelectLabelled(t, "Group (scope group)", "search")
	b.SetChecked(t, "The same limit for each member (everyone or a group), not one shared pool", true)
	b.SelectLabelled(t, "Kind", "budget")
	b.SelectLabelled(t, "Period (budget, tokens, requests)", "day")
	b.FillLabelled(t, "Budget in dollars (kind budget)", "25")
	require.Equal(t, int64(http.StatusOK), b.ClickButtonAndWait(t, "Create policy"))
	require.Equal(t, "Policy created. Replicas enforce it within moments.", b.Text(t, ".flash"))
	require.Contains(t, b.Text(t, `[data-policy="search-daily"]`), "$25.00 per day")

	// Spend in both members' windows, as enforcement records it.
	p, err := d.owner.GetPolicy(context.Background(), "search-daily")
	require.NoError(t, err)
	spend(t, d, p, "mia@example.com", 1_250_000, 500_000)
	spend(t, d, p, "sam@example.com", 25_000_000, 0)
	b.Navigate(t, d.URL+"/policies")
	require.Equal(t, []string{"mia@example.com", "sam@example.com"}, b.Texts(t, `[data-policy="search-daily"] [data-stat="who"]`))
	require.Equal(t, []string{"$1.25", "$25.00"}, b.Texts(t, `[data-policy="search-daily"] [data-stat="spent"]`))
	require.Equal(t, []string{"$23.25", "$0.00 exhausted"}, b.Texts(t, `[data-policy="search-daily"] [data-stat="remaining"]`))
	b.RequireNoConsoleErrors(t)
	screenshot(t, b, "dashboard-policies")

	m := browsertest.New(t)
	m.Navigate(t, d.URL+"/signin")
	m.FillLabelled(t, "Email", "mia@example.com")
	m.FillLabelled(t, "Password", "password-member")
	m.ClickButtonAndWait(t, "Sign in")
	require.Contains(t, m.Texts(t, `header nav a`), "My budgets")
	m.Navigate(t, d.URL+"/budgets")
	require.Equal(t, "My budgets", m.Text(t, "h1"))
	require.Equal(t, []string{"mia@example.com"}, m.Texts(t, `[data-policy="search-daily"] [data-stat="who"]`))
	require.Equal(t, []string{"$0.50"}, m.Texts(t, `[data-policy="search-daily"] [data-stat="reserved"]`))
	require.NotContains(t, m.Text(t, "main"), "sam@example.com")
	require.Equal(t, int64(http.StatusForbidden), m.Navigate(t, d.URL+"/policies"))
	onlyRefusals(t, m)
}

// spend writes a member's current window of the per-member policy p.
func spend(t *testing.T, d *deployment, p client.Policy, email string, settled, granted int64) {
	t.Helper()
	u, err := d.owner.GetUser(context.Background(), email)
	require.NoError(t, err)
	now := d.clock.Now().UTC()
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC) // the policy is in UTC
	_, err = d.DB().Pool.Exec(context.Background(), `INSERT INTO policy_windows (policy_id, subject, window_start, window_end, settled, granted)
		VALUES ($1, $2, $3, $4, $5, $6)`, p.ID, u.ID, start, start.AddDate(0, 0, 1), settled, granted)
	require.NoError(t, err)
}
