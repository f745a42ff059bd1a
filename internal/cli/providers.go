package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/config"
)

// Secrets (API keys, AWS credentials) are never flag values: a flag shows in
// `ps` and in shell history. They come from stdin, or from a prompt without
// echo when stdin is a terminal.

// maxSecretInput bounds what the CLI reads of piped secrets: a handful of
// keys of a few KiB each.
const maxSecretInput = 1 << 20

func providersCommand() *Command {
	return &Command{
		Name:    "providers",
		Summary: "List and manage AI providers and their keys (owners; auditors may read; members may list the ones they use)",
		Sub: []*Command{
			providersListCommand(),
			providersShowCommand(),
			providersCreateCommand(),
			providersEditCommand(),
			providersDeleteCommand(),
			providersRestoreCommand(),
			providersPlanCommand(),
		},
	}
}

// shortProvider is a provider in the short form members get, as the CLI
// prints it in JSON: the fields the server sent, none made up as zeros.
type shortProvider struct {
	Name           string `json:"name"`
	Type           string `json:"type"`
	DisplayName    string `json:"display_name"`
	GatewayBaseURL string `json:"gateway_base_url"`
}

func providersListCommand() *Command {
	var includeDeleted bool
	return clientCommand{
		name: "providers list", summary: "List the providers (keys only counted); for members, the ones they may use and the URL to set in their tools",
		options: []*config.Option{boolOption(&includeDeleted, "include-deleted", "List deleted providers too (owners and auditors).")},
		run: func(ctx context.Context, _ IO, c *client.Client, out output, _ []string) error {
			l, err := c.ListProviders(ctx, includeDeleted)
			if err != nil {
				return err
			}
			// The server says which form it answered: an empty list has no
			// provider to tell it by.
			if l.Short() {
				return writeShortProviders(out, l)
			}
			if out.json() {
				return out.writeJSON(l)
			}
			tw := out.table()
			// STATE is the last column: "broken: ..." has spaces in it.
			fmt.Fprintln(tw, "NAME\tTYPE\tBASE URL\tKEYS\tUPDATED\tSTATE")
			for _, p := range l.Providers {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", p.Name, p.Type, orDash(p.BaseURL), len(p.APIKeys), formatTime(p.UpdatedAt), providerState(p))
			}
			return tw.Flush()
		},
	}.command()
}

// writeShortProviders prints a member's list: each provider with the base
// URL to set in a tool (OPENAI_BASE_URL, ANTHROPIC_BASE_URL) to use it.
func writeShortProviders(out output, l client.ProviderList) error {
	if out.json() {
		ps := make([]shortProvider, len(l.Providers))
		for i, p := range l.Providers {
			ps[i] = shortProvider{Name: p.Name, Type: p.Type, DisplayName: p.DisplayName, GatewayBaseURL: p.GatewayBaseURL}
		}
		return out.writeJSON(map[string]any{"providers": ps, "form": l.Form})
	}
	tw := out.table()
	fmt.Fprintln(tw, "NAME\tTYPE\tBASE URL")
	for _, p := range l.Providers {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Type, orDash(p.GatewayBaseURL))
	}
	return tw.Flush()
}

func providersShowCommand() *Command {
	return clientCommand{
		name: "providers show", usage: "NAME|ID", nargs: 1,
		summary: "Show one provider, by name or id, with its keys masked",
		run: func(ctx context.Context, io IO, c *client.Client, out output, args []string) error {
			p, err := c.GetProvider(ctx, args[0])
			if err != nil {
				return err
			}
			warn(io, p)
			return writeProvider(out, p)
		},
	}.command()
}

// warn prints the provider's warnings on stderr, in both output formats:
// stdout may be a script's JSON, and the command still succeeds.
func warn(io IO, p client.Provider) {
	for _, w := range p.Warnings {
		fmt.Fprintf(io.Stderr, "warning: %s: %s\n", w.Field, w.Detail)
	}
}

