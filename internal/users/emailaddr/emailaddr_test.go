package emailaddr_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aigate/aigate/internal/users/emailaddr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNormalizeFoldsLookAlikes(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ in, want string }{
		"plain":                      {"sam@example.com", "sam@example.com"},
		"capitals":                   {"SAM@Example.COM", "sam@example.com"},
		"long s (U+017F)":            {"ſam@example.com", "sam@example.com"},
		"full-width letters":         {"ｓａｍ@example.com", "sam@example.com"},
		"full-width at sign":         {"sam＠example.com", "sam@example.com"},
		"full-width capitals":        {"ＳＡＭ@ＥＸＡＭＰＬＥ.ＣＯＭ", "sam@example.com"},
		"surrounding white space":    {" \tSam@example.com\u3000", "sam@example.com"},
		"kelvin sign for k (U+212A)": {"\u212aate@example.com", "kate@example.com"},
		"sharp s folds to ss":        {"Straße@example.de", "strasse@example.de"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, emailaddr.Normalize(tc.in))
			got, ok := emailaddr.Parse(tc.in)
			require.True(t, ok)
			require.Equal(t, tc.want, got)
		})
	}
	require.NotEqual(t, emailaddr.Normalize("sam@example.com"), emailaddr.Normalize("sām@example.com"), "a different letter stays different")
	require.Equal(t, emailaddr.Normalize("Ꭰ@example.com"), emailaddr.Normalize("ꭰ@example.com"), "Cherokee capital and small letters are one person")
	require.Equal(t, "Ꭰ@example.com", emailaddr.Normalize("ꭰ@example.com"), "Cherokee folds to the capital, as CaseFolding.txt says")
	// One pass of NFKC and folding gives "ἆϊ̪"; NFKC then composes ι and the
	// diaeresis, so a single pass would not be idempotent.
	require.Equal(t, "\u1f06\u03ca\u032a", emailaddr.Normalize("\u1f8e\u0308\u032a"))
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"empty":             "",
		"spaces only":       "  ",
		"no at sign":        "not-an-email",
		"display name":      "Sam <sam@example.com>",
		"comment":           "sam@example.com (Sam)",
		"two addresses":     "sam@example.com, ada@example.com",
		"inner space":       "s am@example.com",
		"zero-width space":  "sa\u200bm@example.com",
		"bidi override":     "sam\u202e@example.com",
		"NUL":               "sam\x00@example.com",
		"private use":       "sam\ue000@example.com",
		"too long":          strings.Repeat("a", emailaddr.MaxLength-len("@example.com")+1) + "@example.com",
		"full-width at x 2": "a＠b@example.com",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, ok := emailaddr.Parse(in)
			require.False(t, ok, "%q", in)
		})
	}
	longest := strings.Repeat("a", emailaddr.MaxLength-len("@example.com")) + "@example.com"
	got, ok := emailaddr.Parse(longest)
	require.True(t, ok)
	require.Equal(t, longest, got)
}

// TestNormalizeIdempotentPerRune checks every assigned code point (the
// unassigned and private-use ones have no mappings): a stored email, typed
// again exactly as stored, must find itself.
func TestNormalizeIdempotentPerRune(t *testing.T) {
	t.Parallel()
	checked := 0
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf) {
			continue
		}
		checked++
		once := emailaddr.Normalize(string(r))
		if twice := emailaddr.Normalize(once); twice != once {
			t.Fatalf("%U: Normalize(%q) = %q, but Normalize(%q) = %q", r, string(r), once, once, twice)
		}
	}
	require.Greater(t, checked, 100_000)
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"sam@example.com", "ſam@example.com", "ｓａｍ@example.com", "ꭰᏸ@x", "ΐ\u0345\u0301",
		"i\u0307\u0345", "\u1f8e\u0308\u032a", "\u0130\u2d7f\U0001f117\u1dc8", "\u01b8\u3268\u1f97\u0343", "ǅ\u0300", "ﬃ\u0301", "\u1f80\u0345", "ᾼ\u0313", "Å\u0323\u0301", "\u0345\u0308\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := emailaddr.Normalize(s)
		if twice := emailaddr.Normalize(once); twice != once {
			t.Fatalf("not idempotent: Normalize(%q) = %q, Normalize of that = %q", s, once, twice)
		}
		if e, ok := emailaddr.Parse(s); ok {
			require.Equal(t, once, e)
			_, again := emailaddr.Parse(e)
			require.True(t, again, "a parsed email parses again")
		}
	})
}
