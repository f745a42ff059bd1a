package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// The owner's pages: a group made and filled, a policy made, its status
// shown; a member's "My budgets" shows only what applies to them, with
// their own window; hostile names show as text.
func TestGroupsAndPoliciesPages(t *testing.T) {
	t.Parallel()
	d := setup(t)
	d.addUser(t, "mia@example.com", xssUser, "member")
	d.addUser(t, "sam@example.com", "Sam", "member")
	ctx := context.Background()
	b := newBrowser(t, d.URL)
	b.signIn("owner@example.com", d.ownerPwd)

	code, _ := b.get("/groups")
	require.Equal(t, http.StatusOK, code, b.last)
	code, path := b.post("/groups", url.Values{"name": {"search"}, "display_name": {xssProvider}})
	require.Equal(t, http.StatusOK, code, b.last)
	require.Equal(t, "/groups/search", path)
	require.Contains(t, b.last, "Group created.")
	require.Contains(t, b.last, "&lt;script&gt;alert(&#34;provider&#34;)&lt;/script&gt;")
	code, _ = b.post("/groups/search/members", url.Values{"email": {"mia@example.com"}})
	require.Equal(t, http.StatusOK, code, b.last)
	require.Contains(t, b.last, "Member added.")
	require.Contains(t, b.last, "&#34;&gt;&lt;img src=x onerror=alert(&#34;user&#34;)&gt;")
	code, _ = b.post("/groups/search/members", url.Values{"email": {"nobody@example.com"}})
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, b.last, "no user has this email")
	code, _ = b.post("/groups", url.Values{"name": {"Bad Name"}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, b.last, "The group was not created: fix the fields marked below.")

	code, _ = b.get("/policies")
	require.Equal(t, http.StatusOK, code, b.last)
	require.Contains(t, b.last, "No policies yet")
	code, path = b.post("/policies", url.Values{"name": {"search-daily"}, "scope": {"group"}, "group": {"search"}, "per_member": {"1"},
		"kind": {"budget"}, "period": {"day"}, "limit_usd": {"25"}, "limit": {"7"}, "user": {"left over"}, "description": {xssModel}})
	require.Equal(t, http.StatusOK, code, b.last)
	require.Equal(t, "/policies", path)
	require.Contains(t, b.last, "Policy created.")
	code, _ = b.post("/policies", url.Values{"name": {"sam-rpm"}, "scope": {"user"}, "user": {"sam@example.com"}, "kind": {"requests"}, "period": {"minute"}, "limit": {"60"}})
	require.Equal(t, http.StatusOK, code, b.last)
	code, _ = b.post("/policies", url.Values{"name": {"bad"}, "scope": {"everyone"}, "kind": {"models"}, "allow_models": {"gpt-4o, ,bad model"}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, b.last, "The policy was not created")
	require.Contains(t, b.last, "entry 1 must not contain whitespace")
	require.Contains(t, b.last, `value="gpt-4o, ,bad model"`, "the form keeps what was typed")
	code, _ = b.get("/policies")
	require.Equal(t, http.StatusOK, code, b.last)
	require.Contains(t, b.last, "$25.00 per day")
	require.Contains(t, b.last, "60 requests per minute")
	require.Contains(t, b.last, "no member has drawn on it in this window")
	require.Nil(t, rawMarkup.FindStringIndex(b.last), "/policies shows markup unescaped")

	// The member sees only the policy that applies to them, with their own
	// (empty) window.
	m := newBrowser(t, d.URL)
	m.signIn("mia@example.com", "password-member")
	require.Contains(t, m.last, `href="/budgets"`)
	require.NotContains(t, m.last, `href="/policies"`)
	code, _ = m.get("/budgets")
	require.Equal(t, http.StatusOK, code, m.last)
	require.Contains(t, m.last, "search-daily")
	require.NotContains(t, m.last, "sam-rpm")
	require.Contains(t, m.last, "mia@example.com")
	require.Contains(t, m.last, "$25.00")
	require.Nil(t, rawMarkup.FindStringIndex(m.last), "/budgets shows markup unescaped")
	require.NotContains(t, m.last, "Delete search-daily")
	for _, admin := range []string{"/policies", "/groups", "/groups/search"} {
		code, _ = m.get(admin)
		require.Equal(t, http.StatusForbidden, code, admin)
	}

	// Deleting: the group a policy names is refused with the reason.
	_, err := d.owner.ListPolicies(ctx)
	require.NoError(t, err)
	b.get("/groups/search")
	code, _ = b.post("/groups/search/delete", url.Values{})
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, b.last, "search-daily")
	b.get("/policies")
	code, _ = b.post("/policies/search-daily/delete", url.Values{})
	require.Equal(t, http.StatusOK, code, b.last)
	require.Contains(t, b.last, "Policy deleted.")
	g, err := d.owner.GetGroup(ctx, "search")
	require.NoError(t, err)
	b.get("/groups/search")
	code, _ = b.post("/groups/search/members/"+g.Members[0].ID+"/remove", url.Values{})
	require.Equal(t, http.StatusOK, code, b.last)
	require.Contains(t, b.last, "Member removed.")
	code, path = b.post("/groups/search/delete", url.Values{})
	require.Equal(t, http.StatusOK, code, b.last)
	require.Equal(t, "/groups", path)
	require.Contains(t, b.last, "Group deleted.")
}
