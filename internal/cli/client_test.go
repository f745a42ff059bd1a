package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/api"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/cli"
	"github.com/aigate/aigate/internal/encryption"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/users"
)

const (
	ownerEmail    = "owner@example.com"
	ownerPassword = "correct horse battery staple"
	memberEmail   = "m@example.com"
	// memberPassword is deliberately unlike the owner's, so the secret scan
	// can tell them apart.
	memberPassword = "member password 0123456789"
)

// startAPI serves the admin API on loopback over a database of the test's
// own, and returns its URL.
func startAPI(t *testing.T) string {
	t.Helper()
	db := testdb.New(t)
	logger := testdb.Logger(t)
	authn := auth.NewAuthenticator(db, nil, logger)
	srv := httpserver.New(logger, prometheus.NewRegistry(), nil)
	keyring, err := encryption.NewKeyring(bytes.Repeat([]byte{7}, encryption.KeySize))
	require.NoError(t, err)
	api.New(db, authn, users.NewService(db, authn, &audit.Recorder{}, nil), providers.NewService(db, keyring, &audit.Recorder{}, nil), logger).Mount(srv)
	addr, err := srv.Listen("127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown(context.Background()))
		require.NoError(t, <-done)
	})
	return "http://" + addr.String()
}

// cliRunner runs the CLI in-process with a config directory of its own and
// collects everything written to stderr for the secret scan.
type cliRunner struct {
	t      *testing.T
	env    map[string]string
	mu     sync.Mutex
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
	url := startAPI(t)
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

	// Flags after the positional argument, as people type them.
	memberToken := strings.TrimSpace(r.ok("", "tokens", "create", "ci", "--user", memberEmail))
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

	out = r.ok("", "tokens", "list", "--user", memberEmail)
	require.Regexp(t, `^ID\s+NAME\s+EXPIRES\s+LAST USED\s+CREATED\n`, out)
	require.Regexp(t, `\sci\s+never\s+\d{4}-`, out, "the token was used once: LAST USED is set")
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
		APIToken struct{ ID, Name string } `json:"api_token"`
		Token    string                    `json:"token"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.ok("", "tokens", "create", "deploy", "--expires-in", "720h", "-o", "json")), &created))
	require.Equal(t, "deploy", created.APIToken.Name)
	require.True(t, strings.HasPrefix(created.Token, "aig_"))

	require.Equal(t, "Revoked token "+tokenID+".\n", r.ok("", "tokens", "revoke", tokenID, "--user", memberEmail))
	code, _, errOut = r.run("", asMember, "users", "show", "me")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "This token is not valid.")

	require.Equal(t, "Deleted user "+memberEmail+".\n", r.ok("", "users", "delete", memberEmail))
	require.Contains(t, r.fail("", "users", "show", memberEmail), "No user")

	r.requireNoSecretsOnStderr(ownerToken, memberToken, created.Token, ownerPassword, memberPassword)
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
	out := r.ok(ownerEmail+"\n"+ownerPassword+"\n", "login", url+"/")
	require.Equal(t, "Logged in to "+url+" as "+ownerEmail+" (owner)\n", out)
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
		{[]string{"tokens", "create", "--help"}, []string{"--user USER", "--expires-in DURATION"}},
		{[]string{"tokens", "revoke", "--help"}, []string{"--user USER"}},
		{[]string{"audit", "list", "--help"}, []string{"--resource-type", "--resource ", "--actor", "--action", "--since", "--until", "--limit", "--cursor"}},
	} {
		t.Run(strings.Join(tc.args[:len(tc.args)-1], " "), func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			code := cli.Main(context.Background(), tc.args, cli.IO{Stdout: &out, Stderr: &out, Getenv: env(nil)})
			require.Equal(t, 0, code, out.String())
			want := tc.want
			if tc.args[0] != "login" {
				want = append(want, "--url URL", "AIGATE_URL", "--token TOKEN", "AIGATE_TOKEN", "--output FORMAT", "--o FORMAT")
			}
			for _, w := range want {
				require.Contains(t, out.String(), w)
			}
		})
	}
}
