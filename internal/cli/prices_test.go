package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/servertest"
)

// aigate prices: set an override, see it in effect and the default it
// beats overridden, import a file, delete the override.
func TestPricesCLI(t *testing.T) {
	t.Parallel()
	sr := servertest.Start(t, servertest.Options{})
	r := newRunner(t)
	loginFirstOwner(t, r, sr.URL)

	out := r.ok("", "prices", "set", "--provider-type", "anthropic", "--model", "claude-sonnet-4-5*",
		"--input-price", "2.40", "--output-price", "12", "--note", "contract 42")
	require.Contains(t, out, "input 2.40, output 12.00, cache read 0.24, writes 5m 3.00 / 1h 4.80")
	require.Contains(t, out, "(in_effect)")

	out = r.ok("", "prices", "list", "--provider-type", "anthropic")
	require.Regexp(t, regexp.MustCompile(`(?m)^anthropic\s+claude-sonnet-4-5\*\s+any\s+override\s+in_effect\s+2\.40\s+12\.00\s`), out)
	require.Regexp(t, regexp.MustCompile(`(?m)^anthropic\s+claude-sonnet-4-5\*\s+any\s+default\s+overridden\s+3\.00\s+15\.00\s`), out)
	// An override replaces the default's tiers too (docs/prices-and-cost.md).
	require.Regexp(t, regexp.MustCompile(`(?m)^anthropic\s+claude-sonnet-4-5\*\s+>200000\s+default\s+overridden\s+6\.00\s+22\.50\s`), out)

	file := filepath.Join(t.TempDir(), "prices.json")
	require.NoError(t, os.WriteFile(file, []byte(`[{"provider_type":"openai","model":"gpt-4o","input":"2.00","output":"8.00","cache_read":"1.00"},
		{"provider_type":"openai","model":"ft:ours*","input":"3","output":"12"}]`), 0o600))
	require.Contains(t, r.ok("", "prices", "import", file), "2 prices imported.")
	code, _, errOut := r.run("", nil, "prices", "import", "-")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "not JSON")

	var book struct {
		Prices []struct{ ID, Model, Source, State string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.ok("", "prices", "list", "--source", "override", "-o", "json")), &book))
	require.Len(t, book.Prices, 3)
	for _, p := range book.Prices {
		require.Equal(t, "in_effect", p.State, p.Model)
		if p.Model == "claude-sonnet-4-5*" {
			require.Contains(t, r.ok("", "prices", "delete", p.ID), "deleted")
		}
	}
	require.NoError(t, json.Unmarshal([]byte(r.ok("", "prices", "list", "--source", "override", "-o", "json")), &book))
	require.Len(t, book.Prices, 2)
}