// writeProvider prints one provider as JSON or as a field list followed by
// its keys, masked, in the order they are tried.
func writeProvider(out output, p client.Provider) error {
	if out.json() {
		return out.writeJSON(p)
	}
	tw := out.table()
	rows := [][2]string{
		{"ID", p.ID}, {"Name", p.Name}, {"Type", p.Type}, {"Display name", orDash(p.DisplayName)},
		{"Enabled", yesNo(p.Enabled)}, {"State", providerState(p)},
	}
	if p.Deleted {
		rows = append(rows, [2]string{"Deleted", "yes"})
	}
	rows = append(rows, [2]string{"Base URL", orDash(p.BaseURL)}, [2]string{"Gateway URL", orDash(p.GatewayBaseURL)})
	if s := p.Settings; s != nil {
		creds := "none (the AWS credential chain of the server)"
		if s.HasCredentials {
			creds = "stored"
		}
		rows = append(rows, [][2]string{
			{"Region", orDash(s.Region)}, {"Model", s.Model}, {"Small fast model", s.SmallFastModel}, {"AWS credentials", creds},
		}...)
	}
	rows = append(rows, [][2]string{
		{"Created", formatTime(p.CreatedAt)}, {"Updated", formatTime(p.UpdatedAt)}, {"API keys", strconv.Itoa(len(p.APIKeys))},
	}...)
	for _, row := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(p.APIKeys) == 0 {
		return nil
	}
	fmt.Fprintln(out.w)
	tw = out.table()
	fmt.Fprintln(tw, "POSITION\tKEY ID\tKEY\tCREATED")
	for i, k := range p.APIKeys {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", i, k.ID, k.Masked, formatTime(k.CreatedAt))
	}
	return tw.Flush()
}

