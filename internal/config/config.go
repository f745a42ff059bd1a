// Package config owns aigate's command-line options: one table of options,
// each with its flag, environment variable, default, validation, description
// and secret flag. Parsing, --help and docs/configuration.md all come from it.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Option is one setting, read from a flag, an environment variable or its
// default, in that order of precedence.
type Option struct {
	Flag        string // without dashes, e.g. "http-address"
	Env         string // e.g. "AIGATE_HTTP_ADDRESS"; empty for flag-only options
	Default     string // the value used when neither flag nor env is given
	DefaultText string // shown instead of Default in help when the default is computed
	Description string
	Arg         string // the value's placeholder in help, e.g. "ADDR"
	Expect      string // the accepted form, for error messages and help, e.g. "host:port"
	Secret      bool   // never printed: not in errors, help defaults or dumps
	// Bool makes the option a switch: "--flag" alone means "--flag=true".
	// Set then receives "true" or "false" (or what "--flag=VALUE" gave).
	Bool bool
	// Set parses and validates a value and stores it. The error says what
	// is wrong with the value; Parse adds where it came from.
	Set func(string) error

	source string
}

// ValueError is an invalid option value. It names the flag, the variable and
// the expected form; it never includes a secret value.
type ValueError struct {
	Option *Option
	Source string // "flag", "env" or "default"
	Value  string
	Err    error
}

func (e *ValueError) Error() string {
	value := fmt.Sprintf("%q", e.Value)
	if e.Option.Secret {
		value = "(value hidden: it is a secret)"
	}
	where := FlagName(e.Option.Flag)
	if e.Option.Env != "" {
		where += " (" + e.Option.Env + ")"
	}
	from := map[string]string{"flag": "given by " + FlagName(e.Option.Flag), "env": "given by " + e.Option.Env, "default": "the default"}[e.Source]
	msg := fmt.Sprintf("invalid value %s for %s, %s: %v", value, where, from, e.Err)
	if e.Option.Expect != "" {
		msg += "; expected " + e.Option.Expect
	}
	return msg
}

func (e *ValueError) Unwrap() error { return e.Err }

// ErrHelp is returned by Parse when --help or -h was given; the help text has
// been written.
var ErrHelp = errors.New("help requested")

// Set is the options of one command.
type Set struct {
	Command string // e.g. "aigate server"
	Summary string
	Usage   string // argument synopsis after the command, e.g. "[flags]"
	Options []*Option
}

