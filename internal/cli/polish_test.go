package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/cli"
	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/servertest"
)

// helpOf runs `aigate args... --help` and returns what it printed.
func helpOf(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	code := cli.Main(context.Background(), append(args, "--help"), cli.IO{Stdout: &out, Stderr: &out, Getenv: env(nil)})
	require.Equal(t, 0, code, "aigate %s --help: %s", strings.Join(args, " "), out.String())
	return out.String()
}

// Every command's help, groups and leaves alike, names the whole command
// line, starting with aigate, and writes a one-letter flag with one dash.
func TestEveryHelpNamesTheWholeCommand(t *testing.T) {
	t.Parallel()
	var walk func(c *cli.Command, path []string)
	seen := 0
	walk = func(c *cli.Command, path []string) {
		out := helpOf(t, path...)
		seen++
		line := "aigate " + strings.Join(path, " ")
		usage := regexp.MustCompile(`(?m)^Usage: (.*)$`).FindAllStringSubmatch(out, -1)
		require.Len(t, usage, 1, out)
		require.True(t, strings.HasPrefix(usage[0][1], strings.TrimSpace(line)), "usage line %q of %q", usage[0][1], line)
		for _, run := range regexp.MustCompile(`Run '([^']*)'`).FindAllStringSubmatch(out, -1) {
			require.True(t, strings.HasPrefix(run[1], "aigate "), "%q in the help of %q", run[1], line)
		}
		require.NotContains(t, out, "--o ", line)
		for _, sub := range c.Sub {
			walk(sub, append(append([]string(nil), path...), sub.Name))
		}
	}
	walk(cli.Root(), nil)
	require.Greater(t, seen, 30, "the whole tree was walked")

	require.Contains(t, helpOf(t, "providers"), "Usage: aigate providers <command> [flags]")
	require.Contains(t, helpOf(t, "providers"), "Run 'aigate providers <command> --help' for a command's flags.")
	require.Contains(t, helpOf(t), "'aigate --version' prints the version.")
	require.Regexp(t, `(?m)^  -o FORMAT$`, helpOf(t, "providers", "list"))
	require.Regexp(t, `(?m)^Usage: aigate version$`, helpOf(t, "version"))
}

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	var flagOut, cmdOut bytes.Buffer
	require.Equal(t, 0, cli.Main(context.Background(), []string{"--version"}, cli.IO{Stdout: &flagOut, Stderr: &flagOut, Getenv: env(nil)}))
	require.Equal(t, 0, cli.Main(context.Background(), []string{"version"}, cli.IO{Stdout: &cmdOut, Stderr: &cmdOut, Getenv: env(nil)}))
	require.Regexp(t, `^aigate \S+ \(go[^,]+, \w+/\w+\)\n$`, flagOut.String())
	require.Equal(t, cmdOut.String(), flagOut.String())
}

// A mistyped flag or command gets the closest one, over that command's own
// flags; nothing starts.
func TestMistakesGetTheClosestName(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"a word from other tools": {[]string{"server", "--port", "8080"},
			"error: aigate server: unknown flag --port (did you mean --http-address?); run 'aigate server --help' for the list of flags\n"},
		"a typo": {[]string{"server", "--postgres-conect-timeout=3s"}, "unknown flag --postgres-conect-timeout (did you mean --postgres-connect-timeout?)"},
		"a client command's flag": {[]string{"providers", "list", "--outptu", "json"},
			"error: aigate providers list: unknown flag --outptu (did you mean --output?)"},
		"a command's own flag": {[]string{"providers", "list", "--include-deleted-too"}, "(did you mean --include-deleted?)"},
		"nothing close":        {[]string{"migrate", "up", "--frobnicate"}, "error: aigate migrate up: unknown flag --frobnicate; run 'aigate migrate up --help'"},
		"a flag needs a value": {[]string{"server", "--http-address"}, "error: aigate server: --http-address needs a value"},
		"a command":            {[]string{"provders", "list"}, `error: unknown command "provders" for "aigate" (did you mean providers?)`},
		"a subcommand":         {[]string{"providers", "lst"}, `error: unknown command "lst" for "aigate providers" (did you mean list?); run 'aigate providers --help'`},
		"a flag before the command": {[]string{"--port", "8080"},
			"error: aigate: unknown flag --port; give a command first, as in 'aigate <command> --port'"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			code := cli.Main(context.Background(), tc.args, cli.IO{Stdout: &out, Stderr: &errOut, Getenv: env(nil)})
			require.Equal(t, 1, code)
			require.Contains(t, errOut.String(), tc.want)
		})
	}
}

