package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/config"
)

// errNotLoggedIn is returned when neither the options nor the stored
// credentials give a server URL and a token.
var errNotLoggedIn = errors.New("not logged in: run 'aigate login URL' (or set AIGATE_URL and AIGATE_TOKEN)")

// clientConfig is what every command that calls the admin API is
// configured with.
type clientConfig struct {
	URL    string // empty: the stored one
	Token  string // empty: the stored one
	Output string // "table" or "json"
}

// clientOptions is the option table of the client commands.
func clientOptions(c *clientConfig) []*config.Option {
	setOutput := func(v string) error {
		if v != "table" && v != "json" {
			return errors.New("unknown output format")
		}
		c.Output = v
		return nil
	}
	return []*config.Option{
		{
			Flag: "url", Arg: "URL", Env: "AIGATE_URL", Default: "",
			DefaultText: "the URL stored by 'aigate login'",
			Description: "URL of the aigate server to call.",
			Expect:      "an http(s) URL such as https://aigate.example.com",
			Set: func(v string) error {
				if v == "" {
					c.URL = ""
					return nil
				}
				u, err := client.ParseBaseURL(v)
				if err != nil {
					return errors.New("not an http(s) server URL")
				}
				c.URL = u
				return nil
			},
		},
		{
			Flag: "token", Arg: "TOKEN", Env: "AIGATE_TOKEN", Default: "",
			DefaultText: "the token stored by 'aigate login' for that URL",
			Description: "aigate API token to authenticate with.",
			Expect:      "an aigate API token (aig_...)",
			Secret:      true,
			Set:         func(v string) error { c.Token = v; return nil },
		},
		{
			Flag: "output", Arg: "FORMAT", Default: "table",
			Description: "Output format: table for people, json for scripts.",
			Expect:      "table or json",
			Set:         setOutput,
		},
		{
			Flag: "o", Arg: "FORMAT", Default: "table",
			Description: "Short for --output.",
			Expect:      "table or json",
			Set:         setOutput,
		},
	}
}

// connect returns a client of the configured server. --url and --token (or
// their variables) override the stored credentials; the stored token is only
// sent to the URL it was stored for.
func (c *clientConfig) connect(io IO) (*client.Client, error) {
	url, token := c.URL, c.Token
	if url == "" || token == "" {
		path, err := credentialsPath(io.Getenv)
		if err != nil {
			return nil, err
		}
		stored, err := loadCredentials(path)
		if err != nil {
			return nil, err
		}
		if url == "" {
			url = stored.URL
		}
		if token == "" && url == stored.URL {
			token = stored.Token
		}
	}
	if url == "" || token == "" {
		return nil, errNotLoggedIn
	}
	return client.New(url, token)
}

// credentials is what `aigate login` stores.
type credentials struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// credentialsPath is $XDG_CONFIG_HOME/aigate/config.json, or
// ~/.config/aigate/config.json.
func credentialsPath(getenv func(string) string) (string, error) {
	if x := getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) { // the XDG spec ignores relative paths
		return filepath.Join(x, "aigate", "config.json"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the config directory: %w; set HOME or XDG_CONFIG_HOME", err)
		}
		home = h
	}
	return filepath.Join(home, ".config", "aigate", "config.json"), nil
}

// loadCredentials reads the stored credentials; a missing file is none.
func loadCredentials(path string) (credentials, error) {
	var cr credentials
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cr, nil
	}
	if err != nil {
		return cr, fmt.Errorf("read stored credentials: %w", err)
	}
	if err := json.Unmarshal(raw, &cr); err != nil {
		// The decoder's message holds no content of the file: no token.
		return cr, fmt.Errorf("read stored credentials %s: not valid JSON (%w); run 'aigate login URL' to write it again", path, err)
	}
	return cr, nil
}

// saveCredentials writes the credentials readable by the user only, through
// a temporary file renamed over the old one, so a crash never leaves a
// half-written file.
func saveCredentials(path string, cr credentials) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	raw, err := json.MarshalIndent(cr, "", "  ")
	if err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	f, err := os.CreateTemp(dir, ".config-*.json.tmp") // created 0600
	if err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	if _, err := f.Write(append(raw, '\n')); err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	return nil
}

// clientCommand is one leaf command that calls the admin API.
type clientCommand struct {
	name    string // e.g. "users show"
	usage   string // positional arguments, e.g. "USER"
	summary string
	nargs   int // exact number of positional arguments
	options []*config.Option
	run     func(ctx context.Context, io IO, c *client.Client, out output, args []string) error
}

// command builds the Command: it parses the options, checks the arguments,
// connects and runs.
func (cc clientCommand) command() *Command {
	return &Command{
		Name:    cc.name[strings.LastIndex(cc.name, " ")+1:],
		Summary: cc.summary,
		Run: func(ctx context.Context, io IO, args []string) error {
			var cfg clientConfig
			set := &config.Set{
				Command: "aigate " + cc.name,
				Usage:   strings.TrimSpace(cc.usage + " [flags]"),
				Summary: cc.summary,
				Options: append(append([]*config.Option(nil), cc.options...), clientOptions(&cfg)...),
			}
			rest, err := set.Parse(args, io.Getenv, io.Stdout)
			if err != nil {
				return err
			}
			if len(rest) != cc.nargs {
				if cc.nargs == 0 {
					return fmt.Errorf("aigate %s takes no arguments, got %q", cc.name, rest)
				}
				return fmt.Errorf("usage: aigate %s %s (got %d arguments; run 'aigate %s --help')", cc.name, cc.usage, len(rest), cc.name)
			}
			c, err := cfg.connect(io)
			if err != nil {
				return err
			}
			defer c.Close()
			err = cc.run(ctx, io, c, output{format: cfg.Output, w: io.Stdout}, rest)
			if client.IsStatus(err, 401) {
				return fmt.Errorf("%w\nLog in again with 'aigate login %s', or set AIGATE_TOKEN", err, c.BaseURL())
			}
			return err
		},
	}
}

// output writes a command's result as a table or as JSON.
type output struct {
	format string
	w      io.Writer
}

func (o output) json() bool { return o.format == "json" }

// writeJSON prints v indented, with <, > and & as they are.
func (o output) writeJSON(v any) error {
	enc := json.NewEncoder(o.w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table returns a tabwriter over the output; Flush it.
func (o output) table() *tabwriter.Writer { return tabwriter.NewWriter(o.w, 0, 4, 2, ' ', 0) }

// formatTime shows times in UTC, to the second.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// formatOptTime shows a nullable time, or none when it is null.
func formatOptTime(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return formatTime(*t)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// stringOption is a plain string option without an environment variable.
func stringOption(p *string, flag, arg, description, expect string) *config.Option {
	return &config.Option{
		Flag: flag, Arg: arg, Description: description, Expect: expect,
		Set: func(v string) error { *p = v; return nil },
	}
}

// boolOption is a switch.
func boolOption(p *bool, flag, description string) *config.Option {
	return &config.Option{
		Flag: flag, Default: "false", Bool: true, Description: description, Expect: "true or false",
		Set: func(v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errors.New("not true or false")
			}
			*p = b
			return nil
		},
	}
}
