package config_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/config"
)

func TestSuggest(t *testing.T) {
	t.Parallel()
	server := func() []string {
		var names []string
		for _, o := range config.ServerOptions(&config.Server{}) {
			names = append(names, o.Flag)
		}
		return names
	}()
	for typed, want := range map[string]string{
		"port":                    "http-address", // a word from other tools
		"listen":                  "http-address",
		"http-addresss":           "http-address", // a typo
		"HTTP_ADDRESS":            "http-address", // case and underscores
		"shutdown-timout":         "shutdown-timeout",
		"log-lvl":                 "log-level",
		"database-url":            "postgres-url",
		"postgres-timeout":        "postgres-connect-timeout", // words of a longer name
		"postgres-connect-timeot": "postgres-connect-timeout",
		"--record-prompt":         "record-prompts",
		"verbose":                 "", // nothing alike
		"x":                       "",
		"":                        "",
		"http-address":            "", // not unknown
	} {
		require.Equal(t, want, config.Suggest(typed, server), "for %q", typed)
	}
	require.Empty(t, config.Suggest("0", []string{"output", "o"}), "one letter off a one-letter flag is too little to go on")
	require.Equal(t, "metrics-address", config.Suggest("metrics-port", []string{"http-address", "metrics-address"}), "the name with the most words in common")
	require.Equal(t, "http-address", config.Suggest("port", []string{"http-address", "metrics-address"}), "ties go to the first")
}

func TestUnknownFlagSuggestsTheClosest(t *testing.T) {
	t.Parallel()
	for args, want := range map[string]string{
		"--port":         "aigate server: unknown flag --port (did you mean --http-address?); run 'aigate server --help' for the list of flags",
		"-log-levl":      "aigate server: unknown flag --log-levl (did you mean --log-level?); run 'aigate server --help' for the list of flags",
		"--frobnicate":   "aigate server: unknown flag --frobnicate; run 'aigate server --help' for the list of flags",
		"-q":             "aigate server: unknown flag -q; run 'aigate server --help' for the list of flags",
		"--http-address": "aigate server: --http-address needs a value; run 'aigate server --help' for the list of flags",
	} {
		var cfg config.Server
		_, err := serverSet(&cfg).Parse([]string{args}, env(nil), nil)
		require.EqualError(t, err, want)
		var ve *config.ValueError
		require.False(t, errors.As(err, &ve))
	}
}

func TestFlagName(t *testing.T) {
	t.Parallel()
	require.Equal(t, "-o", config.FlagName("o"))
	require.Equal(t, "--output", config.FlagName("output"))
}
func TestEditDistance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "ABC", 3},
		{"ABC", "", 3},
		{"OPENIA", "OPENAI", 1}, // a transposition is one edit
		{"BASEURL", "BASE_URL", 1},
		{"KITTEN", "SITTING", 3},
		{"CA", "ABC", 3}, // optimal string alignment: no edit of a transposed pair
		{"ÄB", "AB", 1},  // runes, not bytes
	} {
		require.Equal(t, c.want, config.EditDistance(c.a, c.b), "%q %q", c.a, c.b)
		require.Equal(t, c.want, config.EditDistance(c.b, c.a), "symmetric: %q %q", c.b, c.a)
	}
}