// providerState is the state the server computed; a server older than the
// field sends none, and then the CLI tells what it can from the rest.
func providerState(p client.Provider) string {
	switch {
	case p.State != "":
		return p.State
	case p.Deleted:
		return "deleted"
	case !p.Enabled:
		return "disabled"
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// providerFields are the options create and edit share.
type providerFields struct {
	displayName, baseURL          string
	region, model, smallFastModel string
	accessKeyStdin                bool
	opts                          map[string]*config.Option
}

// options are the shared options; what is "New" in edit is "The" in create.
func (f *providerFields) options(edit bool) []*config.Option {
	the := "The"
	if edit {
		the = "New"
	}
	display := stringOption(&f.displayName, "display-name", "TEXT", the+" name shown to people.", "up to 200 characters")
	baseURL := stringOption(&f.baseURL, "base-url", "URL",
		the+" upstream base URL; empty: the default of openai and anthropic (bedrock needs a region or a base URL).", "an absolute http(s) URL such as https://api.openai.com/v1/")
	region := stringOption(&f.region, "region", "REGION", "Bedrock: "+strings.ToLower(the)+" AWS region.", "an AWS region such as us-east-1")
	model := stringOption(&f.model, "model", "MODEL", "Bedrock: "+strings.ToLower(the)+" model ID; empty: the default.", "a Bedrock model ID")
	small := stringOption(&f.smallFastModel, "small-fast-model", "MODEL", "Bedrock: "+strings.ToLower(the)+" small, fast model ID; empty: the default.", "a Bedrock model ID")
	access := boolOption(&f.accessKeyStdin, "access-key-stdin",
		"Bedrock: read an AWS access key ID and its secret from stdin, one per line (on a terminal: asked for, without echo).")
	f.opts = map[string]*config.Option{"display-name": display, "base-url": baseURL, "region": region, "model": model, "small-fast-model": small}
	return []*config.Option{display, baseURL, region, model, small, access}
}

// given reports whether the flag was on the command line.
func (f *providerFields) given(flag string) bool { return f.opts[flag].Source() == "flag" }

// settings is the settings object the flags ask for, nil when none was
// given. Empty values are sent as given: in an edit, "" resets a model to
// its default and clears the region.
func (f *providerFields) settings() *client.ProviderSettingsInput {
	var s client.ProviderSettingsInput
	if f.given("region") {
		s.Region = &f.region
	}
	if f.given("model") {
		s.Model = &f.model
	}
	if f.given("small-fast-model") {
		s.SmallFastModel = &f.smallFastModel
	}
	if s == (client.ProviderSettingsInput{}) {
		return nil
	}
	return &s
}

// withCredentials adds an access key pair to s (which may be nil).
func withCredentials(s *client.ProviderSettingsInput, accessKey, secret string) *client.ProviderSettingsInput {
	if s == nil {
		s = &client.ProviderSettingsInput{}
	}
	s.AccessKey, s.AccessKeySecret = &accessKey, &secret
	return s
}

// onlyOne fails when more than one of the flags named in set is on.
func onlyOne(set map[string]bool) error {
	var on []string
	for _, name := range []string{
		"api-key-stdin", "add-api-key-stdin", "replace-api-keys-stdin", "access-key-stdin", "clear-access-key", "enable", "disable",
	} {
		if set[name] {
			on = append(on, "--"+name)
		}
	}
	if len(on) > 1 {
		return fmt.Errorf("%s cannot be given together", strings.Join(on, " and "))
	}
	return nil
}

func providersCreateCommand() *Command {
	var (
		f                     providerFields
		typ                   string
		disabled, apiKeyStdin bool
	)
	typeOpt := stringOption(&typ, "type", "TYPE",
		"Provider type: openai, anthropic, or bedrock (Anthropic models through AWS Bedrock).", "openai, anthropic or bedrock")
	opts := append([]*config.Option{typeOpt}, f.options(false)...)
	opts = append(opts,
		boolOption(&disabled, "disabled", "Create the provider disabled: it serves no requests until enabled."),
		boolOption(&apiKeyStdin, "api-key-stdin",
			"Read API keys from stdin, one per line, the first tried first; blank lines are ignored (on a terminal: asked for, without echo)."),
	)
	return clientCommand{
		name: "providers create", usage: "NAME", nargs: 1, options: opts,
		summary: "Create a provider; API keys and AWS credentials are read from stdin, never from flags",
		run: func(ctx context.Context, io IO, c *client.Client, out output, args []string) error {
			if typeOpt.Source() != "flag" {
				return errors.New("--type is required: openai, anthropic or bedrock")
			}
			if err := onlyOne(map[string]bool{"api-key-stdin": apiKeyStdin, "access-key-stdin": f.accessKeyStdin}); err != nil {
				return fmt.Errorf("%w: stdin holds one kind of secret at a time", err)
			}
			in := client.ProviderInput{
				Name: args[0], Type: typ, DisplayName: f.displayName, BaseURL: f.baseURL, Settings: f.settings(),
			}
			if disabled {
				enabled := false
				in.Enabled = &enabled
			}
			switch {
			case apiKeyStdin:
				keys, err := newInput(io).apiKeys("--api-key-stdin")
				if err != nil {
					return err
				}
				for _, k := range keys {
					in.APIKeys = append(in.APIKeys, client.NewKey(k))
				}
			case f.accessKeyStdin:
				id, secret, err := newInput(io).accessKeyPair()
				if err != nil {
					return err
				}
				in.Settings = withCredentials(in.Settings, id, secret)
			}
			p, err := c.CreateProvider(ctx, in)
			if err != nil {
				return err
			}
			warn(io, p)
			return writeProvider(out, p)
		},
	}.command()
}

// editFlags lists the flags of providers edit, for the "nothing to change"
// error.
const editFlags = "--name, --display-name, --base-url, --enable, --disable, --region, --model, --small-fast-model, " +
	"--add-api-key-stdin, --remove-api-key, --replace-api-keys-stdin, --access-key-stdin, --clear-access-key"

func providersEditCommand() *Command {
	var (
		f                                      providerFields
		newName                                string
		enable, disable, addStdin, replaceKeys bool
		clearAccessKey                         bool
		remove                                 []string
	)
	nameOpt := stringOption(&newName, "name", "NAME", "New name of the provider (its routing name).", "lower-case letters, digits and single dashes")
	opts := append([]*config.Option{nameOpt}, f.options(true)...)
	opts = append(opts,
		boolOption(&enable, "enable", "Enable the provider."),
		boolOption(&disable, "disable", "Disable the provider: it serves no requests, and keeps its keys."),
		boolOption(&addStdin, "add-api-key-stdin", "Add API keys read from stdin, one per line, after the current ones (on a terminal: asked for, without echo)."),
		&config.Option{
			Flag: "remove-api-key", Arg: "KEY_ID",
			Description: "Remove the key with this id (see 'aigate providers show'); repeat the flag to remove several.",
			Expect:      "a key id as 'aigate providers show' prints it",
			Set: func(v string) error {
				if v == "" { // the default: no key removed
					remove = nil
					return nil
				}
				remove = append(remove, v)
				return nil
			},
		},
		boolOption(&replaceKeys, "replace-api-keys-stdin", "Replace all API keys by the ones read from stdin, one per line, the first tried first."),
		boolOption(&clearAccessKey, "clear-access-key", "Bedrock: forget the stored AWS credentials; the server's AWS credential chain is used instead."),
	)
	return clientCommand{
		name: "providers edit", usage: "NAME|ID", nargs: 1, options: opts,
		summary: "Change a provider; only the flags given change. Keys are read from stdin, never from flags",
		run: func(ctx context.Context, io IO, c *client.Client, out output, args []string) error {
			if err := onlyOne(map[string]bool{"enable": enable, "disable": disable}); err != nil {
				return err
			}
			if err := onlyOne(map[string]bool{"add-api-key-stdin": addStdin, "replace-api-keys-stdin": replaceKeys, "access-key-stdin": f.accessKeyStdin}); err != nil {
				return fmt.Errorf("%w: stdin holds one kind of secret at a time", err)
			}
			if err := onlyOne(map[string]bool{"access-key-stdin": f.accessKeyStdin, "clear-access-key": clearAccessKey}); err != nil {
				return err
			}
			if replaceKeys && len(remove) > 0 {
				return errors.New("--remove-api-key and --replace-api-keys-stdin cannot be given together: the replacement is the whole new key set")
			}
			var p client.ProviderPatch
			if nameOpt.Source() == "flag" {
				p.Name = &newName
			}
			if f.given("display-name") {
				p.DisplayName = &f.displayName
			}
			if f.given("base-url") {
				p.BaseURL = &f.baseURL
			}
			if enable || disable {
				p.Enabled = &enable
			}
			p.Settings = f.settings()
			switch {
			case f.accessKeyStdin:
				id, secret, err := newInput(io).accessKeyPair()
				if err != nil {
					return err
				}
				p.Settings = withCredentials(p.Settings, id, secret)
			case clearAccessKey:
				p.Settings = withCredentials(p.Settings, "", "")
			}
			ref := args[0]
			if addStdin || replaceKeys || len(remove) > 0 {
				var added []string
				if addStdin || replaceKeys {
					flag := "--add-api-key-stdin"
					if replaceKeys {
						flag = "--replace-api-keys-stdin"
					}
					var err error
					if added, err = newInput(io).apiKeys(flag); err != nil {
						return err
					}
				}
				// The server takes the complete new set: read the current
				// one, and patch by id so a rename in between does not
				// send the change elsewhere.
				cur, err := c.GetProvider(ctx, ref)
				if err != nil {
					return err
				}
				keys, err := keySet(cur, remove, added, replaceKeys)
				if err != nil {
					return err
				}
				p.APIKeys, ref = &keys, cur.ID
			}
			if p == (client.ProviderPatch{}) {
				return errors.New("nothing to change: give at least one of " + editFlags)
			}
			pr, err := c.UpdateProvider(ctx, ref, p)
			if err != nil {
				return err
			}
			warn(io, pr)
			return writeProvider(out, pr)
		},
	}.command()
}

// keySet is the complete new key set of an edit: the current keys in their
// order less the removed ones (none with replace), then the added keys.
func keySet(cur client.Provider, remove, added []string, replace bool) ([]client.ProviderKeyInput, error) {
	drop := make(map[string]bool, len(remove))
	for _, id := range remove {
		drop[strings.ToLower(id)] = true
	}
	keys := []client.ProviderKeyInput{}
	for _, k := range cur.APIKeys {
		if replace || drop[strings.ToLower(k.ID)] {
			delete(drop, strings.ToLower(k.ID))
			continue
		}
		keys = append(keys, client.KeepKey(k.ID))
	}
	for _, id := range remove {
		if drop[strings.ToLower(id)] {
			return nil, fmt.Errorf("provider %s has no key %q; 'aigate providers show %s' lists its key ids", cur.Name, id, cur.Name)
		}
	}
	for _, k := range added {
		keys = append(keys, client.NewKey(k))
	}
	return keys, nil
}

func providersDeleteCommand() *Command {
	return clientCommand{
		name: "providers delete", usage: "NAME|ID", nargs: 1,
		summary: "Delete a provider: it stops serving at once; its name stays reserved and it can be restored",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			if err := c.DeleteProvider(ctx, args[0]); err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(map[string]string{"deleted_provider": args[0]})
			}
			fmt.Fprintf(out.w, "Deleted provider %s; 'aigate providers restore %s' brings it back.\n", args[0], args[0])
			return nil
		},
	}.command()
}

