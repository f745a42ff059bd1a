package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/cli"
	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/servertest"
)

const (
	ownerEmail    = "owner@example.com"
	ownerPassword = "correct horse battery staple"
	memberEmail   = "m@example.com"
	// memberPassword is deliberately unlike the owner's, so the secret scan
	// can tell them apart.
	memberPassword = "member password 0123456789"
)

// startAPI starts a replica (the System `aigate server` runs) on a database
// of the test's own, and returns its URL.
func startAPI(t *testing.T) string {
	t.Helper()
	return servertest.Start(t, servertest.Options{}).URL
}

// cliRunner runs the CLI in-process with a config directory of its own and
// collects everything written to stdout and stderr for the secret scans.
type cliRunner struct {
	t      *testing.T
	env    map[string]string
	mu     sync.Mutex
	stdout []string
	stderr []string
}

func newRunner(t *testing.T) *cliRunner {
	t.Helper()
	home := t.TempDir()
	return &cliRunner{t: t, env: map[string]string{"XDG_CONFIG_HOME": filepath.Join(home, "config"), "HOME": home}}
}

// run runs `aigate args...` with stdin and extra environment variables
// (over the runner's), and returns the exit status, stdout and stderr.
func (r *cliRunner) run(stdin string, extraEnv map[string]string, args ...string) (int, string, string) {
	r.t.Helper()
	vars := map[string]string{}
	for k, v := range r.env {
		vars[k] = v
	}
	for k, v := range extraEnv {
		vars[k] = v
	}
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), args, cli.IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, Getenv: env(vars)})
	r.mu.Lock()
	r.stdout = append(r.stdout, out.String())
	r.stderr = append(r.stderr, errOut.String())
	r.mu.Unlock()
	return code, out.String(), errOut.String()
}

// ok runs a command that must succeed and returns its stdout.
func (r *cliRunner) ok(stdin string, args ...string) string {
	r.t.Helper()
	code, out, errOut := r.run(stdin, nil, args...)
	require.Equal(r.t, 0, code, "aigate %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), out, errOut)
	return out
}

// fail runs a command that must exit 1 and returns its stderr.
func (r *cliRunner) fail(stdin string, args ...string) string {
	r.t.Helper()
	code, out, errOut := r.run(stdin, nil, args...)
	require.Equal(r.t, 1, code, "aigate %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), out, errOut)
	return errOut
}

// storedCredentials reads config.json and checks it is private.
func (r *cliRunner) storedCredentials() map[string]string {
	r.t.Helper()
	path := filepath.Join(r.env["XDG_CONFIG_HOME"], "aigate", "config.json")
	info, err := os.Stat(path)
	require.NoError(r.t, err)
	require.Equal(r.t, os.FileMode(0o600), info.Mode().Perm(), "config.json holds a token: user-only")
	dir, err := os.Stat(filepath.Dir(path))
	require.NoError(r.t, err)
	require.Equal(r.t, os.FileMode(0o700), dir.Mode().Perm())
	raw, err := os.ReadFile(path)
	require.NoError(r.t, err)
	var cr map[string]string
	require.NoError(r.t, json.Unmarshal(raw, &cr))
	return cr
}

// requireNoSecretsOnStderr checks that no secret reached stderr in any run.
func (r *cliRunner) requireNoSecretsOnStderr(secrets ...string) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	all := strings.Join(r.stderr, "\n")
	for _, s := range secrets {
		require.NotEmpty(r.t, s)
		require.NotContains(r.t, all, s, "a secret was printed to stderr")
	}
	require.NotContains(r.t, all, "aig_", "a token was printed to stderr")
}

// requireNoSecretsInOutput checks that no secret reached stdout or stderr
// in any run: for secrets the CLI never shows, unlike a new token's.
func (r *cliRunner) requireNoSecretsInOutput(secrets ...string) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(r.t, r.stdout)
	for i, s := range secrets {
		require.NotEmpty(r.t, s)
		for run := range r.stdout {
			// Not NotContains: its message would print the output, secret
			// and all.
			require.Falsef(r.t, strings.Contains(r.stdout[run], s), "secret %d was printed on stdout by run %d", i, run)
			require.Falsef(r.t, strings.Contains(r.stderr[run], s), "secret %d was printed on stderr by run %d", i, run)
		}
	}
}

