package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A member's `providers list` shows the providers they may use with the
// base URL to set in their tools; the owner's keeps its columns, and
// `show` has the gateway URL too.
func TestProvidersListForMembers(t *testing.T) {
	t.Parallel()
	url := startAPI(t)
	r := newRunner(t)
	loginFirstOwner(t, r, url)
	r.ok(providerKey1+"\n", "providers", "create", "openai-main", "--type", "openai", "--api-key-stdin")
	r.ok(providerKey2+"\n", "providers", "create", "claude", "--type", "anthropic", "--display-name", "Claude", "--api-key-stdin")
	r.ok("", "providers", "create", "bedrock-east", "--type", "bedrock", "--region", "us-east-1")
	r.ok(providerKey3+"\n", "providers", "create", "paused", "--type", "openai", "--api-key-stdin", "--disabled")
	r.ok(memberPassword, "users", "create", "--email", memberEmail, "--name", "M", "--role", "member", "--password-stdin")
	memberToken := strings.TrimSpace(r.ok("", "tokens", "create", "cli", "--user", memberEmail, "--scope", "api"))
	asMember := map[string]string{"AIGATE_URL": url, "AIGATE_TOKEN": memberToken, "XDG_CONFIG_HOME": t.TempDir()}

	code, out, errOut := r.run("", asMember, "providers", "list")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	require.Regexp(t, `^NAME\s+TYPE\s+BASE URL$`, lines[0])
	require.Regexp(t, `^bedrock-east\s+bedrock\s+`+url+`/ai/bedrock-east$`, lines[1])
	require.Regexp(t, `^claude\s+anthropic\s+`+url+`/ai/claude$`, lines[2])
	require.Regexp(t, `^openai-main\s+openai\s+`+url+`/ai/openai-main/v1$`, lines[3])

	code, out, errOut = r.run("", asMember, "providers", "list", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var short map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &short))
	require.Equal(t, "short", short["form"])
	ps := short["providers"].([]any)
	require.Len(t, ps, 3)
	require.Equal(t, map[string]any{"name": "claude", "type": "anthropic", "display_name": "Claude", "gateway_base_url": url + "/ai/claude"}, ps[1],
		"only what the server sent: no zero id, enabled or keys")

	code, _, errOut = r.run("", asMember, "providers", "list", "--include-deleted")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "deleted providers are for owners and auditors")

	out = r.ok("", "providers", "list")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5, out)
	require.Regexp(t, `^NAME\s+TYPE\s+BASE URL\s+KEYS\s+UPDATED\s+STATE$`, lines[0], "the owner's table")
	require.Regexp(t, `(?m)^Gateway URL:\s+`+url+`/ai/openai-main/v1$`, r.ok("", "providers", "show", "openai-main"))
	require.Equal(t, url+"/ai/paused/v1", showProvider(t, r, "paused").GatewayBaseURL)
	r.requireNoSecretsInOutput(providerKey1, providerKey2, providerKey3)
}