// providers list and show give each provider's state as the server
// computes it.
func TestProvidersListShowsState(t *testing.T) {
	t.Parallel()
	url := startAPI(t)
	r := newRunner(t)
	loginFirstOwner(t, r, url)
	r.ok(providerKey1+"\n", "providers", "create", "ready-one", "--type", "openai", "--api-key-stdin")
	r.ok("", "providers", "create", "no-keys", "--type", "anthropic")
	r.ok(providerKey2+"\n", "providers", "create", "paused", "--type", "openai", "--api-key-stdin", "--disabled")
	r.ok("", "providers", "create", "bedrock-chain", "--type", "bedrock", "--region", "us-east-1")
	r.ok(providerKey3+"\n", "providers", "create", "gone", "--type", "openai", "--api-key-stdin")
	r.ok("", "providers", "delete", "gone")

	out := r.ok("", "providers", "list", "--include-deleted")
	states := map[string]string{}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Regexp(t, `^NAME\s+TYPE\s+BASE URL\s+KEYS\s+UPDATED\s+STATE$`, lines[0])
	for _, l := range lines[1:] {
		m := regexp.MustCompile(`^(\S+)\s+\S+\s+\S+\s+\d+\s+\S+\s+(.+)$`).FindStringSubmatch(l)
		require.NotNil(t, m, l)
		states[m[1]] = m[2]
	}
	require.Equal(t, map[string]string{
		"ready-one": "ready", "no-keys": "broken: no API keys", "paused": "disabled", "bedrock-chain": "ready", "gone": "deleted",
	}, states)

	var list client.ProviderList
	require.NoError(t, json.Unmarshal([]byte(r.ok("", "providers", "list", "-o", "json")), &list))
	for _, p := range list.Providers {
		require.Equal(t, states[p.Name], p.State, p.Name)
	}
	require.Regexp(t, `(?m)^State:\s+broken: no API keys$`, r.ok("", "providers", "show", "no-keys"))

	// Adding a key mends it.
	r.ok(providerKey1+"\n", "providers", "edit", "no-keys", "--add-api-key-stdin")
	require.Equal(t, "ready", showProvider(t, r, "no-keys").State)
	r.requireNoSecretsInOutput(providerKey1, providerKey2, providerKey3)
}

// A base URL copied with its endpoint is refused, on create and on edit,
// with the base URL that was meant; nothing is stored.
func TestProvidersRefuseAnEndpointAsBaseURL(t *testing.T) {
	t.Parallel()
	url := startAPI(t)
	r := newRunner(t)
	loginFirstOwner(t, r, url)

	errOut := r.fail(providerKey1+"\n", "providers", "create", "corp", "--type", "openai",
		"--base-url", "https://llm.corp.example/v1/chat/completions", "--api-key-stdin")
	require.Contains(t, errOut, "error: Invalid request.")
	require.Contains(t, errOut, "\n  base_url: must not end in the endpoint path chat/completions: aigate appends the endpoint itself, "+
		"so requests would go to https://llm.corp.example/v1/chat/completions/chat/completions; use https://llm.corp.example/v1/")
	require.Contains(t, r.fail("", "providers", "show", "corp"), `No provider "corp".`)

	r.ok("", "providers", "create", "claude", "--type", "anthropic")
	errOut = r.fail("", "providers", "edit", "claude", "--base-url", "https://api.anthropic.com/v1/messages")
	require.Contains(t, errOut, "\n  base_url: must not end in the endpoint path v1/messages: aigate appends the endpoint itself, "+
		"so requests would go to https://api.anthropic.com/v1/messages/v1/messages; use https://api.anthropic.com/")
	require.Equal(t, "https://api.anthropic.com/", showProvider(t, r, "claude").BaseURL, "unchanged")
	r.requireNoSecretsInOutput(providerKey1)
}

// A server without users says in its log how to make the first owner, and
// the command it gives works; once there is a user it says nothing.
func TestFirstOwnerHintInStartupLog(t *testing.T) {
	t.Parallel()
	first := servertest.Start(t, servertest.Options{})
	hint := "no users yet: create the first owner with `aigate login " + first.URL + "`"
	require.Contains(t, first.Logs.String(), hint)

	r := newRunner(t)
	loginFirstOwner(t, r, first.URL)
	second := servertest.Start(t, servertest.Options{DatabaseURL: first.DatabaseURL})
	require.Contains(t, second.Logs.String(), "aigate ready")
	require.NotContains(t, second.Logs.String(), "no users yet")
}