// Parse applies defaults, then environment variables, then flags, and returns
// the positional arguments. getenv is injected so tests control it.
func (s *Set) Parse(args []string, getenv func(string) string, helpOut io.Writer) ([]string, error) {
	for _, o := range s.Options {
		if err := o.Set(o.Default); err != nil {
			return nil, &ValueError{Option: o, Source: "default", Value: o.Default, Err: err}
		}
		o.source = "default"
	}
	for _, o := range s.Options {
		if o.Env == "" {
			continue
		}
		if v, ok := lookupEnv(getenv, o.Env); ok {
			if err := o.Set(v); err != nil {
				return nil, &ValueError{Option: o, Source: "env", Value: v, Err: err}
			}
			o.source = "env"
		}
	}

	fs := flag.NewFlagSet(s.Command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var valueErr *ValueError
	for _, o := range s.Options {
		fs.Var(flagValue{o: o, onErr: func(e *ValueError) { valueErr = e }}, o.Flag, o.Description)
	}
	// Flags may come before, between and after the positional arguments
	// (`aigate tokens create ci --user me`): parse, set aside the argument
	// the flag package stopped at, and go on with the rest. After "--",
	// everything is positional.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				s.WriteHelp(helpOut)
				return nil, ErrHelp
			}
			if valueErr != nil {
				return nil, valueErr
			}
			return nil, s.flagError(err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if stop := len(args) - len(rest) - 1; stop >= 0 && args[stop] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// flagError rewrites the flag package's errors in the CLI's terms: the
// flag as it is written (-o, --name) and, for an unknown one, the closest
// known flag.
func (s *Set) flagError(err error) error {
	hint := fmt.Sprintf("run '%s --help' for the list of flags", s.Command)
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		known := make([]string, len(s.Options))
		for i, o := range s.Options {
			known[i] = o.Flag
		}
		if near := Suggest(name, known); near != "" {
			return fmt.Errorf("%s: unknown flag %s (did you mean %s?); %s", s.Command, FlagName(name), FlagName(near), hint)
		}
		return fmt.Errorf("%s: unknown flag %s; %s", s.Command, FlagName(name), hint)
	}
	if name, ok := strings.CutPrefix(err.Error(), "flag needs an argument: -"); ok {
		return fmt.Errorf("%s: %s needs a value; %s", s.Command, FlagName(name), hint)
	}
	return fmt.Errorf("%s: %w; %s", s.Command, err, hint)
}

// lookupEnv treats a variable set to the empty string as unset, so that
// `AIGATE_X= aigate ...` behaves like not setting it.
func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

type flagValue struct {
	o     *Option
	onErr func(*ValueError)
}

func (f flagValue) String() string { return "" }

// IsBoolFlag tells the flag package that a Bool option takes no value.
func (f flagValue) IsBoolFlag() bool { return f.o.Bool }

func (f flagValue) Set(v string) error {
	if err := f.o.Set(v); err != nil {
		e := &ValueError{Option: f.o, Source: "flag", Value: v, Err: err}
		f.onErr(e)
		return e
	}
	f.o.source = "flag"
	return nil
}

// Source says where an option's value came from: "flag", "env" or "default".
func (o *Option) Source() string { return o.source }

// WriteHelp prints the command's usage and its options with their
// environment variables and defaults.
func (s *Set) WriteHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", strings.TrimSpace(s.Command+" "+s.Usage), s.Summary)
	if len(s.Options) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags:\n")
	opts := append([]*Option(nil), s.Options...)
	sort.SliceStable(opts, func(i, j int) bool { return opts[i].Flag < opts[j].Flag })
	for _, o := range opts {
		if o.Bool {
			fmt.Fprintf(w, "  %s\n", FlagName(o.Flag))
		} else {
			fmt.Fprintf(w, "  %s %s\n", FlagName(o.Flag), placeholder(o))
		}
		fmt.Fprintf(w, "      %s\n", o.Description)
		var meta []string
		if o.Env != "" {
			meta = append(meta, "env "+o.Env)
		}
		meta = append(meta, "default "+o.defaultForDisplay())
		fmt.Fprintf(w, "      (%s)\n", strings.Join(meta, ", "))
	}
}

func placeholder(o *Option) string {
	if o.Arg == "" {
		return "VALUE"
	}
	return o.Arg
}

func (o *Option) defaultForDisplay() string {
	switch {
	case o.DefaultText != "":
		return o.DefaultText
	case o.Default == "":
		return "empty"
	case o.Secret:
		return "(secret)"
	default:
		return o.Default
	}
}

// Markdown renders the options as the table in docs/configuration.md.
func (s *Set) Markdown() string {
	var b strings.Builder
	b.WriteString("| flag | env | default | description |\n| --- | --- | --- | --- |\n")
	for _, o := range s.Options {
		env := "—"
		if o.Env != "" {
			env = "`" + o.Env + "`"
		}
		desc := o.Description
		if o.Expect != "" {
			desc += " Form: " + o.Expect + "."
		}
		if o.Secret {
			desc += " Secret: never printed."
		}
		fmt.Fprintf(&b, "| `--%s` | %s | %s | %s |\n", o.Flag, env, strings.ReplaceAll(o.defaultForDisplay(), "|", "\\|"), strings.ReplaceAll(desc, "|", "\\|"))
	}
	return b.String()
}