func providersRestoreCommand() *Command {
	return clientCommand{
		name: "providers restore", usage: "NAME|ID", nargs: 1,
		summary: "Restore a deleted provider, enabled, with its keys",
		run: func(ctx context.Context, _ IO, c *client.Client, out output, args []string) error {
			p, err := c.RestoreProvider(ctx, args[0])
			if err != nil {
				return err
			}
			if out.json() {
				return out.writeJSON(p)
			}
			fmt.Fprintf(out.w, "Restored provider %s (enabled, %d API keys).\n", p.Name, len(p.APIKeys))
			return nil
		},
	}.command()
}

// secret reads one secret: without echo on a terminal, else one line of
// stdin. what names it in errors; it is never part of them.
func (in *input) secret(prompt, what string) (string, error) {
	if !in.tty {
		return in.line(prompt, what)
	}
	fmt.Fprint(in.io.Stderr, prompt)
	raw, err := term.ReadPassword(in.fd)
	fmt.Fprintln(in.io.Stderr)
	if err != nil {
		return "", fmt.Errorf("read the %s: %w", what, err)
	}
	return string(raw), nil
}

// apiKeys reads API keys: on a terminal one prompt per key until an empty
// answer, else every non-blank line of stdin. Keys are sent as read, less
// the line ending: the server rejects surrounding whitespace rather than
// guess. The count is the server's to check.
func (in *input) apiKeys(flag string) ([]string, error) {
	var keys []string
	if in.tty {
		for {
			k, err := in.secret(fmt.Sprintf("API key %d (empty to finish): ", len(keys)+1), "API key")
			if err != nil {
				return nil, err
			}
			if k == "" {
				break
			}
			keys = append(keys, k)
		}
	} else {
		sc := bufio.NewScanner(io.LimitReader(in.r, maxSecretInput))
		sc.Buffer(make([]byte, 0, 64<<10), maxSecretInput)
		for sc.Scan() {
			line := strings.TrimSuffix(sc.Text(), "\r")
			if strings.TrimSpace(line) == "" {
				continue
			}
			keys = append(keys, line)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: read the API keys from stdin: %w", flag, err)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no API key given; pipe them in, one per line, as in: printf '%%s\\n' \"$KEY\" | aigate providers ... %s", flag, flag)
	}
	return keys, nil
}

// accessKeyPair reads an AWS access key ID and its secret: two lines of
// stdin, or two prompts without echo on a terminal.
func (in *input) accessKeyPair() (string, string, error) {
	id, err := in.secret("AWS access key ID: ", "AWS access key ID (--access-key-stdin: the first line)")
	if err != nil {
		return "", "", err
	}
	secret, err := in.secret("AWS secret access key: ", "AWS secret access key (--access-key-stdin: the second line)")
	if err != nil {
		return "", "", err
	}
	if id == "" || secret == "" {
		return "", "", errors.New("--access-key-stdin: give the access key ID on the first line and its secret on the second; --clear-access-key forgets stored credentials")
	}
	return id, secret, nil
}