// loginFirstOwner creates the first owner through `aigate login`.
func loginFirstOwner(t *testing.T, r *cliRunner, url string) {
	t.Helper()
	out := r.ok(ownerPassword+"\n", "login", url, "--email", ownerEmail, "--password-stdin", "--name", "Owner")
	require.Equal(t, "Created the first owner "+ownerEmail+" on "+url+" and logged in.\n", out)
}

// TestClientRoundTrip is the acceptance test of the client commands: the
// first owner logs in, creates a member and a token for them, the token
// works, and the audit log shows it all.
func TestClientRoundTrip(t *testing.T) {
	t.Parallel()
	// A manual clock, so the test can say when the replica writes the
	// tokens' last uses (every auth.DefaultTouchInterval).
	clk := clock.NewManual(time.Now())
	url := servertest.Start(t, servertest.Options{Clock: clk}).URL
	r := newRunner(t)

	loginFirstOwner(t, r, url)
	cr := r.storedCredentials()
	require.Equal(t, url, cr["url"])
	require.True(t, strings.HasPrefix(cr["token"], "aig_"), "a token is stored")
	ownerToken := cr["token"]

	out := r.ok(memberPassword, "users", "create", "--email", memberEmail, "--name", "M", "--role", "member", "--password-stdin")
	require.Regexp(t, `Email:\s+`+memberEmail, out)
	require.Regexp(t, `Role:\s+member`, out)

	out = r.ok("", "users", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	require.Regexp(t, `^ID\s+EMAIL\s+NAME\s+ROLE\s+SUSPENDED\s+CREATED$`, lines[0])
	require.Contains(t, out, ownerEmail)
	require.Regexp(t, memberEmail+`\s+M\s+member\s+no\s`, out)

	var list struct {
		Users []struct{ Email, Role string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.ok("", "users", "list", "-o", "json")), &list))
	require.Len(t, list.Users, 2)

	// Flags after the positional argument, as people type them. The token
	// drives the CLI, so it needs the api scope.
	memberToken := strings.TrimSpace(r.ok("", "tokens", "create", "ci", "--user", memberEmail, "--scope", "api"))
	require.True(t, strings.HasPrefix(memberToken, "aig_"), memberToken)

	// The new token works, given by the environment, with no stored
	// credentials at all.
	asMember := map[string]string{"AIGATE_URL": url, "AIGATE_TOKEN": memberToken, "XDG_CONFIG_HOME": t.TempDir()}
	code, out, errOut := r.run("", asMember, "users", "show", "me")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `Email:\s+`+memberEmail, out)
	code, out, errOut = r.run("", asMember, "users", "show", "me", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var me struct{ Email, Role string }
	require.NoError(t, json.Unmarshal([]byte(out), &me))
	require.Equal(t, memberEmail, me.Email)
	// A member may not list users: the server's message comes through.
	code, _, errOut = r.run("", asMember, "users", "list")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "error: Your role (member) may not do this.")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, clk.WaitArmed(ctx, auth.TouchTimer, 1))
	clk.Advance(auth.DefaultTouchInterval)
	require.NoError(t, clk.WaitArmed(ctx, auth.TouchTimer, 2), "the last uses are written")
	out = r.ok("", "tokens", "list", "--user", memberEmail)
	require.Regexp(t, `^ID\s+NAME\s+SCOPES\s+EXPIRES\s+LAST USED\s+CREATED\n`, out)
	require.Regexp(t, `\sci\s+api\s+never\s+\d{4}-`, out, "the token was used once: LAST USED is set")
	tokenID := strings.Fields(strings.Split(out, "\n")[1])[0]

	// Only the flags given change.
	out = r.ok("", "users", "edit", memberEmail, "--name", "Max", "--role", "auditor")
	require.Regexp(t, `Name:\s+Max`, out)
	require.Regexp(t, `Role:\s+auditor`, out)
	require.Regexp(t, `Email:\s+`+memberEmail, out)
	require.Contains(t, r.fail("", "users", "edit", memberEmail), "nothing to change")

	// Suspension stops the token at once; lifting it brings it back.
	require.Equal(t, "Suspended user "+memberEmail+".\n", r.ok("", "users", "suspend", memberEmail))
	code, _, errOut = r.run("", asMember, "users", "show", "me")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "suspended")
	require.Contains(t, errOut, "aigate login "+url)
	require.Equal(t, "Unsuspended user "+memberEmail+".\n", r.ok("", "users", "unsuspend", memberEmail))
	code, _, errOut = r.run("", asMember, "users", "show", "me")
	require.Equal(t, 0, code, errOut)

	out = r.ok("", "audit", "list")
	require.Regexp(t, `^TIME\s+ACTOR\s+ACTION\s+RESOURCE\s+STATUS\s+REQUEST ID\n`, out)
	require.Regexp(t, ownerEmail+`\s+create\s+user/`+memberEmail+`\s+201\s`, out)
	require.Regexp(t, ownerEmail+`\s+create\s+api_token/ci\s+201\s`, out)
	require.Regexp(t, ownerEmail+`\s+create\s+user/`+ownerEmail+`\s+201\s`, out, "the first owner's own creation")

	var page struct {
		Entries []struct {
			Action       string          `json:"action"`
			ResourceType string          `json:"resource_type"`
			Diff         json.RawMessage `json:"diff"`
		} `json:"entries"`
		NextCursor *string `json:"next_cursor"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.ok("", "audit", "list", "-o", "json")), &page))
	require.NotEmpty(t, page.Entries)
	require.NotNil(t, page.NextCursor)
	require.Equal(t, "write", page.Entries[0].Action, "newest first")

	// Paging: one entry, then the cursor printed on stderr.
	code, out, errOut = r.run("", nil, "audit", "list", "--resource-type", "user", "--action", "create", "--limit", "1")
	require.Equal(t, 0, code, errOut)
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 2)
	require.Contains(t, out, "user/"+memberEmail)
	cursor, ok := strings.CutPrefix(strings.TrimSpace(errOut), "More entries: --cursor ")
	require.True(t, ok, errOut)
	out = r.ok("", "audit", "list", "--resource-type", "user", "--action", "create", "--limit", "1", "--cursor", cursor)
	require.Contains(t, out, "user/"+ownerEmail)
	require.Contains(t, r.fail("", "audit", "list", "--since", "yesterday"), "RFC 3339")

	// The whole answer, secret included, in JSON.
	var created struct {
		APIToken struct {
			ID, Name string
			Scopes   []string
		} `json:"api_token"`
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.ok("", "tokens", "create", "deploy", "--expires-in", "720h", "-o", "json")), &created))
	require.Equal(t, "deploy", created.APIToken.Name)
	require.Equal(t, []string{"gateway"}, created.APIToken.Scopes, "a gateway token unless asked")
	require.True(t, strings.HasPrefix(created.Token, "aig_"))
	// A gateway token does not drive the CLI; the server says why.
	asGateway := map[string]string{"AIGATE_URL": url, "AIGATE_TOKEN": created.Token, "XDG_CONFIG_HOME": t.TempDir()}
	code, _, errOut = r.run("", asGateway, "users", "show", "me")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "lacks the api scope (its scopes: gateway)")
	both := strings.TrimSpace(r.ok("", "tokens", "create", "both", "--scope", "api, gateway"))
	out = r.ok("", "tokens", "list")
	require.Regexp(t, `\sdeploy\s+gateway\s+\d{4}-`, out)
	require.Regexp(t, `\sboth\s+gateway,api\s+never\s`, out)
	require.Regexp(t, `\sfirst login\s+api\s+\d{4}-`, out, "the login token is api only")
	for _, bad := range []struct{ scope, want string }{
		{"admin", `"admin" is not a scope`},
		{"", `"" is not a scope`},
		{"api,api", "lists api twice"},
	} {
		errOut = r.fail("", "tokens", "create", "x", "--scope", bad.scope)
		require.Contains(t, errOut, "--scope", bad.scope)
		require.Contains(t, errOut, bad.want, bad.scope)
	}

	require.Equal(t, "Revoked token "+tokenID+".\n", r.ok("", "tokens", "revoke", tokenID, "--user", memberEmail))
	code, _, errOut = r.run("", asMember, "users", "show", "me")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "This token is not valid.")

	require.Equal(t, "Deleted user "+memberEmail+".\n", r.ok("", "users", "delete", memberEmail))
	require.Contains(t, r.fail("", "users", "show", memberEmail), "No user")

	r.requireNoSecretsOnStderr(ownerToken, memberToken, created.Token, both, ownerPassword, memberPassword)
}

func TestLoginToServerWithUsers(t *testing.T) {
	t.Parallel()
	url := startAPI(t)
	r := newRunner(t)
	loginFirstOwner(t, r, url)
	firstToken := r.storedCredentials()["token"]

	errOut := r.fail("not the password\n", "login", url, "--email", ownerEmail, "--password-stdin")
	require.Equal(t, "error: Wrong email or password.\n", errOut, "the 409 of users/first is not shown")
	require.Equal(t, firstToken, r.storedCredentials()["token"], "a failed login keeps the stored token")

	// A wrong password too short for a first owner: users/first answers 409
	// before judging the input, so the login error alone is shown.
	errOut = r.fail("short", "login", url, "--email", ownerEmail, "--password-stdin")
	require.Equal(t, "error: Wrong email or password.\n", errOut)

	// Email and password as lines of piped stdin, without flags.
	code, out, errOut := r.run(ownerEmail+"\n"+ownerPassword+"\n", nil, "login", url+"/")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "Logged in to "+url+" as "+ownerEmail+" (owner)\n", out)
	require.Contains(t, errOut, "admin API and this CLI only; for the gateway (/ai/), create one with: aigate tokens create NAME")
	cr := r.storedCredentials()
	require.Equal(t, url, cr["url"], "the URL is stored without the trailing slash")
	require.NotEqual(t, firstToken, cr["token"], "a new login stores a new token")

	require.Contains(t, r.fail("", "login", url, "--password-stdin"), "--password-stdin needs --email")
	require.Contains(t, r.fail("x\n", "login", "aigate.example.com", "--email", ownerEmail, "--password-stdin"), "not a server URL")

	r.requireNoSecretsOnStderr(firstToken, cr["token"], ownerPassword)
}

func TestValidationErrorsSurface(t *testing.T) {
	t.Parallel()
	url := startAPI(t)
	r := newRunner(t)
	loginFirstOwner(t, r, url)

	errOut := r.fail("short", "users", "create", "--email", "bad", "--name", "x", "--role", "boss", "--password-stdin")
	require.Contains(t, errOut, "error: Invalid request.")
	require.Contains(t, errOut, "\n  email: must be an email address")
	require.Contains(t, errOut, "\n  password: must be ")
	require.Contains(t, errOut, "\n  role: must be one of owner, auditor, member")

	errOut = r.fail("", "tokens", "create", "ci", "--user", "nobody@example.com")
	require.Contains(t, errOut, `No user "nobody@example.com".`)

	r.requireNoSecretsOnStderr(r.storedCredentials()["token"], ownerPassword, "short")
}

func TestNotLoggedIn(t *testing.T) {
	t.Parallel()
	const hint = "error: not logged in: run 'aigate login URL' (or set AIGATE_URL and AIGATE_TOKEN)\n"
	r := newRunner(t)
	require.Equal(t, hint, r.fail("", "users", "list"))
	require.Equal(t, hint, r.fail("", "audit", "list", "--url", "http://127.0.0.1:1"))

	// The stored token is only ever sent to the URL it was stored for.
	url := startAPI(t)
	loginFirstOwner(t, r, url)
	require.Equal(t, hint, r.fail("", "tokens", "list", "--url", "http://127.0.0.1:1"))
	code, _, errOut := r.run("", map[string]string{"AIGATE_URL": "http://127.0.0.1:1"}, "tokens", "list")
	require.Equal(t, 1, code)
	require.Equal(t, hint, errOut)

	// A bad token given by the environment is refused by the server, with
	// a hint, and never echoed.
	const badToken = "aig_nope_notarealsecret"
	code, _, errOut = r.run("", map[string]string{"AIGATE_TOKEN": badToken}, "users", "list")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "This token is not valid.")
	require.Contains(t, errOut, "Log in again with 'aigate login "+url+"'")
	require.NotContains(t, errOut, "notarealsecret")
}

// TestClientCommandHelp checks that every client command lists its flags
// and the shared ones.
func TestClientCommandHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"login", "--help"}, []string{"--email EMAIL", "--name NAME", "--password-stdin\n"}},
		{[]string{"users", "list", "--help"}, nil},
		{[]string{"users", "show", "--help"}, nil},
		{[]string{"users", "create", "--help"}, []string{"--email", "--name", "--role", "--password-stdin"}},
		{[]string{"users", "edit", "--help"}, []string{"--email", "--name", "--role", "--password-stdin"}},
		{[]string{"users", "suspend", "--help"}, nil},
		{[]string{"users", "unsuspend", "--help"}, nil},
		{[]string{"users", "delete", "--help"}, nil},
		{[]string{"tokens", "list", "--help"}, []string{"--user USER"}},
		{[]string{"tokens", "create", "--help"}, []string{"--user USER", "--expires-in DURATION", "--scope SCOPES", "(default gateway)"}},
		{[]string{"tokens", "revoke", "--help"}, []string{"--user USER"}},
		{[]string{"audit", "list", "--help"}, []string{"--resource-type", "--resource ", "--actor", "--action", "--since", "--until", "--limit", "--cursor"}},
		{[]string{"providers", "list", "--help"}, []string{"--include-deleted\n"}},
		{[]string{"providers", "show", "--help"}, []string{"Usage: aigate providers show NAME|ID [flags]"}},
		{[]string{"providers", "create", "--help"}, []string{
			"Usage: aigate providers create NAME [flags]", "--type TYPE", "--display-name TEXT", "--base-url URL", "--disabled\n",
			"--region REGION", "--model MODEL", "--small-fast-model MODEL", "--api-key-stdin\n", "--access-key-stdin\n",
		}},
		{[]string{"providers", "edit", "--help"}, []string{
			"--name NAME", "--display-name TEXT", "--base-url URL", "--enable\n", "--disable\n", "--region REGION", "--model MODEL",
			"--small-fast-model MODEL", "--add-api-key-stdin\n", "--remove-api-key KEY_ID", "--replace-api-keys-stdin\n",
			"--access-key-stdin\n", "--clear-access-key\n",
		}},
		{[]string{"providers", "delete", "--help"}, nil},
		{[]string{"interceptions", "show", "--help"}, []string{"Usage: aigate interceptions show ID [flags]"}},
		{[]string{"providers", "restore", "--help"}, nil},
	} {
		t.Run(strings.Join(tc.args[:len(tc.args)-1], " "), func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			code := cli.Main(context.Background(), tc.args, cli.IO{Stdout: &out, Stderr: &out, Getenv: env(nil)})
			require.Equal(t, 0, code, out.String())
			want := tc.want
			if tc.args[0] != "login" {
				want = append(want, "--url URL", "AIGATE_URL", "--token TOKEN", "AIGATE_TOKEN", "--output FORMAT", "\n  -o FORMAT")
			}
			for _, w := range want {
				require.Contains(t, out.String(), w)
			}
		})
	}
}

// Provider keys for the provider tests. Each has a middle no mask shows, so
// the scan also catches a partial leak.
const (
	providerKey1 = "sk-one-MIDDLEONE0123456789-aaaa"
	providerKey2 = "sk-two-MIDDLETWO0123456789-bbbb"
	providerKey3 = "sk-three-MIDDLETHREE0123456789-cccc"
	awsAccessKey = "AKIAMIDDLEACCESS0123456789"
	awsSecret    = "aws/secret+MIDDLESECRET0123456789xyz"
)

// showProvider returns `providers show ref -o json`, decoded.
func showProvider(t *testing.T, r *cliRunner, ref string) client.Provider {
	t.Helper()
	var p client.Provider
	require.NoError(t, json.Unmarshal([]byte(r.ok("", "providers", "show", ref, "-o", "json")), &p))
	return p
}

func keyIDs(p client.Provider) []string {
	ids := make([]string, len(p.APIKeys))
	for i, k := range p.APIKeys {
		ids[i] = k.ID
	}
	return ids
}

// TestProvidersCLI runs an openai provider through its life: created with
// keys from stdin, listed, shown, its keys edited, a bad request refused,
// deleted and restored; no key is ever printed.
func TestProvidersCLI(t *testing.T) {
	t.Parallel()
	url := startAPI(t)
	r := newRunner(t)
	loginFirstOwner(t, r, url)

	// Two keys, one per line; the blank line is skipped.
	out := r.ok(providerKey1+"\n\n"+providerKey2+"\n", "providers", "create", "openai-main", "--type", "openai", "--display-name", "OpenAI", "--api-key-stdin")
	require.Regexp(t, `(?m)^Name:\s+openai-main$`, out)
	require.Regexp(t, `(?m)^Type:\s+openai$`, out)
	require.Regexp(t, `(?m)^Base URL:\s+https://api\.openai\.com/v1/$`, out, "the type's default")
	require.Regexp(t, `(?m)^API keys:\s+2$`, out)

	out = r.ok("", "providers", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	require.Regexp(t, `^NAME\s+TYPE\s+BASE URL\s+KEYS\s+UPDATED\s+STATE$`, lines[0])
	require.Regexp(t, `^openai-main\s+openai\s+https://api\.openai\.com/v1/\s+2\s+\d{4}-\d\d-\d\dT\S+\s+ready$`, lines[1])

	var list client.ProviderList
	require.NoError(t, json.Unmarshal([]byte(r.ok("", "providers", "list", "-o", "json")), &list))
	require.Len(t, list.Providers, 1)
	p := list.Providers[0]
	require.Equal(t, "OpenAI", p.DisplayName)
	require.Len(t, p.APIKeys, 2)
	require.Equal(t, []string{"sk-o...aaaa", "sk-t...bbbb"}, []string{p.APIKeys[0].Masked, p.APIKeys[1].Masked}, "in the order given")
	id0, id1 := p.APIKeys[0].ID, p.APIKeys[1].ID

	// By name and by id, the same provider; the table lists the keys with
	// their positions and ids.
	require.Equal(t, p, showProvider(t, r, "openai-main"))
	out = r.ok("", "providers", "show", p.ID)
	require.Regexp(t, `(?m)^ID:\s+`+p.ID+`$`, out)
	require.Regexp(t, `(?m)^POSITION\s+KEY ID\s+KEY\s+CREATED$`, out)
	require.Regexp(t, `(?m)^0\s+`+id0+`\s+sk-o\.\.\.aaaa\s+\d{4}-`, out)
	require.Regexp(t, `(?m)^1\s+`+id1+`\s+sk-t\.\.\.bbbb\s+\d{4}-`, out)

	// Remove the first key, add a third: the second moves up, the new one
	// goes last.
	out = r.ok(providerKey3+"\n", "providers", "edit", "openai-main", "--remove-api-key", id0, "--add-api-key-stdin")
	require.Regexp(t, `(?m)^API keys:\s+2$`, out)
	p = showProvider(t, r, "openai-main")
	require.Len(t, p.APIKeys, 2)
	require.Equal(t, id1, p.APIKeys[0].ID)
	require.NotContains(t, []string{id0, id1}, p.APIKeys[1].ID, "a new key")
	require.Equal(t, "sk-t...cccc", p.APIKeys[1].Masked)
	ids := keyIDs(p)

	// A key id not on the provider is refused before anything is sent.
	const strangerID = "00000000-0000-4000-8000-000000000000"
	errOut := r.fail(providerKey1+"\n", "providers", "edit", "openai-main", "--remove-api-key", ids[0], "--remove-api-key", strangerID, "--add-api-key-stdin")
	require.Contains(t, errOut, `provider openai-main has no key "`+strangerID+`"`)
	require.Equal(t, ids, keyIDs(showProvider(t, r, "openai-main")), "nothing changed")

	// Replace them all: nothing kept.
	r.ok(providerKey1+"\n"+providerKey2+"\n", "providers", "edit", "openai-main", "--replace-api-keys-stdin")
	p = showProvider(t, r, "openai-main")
	require.Len(t, p.APIKeys, 2)
	require.NotContains(t, ids, p.APIKeys[0].ID)
	require.NotContains(t, ids, p.APIKeys[1].ID)
	require.Equal(t, "sk-o...aaaa", p.APIKeys[0].Masked)

	require.Contains(t, r.fail("", "providers", "edit", "openai-main"), "nothing to change: give at least one of --name, --display-name")
	require.Contains(t, r.fail("", "providers", "edit", "openai-main", "--enable", "--disable"), "--enable and --disable cannot be given together")
	require.Contains(t, r.fail("", "providers", "edit", "openai-main", "--add-api-key-stdin"), "--add-api-key-stdin: no API key given")
	require.Contains(t, r.fail("", "providers", "create", "x", "--api-key-stdin"), "--type is required")

	out = r.ok("", "providers", "edit", "openai-main", "--disable", "--display-name", "Paused")
	require.Regexp(t, `(?m)^Enabled:\s+no$`, out)
	require.Regexp(t, `(?m)^Display name:\s+Paused$`, out)

	// The server's validations come through on stderr, exit status 1,
	// and no key in them.
	errOut = r.fail(providerKey1+"\n "+providerKey2+"\n", "providers", "create", "Bad_Name", "--type", "openai", "--base-url", "ftp://x", "--api-key-stdin")
	require.Contains(t, errOut, "error: Invalid request.")
	require.Contains(t, errOut, "\n  name: must match ")
	require.Contains(t, errOut, "\n  base_url: must be an absolute http or https URL")
	require.Contains(t, errOut, "\n  api_keys[1]: must not start or end with whitespace")
	require.Contains(t, r.fail("", "providers", "create", "openai-main", "--type", "anthropic"), `A provider named "openai-main" already exists`)

	// Delete: gone from show and list, kept with --include-deleted, back
	// after restore with its keys.
	require.Equal(t, "Deleted provider openai-main; 'aigate providers restore openai-main' brings it back.\n", r.ok("", "providers", "delete", "openai-main"))
	require.Contains(t, r.fail("", "providers", "show", "openai-main"), `error: No provider "openai-main".`)
	require.Contains(t, r.fail("", "providers", "delete", "openai-main"), `No provider "openai-main".`)
	require.Equal(t, 1, len(strings.Split(strings.TrimSpace(r.ok("", "providers", "list")), "\n")), "only the header")
	out = r.ok("", "providers", "list", "--include-deleted")
	require.Regexp(t, `(?m)^openai-main\s+openai\s+\S+\s+2\s+\S+\s+deleted$`, out)
	require.Equal(t, "Restored provider openai-main (enabled, 2 API keys).\n", r.ok("", "providers", "restore", "openai-main"))
	p = showProvider(t, r, "openai-main")
	require.True(t, p.Enabled)
	require.Len(t, p.APIKeys, 2)
	require.Contains(t, r.fail("", "providers", "restore", "openai-main"), `Provider "openai-main" is not deleted.`)

	r.requireNoSecretsInOutput(providerKey1, providerKey2, providerKey3, "MIDDLEONE", "MIDDLETWO", "MIDDLETHREE")
	r.requireNoSecretsOnStderr(r.storedCredentials()["token"])
}

// TestProvidersBedrockCLI checks the Bedrock settings and that the AWS
// credentials, read from stdin, are never shown.
func TestProvidersBedrockCLI(t *testing.T) {
	t.Parallel()
	url := startAPI(t)
	r := newRunner(t)
	loginFirstOwner(t, r, url)

	creds := awsAccessKey + "\n" + awsSecret + "\n"
	out := r.ok(creds, "providers", "create", "bedrock-east", "--type", "bedrock", "--region", "us-east-1", "--access-key-stdin")
	require.Regexp(t, `(?m)^Region:\s+us-east-1$`, out)
	require.Regexp(t, `(?m)^Model:\s+`+regexp.QuoteMeta(providers.DefaultBedrockModel)+`$`, out)
	require.Regexp(t, `(?m)^AWS credentials:\s+stored$`, out)
	require.Regexp(t, `(?m)^API keys:\s+0$`, out)

	raw := r.ok("", "providers", "show", "bedrock-east", "-o", "json")
	require.NotContains(t, raw, "access_key", "credentials are write-only")
	var p client.Provider
	require.NoError(t, json.Unmarshal([]byte(raw), &p))
	require.Equal(t, "bedrock", p.Type)
	require.NotNil(t, p.Settings)
	require.True(t, p.Settings.HasCredentials)
	require.Equal(t, "us-east-1", p.Settings.Region)

	// A setting changed alone keeps the credentials.
	r.ok("", "providers", "edit", "bedrock-east", "--model", "custom-model")
	p = showProvider(t, r, "bedrock-east")
	require.Equal(t, "custom-model", p.Settings.Model)
	require.True(t, p.Settings.HasCredentials)

	out = r.ok("", "providers", "edit", "bedrock-east", "--clear-access-key")
	require.Regexp(t, `(?m)^AWS credentials:\s+none`, out)
	require.False(t, showProvider(t, r, "bedrock-east").Settings.HasCredentials)
	r.ok(creds, "providers", "edit", "bedrock-east", "--access-key-stdin")
	require.True(t, showProvider(t, r, "bedrock-east").Settings.HasCredentials)

	require.Contains(t, r.fail(awsAccessKey+"\n", "providers", "edit", "bedrock-east", "--access-key-stdin"), "stdin ended")
	require.Contains(t, r.fail(creds, "providers", "create", "b2", "--type", "bedrock", "--region", "us-east-1", "--access-key-stdin", "--api-key-stdin"),
		"--api-key-stdin and --access-key-stdin cannot be given together")
	errOut := r.fail(providerKey1+"\n", "providers", "create", "b2", "--type", "bedrock", "--region", "us-east-1", "--api-key-stdin")
	require.Contains(t, errOut, "\n  api_keys: a bedrock provider takes no api_keys")
	errOut = r.fail("", "providers", "edit", "bedrock-east", "--region", "")
	require.Contains(t, errOut, "\n  settings.region: a bedrock provider needs a region")

	r.requireNoSecretsInOutput(awsAccessKey, awsSecret, "MIDDLEACCESS", "MIDDLESECRET", providerKey1)
}

// TestProvidersBaseURLWarningCLI: a base URL against the vendor's convention
// is created all the same, and create, edit and show say why it is likely
// wrong on stderr, leaving stdout to the provider.
func TestProvidersBaseURLWarningCLI(t *testing.T) {
	t.Parallel()
	url := startAPI(t)
	r := newRunner(t)
	loginFirstOwner(t, r, url)
	const openaiWarning = "warning: base_url: has no API version segment: requests go to https://llm.corp.example/chat/completions; OpenAI-type base URLs include the version, such as https://llm.corp.example/v1/ (ignore this if the server serves the API at its root)\n"
	const anthropicWarning = "warning: base_url: ends in the API version: requests go to https://api.anthropic.com/v1/v1/messages; Anthropic-type base URLs exclude it, such as https://api.anthropic.com/\n"

	code, out, errOut := r.run(providerKey1+"\n", nil, "providers", "create", "corp", "--type", "openai", "--base-url", "https://llm.corp.example/", "--api-key-stdin")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, openaiWarning, errOut)
	require.Regexp(t, `(?m)^Base URL:\s+https://llm\.corp\.example/$`, out)

	code, out, errOut = r.run("", nil, "providers", "show", "corp", "-o", "json")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, openaiWarning, errOut)
	var p client.Provider
	require.NoError(t, json.Unmarshal([]byte(out), &p), "stdout stays plain JSON")
	require.Equal(t, []client.ProviderWarning{{Field: "base_url", Detail: strings.TrimSuffix(strings.TrimPrefix(openaiWarning, "warning: base_url: "), "\n")}}, p.Warnings)

	code, _, errOut = r.run("", nil, "providers", "edit", "corp", "--base-url", "https://llm.corp.example/v1/")
	require.Equal(t, 0, code, errOut)
	require.Empty(t, errOut, "fixed")

	code, _, errOut = r.run("", nil, "providers", "create", "claude", "--type", "anthropic", "--base-url", "https://api.anthropic.com/v1")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, anthropicWarning, errOut)
	code, _, errOut = r.run("", nil, "providers", "edit", "claude", "--display-name", "Claude")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, anthropicWarning, errOut, "every edit says it again until the base URL is fixed")

	code, _, errOut = r.run("", nil, "providers", "create", "openai", "--type", "openai")
	require.Equal(t, 0, code, errOut)
	require.Empty(t, errOut, "the default base URL is right")
	r.requireNoSecretsInOutput(providerKey1)
}
