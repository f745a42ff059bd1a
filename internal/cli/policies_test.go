package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/auth"
)

func TestGroupsAndPolicies(t *testing.T) {
	t.Parallel()
	url := startAPI(t)
	r := newRunner(t)
	loginFirstOwner(t, r, url)
	r.ok(memberPassword, "users", "create", "--email", memberEmail, "--name", "M", "--role", "member", "--password-stdin")

	// A team with the member in it.
	out := r.ok("", "groups", "create", "search", "--display-name", "Search team")
	require.Regexp(t, `Name:\s+search`, out)
	require.Equal(t, "Added "+memberEmail+" to group search (members: 1).\n", r.ok("", "groups", "add", "search", memberEmail))
	out = r.ok("", "groups", "list")
	require.Regexp(t, `(?m)^NAME\s+DISPLAY NAME\s+MEMBERS\s+CREATED$`, out)
	require.Regexp(t, `search\s+Search team\s+1\s`, out)
	require.Contains(t, r.ok("", "groups", "show", "search"), memberEmail)

	// The common setups, as the docs write them.
	r.ok("", "policies", "create", "search-monthly", "--scope", "group", "--group", "search", "--kind", "budget", "--period", "month", "--limit-usd", "500")
	r.ok("", "policies", "create", "dev-daily", "--scope", "everyone", "--per-member", "--kind", "budget", "--period", "day", "--limit-usd", "25", "--time-zone", "Europe/Berlin")
	r.ok("", "policies", "create", "agents-in-flight", "--scope", "everyone", "--kind", "concurrency", "--limit", "8")
	r.ok("", "policies", "create", "approved-models", "--scope", "group", "--group", "search", "--kind", "models", "--allow-models", "claude-*,gpt-4o")
	out = r.ok("", "policies", "list")
	require.Regexp(t, `(?m)^NAME\s+APPLIES TO\s+KIND\s+PERIOD\s+LIMIT\s+PROVIDERS\s+MODELS\s+ENABLED$`, out)
	require.Regexp(t, `dev-daily\s+everyone \(each member\)\s+budget\s+day\s+\$25\.00\s`, out)
	require.Regexp(t, `search-monthly\s+group search\s+budget\s+month\s+\$500\.00\s`, out)
	require.Regexp(t, `agents-in-flight\s+everyone\s+concurrency\s+-\s+8\s`, out)

	var p struct {
		Name        string   `json:"name"`
		Period      *string  `json:"period"`
		LimitUSD    string   `json:"limit_usd"`
		TimeZone    string   `json:"time_zone"`
		AllowModels []string `json:"allow_models"`
		Enabled     bool     `json:"enabled"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.ok("", "policies", "show", "dev-daily", "-o", "json")), &p))
	require.Equal(t, "25.00", p.LimitUSD)
	require.Equal(t, "Europe/Berlin", p.TimeZone)
	require.NoError(t, json.Unmarshal([]byte(r.ok("", "policies", "show", "approved-models", "-o", "json")), &p))
	require.Nil(t, p.Period)
	require.Equal(t, []string{"claude-*", "gpt-4o"}, p.AllowModels)

	// Edits: only the flags given change.
	out = r.ok("", "policies", "edit", "dev-daily", "--limit-usd", "30", "--enabled=false")
	require.Regexp(t, `Limit:\s+\$30\.00`, out)
	require.Regexp(t, `Enabled:\s+no`, out)
	require.Regexp(t, `Time zone:\s+Europe/Berlin`, out)
	r.ok("", "policies", "edit", "dev-daily", "--enabled")
	require.Contains(t, r.fail("", "policies", "edit", "dev-daily"), "nothing to change")

	// The server's validations reach stderr, by field.
	errOut := r.fail("", "policies", "create", "bad", "--scope", "user", "--user", "nobody@example.com", "--kind", "budget", "--period", "fortnight", "--limit-usd", "1.2345678")
	require.Contains(t, errOut, "period")
	require.Contains(t, errOut, "limit_usd")
	errOut = r.fail("", "policies", "create", "bad", "--scope", "everyone", "--kind", "requests", "--period", "minute", "--limit", "lots")
	require.Contains(t, errOut, "--limit must be a whole number")

	out = r.ok("", "policies", "status", "search-monthly")
	require.Regexp(t, `(?m)^SUBJECT\s+SPENT\s+RESERVED\s+REMAINING\s+LIMIT\s+EXHAUSTED\s+RESETS AT$`, out)
	require.Regexp(t, `shared\s+\$0\.00\s+\$0\.00\s+\$500\.00\s+\$500\.00\s+no\s`, out)
	out = r.ok("", "policies", "status", "dev-daily")
	require.Contains(t, out, "no member has drawn")

	// The member sees what applies to them, and their own window.
	memberToken := strings.TrimSpace(r.ok("", "tokens", "create", "cli", "--user", memberEmail, "--scope", "api"))
	asMember := map[string]string{"AIGATE_URL": url, "AIGATE_TOKEN": memberToken, "XDG_CONFIG_HOME": t.TempDir()}
	// Requests per minute for that one token, named by its id.
	tokenID, _, ok := auth.ParseToken(memberToken)
	require.True(t, ok)
	out = r.ok("", "policies", "create", "cli-rpm", "--scope", "token", "--token-id", tokenID, "--kind", "requests", "--period", "minute", "--limit", "60")
	require.Regexp(t, `Applies to:\s+token `+tokenID, out)
	require.Regexp(t, `Limit:\s+60`, out)
	code, out, errOut := r.run("", asMember, "policies", "list")
	require.Equal(t, 0, code, errOut)
	for _, name := range []string{"dev-daily", "search-monthly", "agents-in-flight", "approved-models", "cli-rpm"} {
		require.Contains(t, out, name)
	}
	code, out, errOut = r.run("", asMember, "policies", "status", "dev-daily")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, memberEmail+`\s+\$0\.00\s+\$0\.00\s+\$30\.00\s+\$30\.00\s+no\s`, out)
	code, _, errOut = r.run("", asMember, "groups", "list")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "may not")

	// A group a policy names stays until the policy goes.
	require.Contains(t, r.fail("", "groups", "delete", "search"), "search-monthly")
	require.Equal(t, "Deleted policy search-monthly.\n", r.ok("", "policies", "delete", "search-monthly"))
	r.ok("", "policies", "delete", "approved-models")
	require.Equal(t, "Removed "+memberEmail+" from group search.\n", r.ok("", "groups", "remove", "search", memberEmail))
	r.ok("", "groups", "edit", "search", "--name", "search-eng")
	require.Equal(t, "Deleted group search-eng.\n", r.ok("", "groups", "delete", "search-eng"))
	r.requireNoSecretsOnStderr(ownerPassword, memberPassword)
}
