// Package emailaddr is the one rule by which aigate decides that two emails
// name the same user. Every email is brought to this form on the way in
// (creation, change, login, lookup) and stored in it under a unique index, so
// "the same person" is decided once, here, and everywhere else by comparing
// user IDs.
package emailaddr

import (
	"net/mail"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// MaxLength is the longest email accepted, in bytes of the normalised form
// (RFC 5321's limit on a forward path).
const MaxLength = 254

// maxPasses bounds the repetition in Normalize. Case folding does not
// preserve normal forms: it can leave marks that NFKC would reorder or
// compose ("İ" folds to "i" + U+0307, "ᾎ" to "ἆ" + "ι"), so one pass is not
// idempotent. Three passes settled every one of millions of random strings of
// such characters; the fuzz test holds Normalize to being idempotent.
const maxPasses = 8

// Normalize returns the form of s that aigate stores, looks up and compares:
// NFKC (compatibility forms such as full-width letters become their plain
// letters), then full Unicode case folding (so "ſ" and "S" both become "s",
// "ß" becomes "ss"), then surrounding white space removed. The steps are
// repeated until the result no longer changes, so that Normalize(Normalize(s))
// is Normalize(s): an email typed exactly as stored finds itself. Any string
// has a normal form; Parse also checks that it is an email.
//
// Changing this rule changes which stored emails match which logins: it
// needs a migration that re-normalises the users table, as
// 0005_users_email_normalized does.
func Normalize(s string) string {
	for range maxPasses {
		next := strings.TrimSpace(foldCherokee(cases.Fold().String(norm.NFKC.String(s))))
		if next == s {
			break
		}
		s = next
	}
	return s
}

// foldCherokee folds Cherokee letters to their capital form, as Unicode's
// CaseFolding.txt does (the small letters were added in Unicode 8, after the
// capitals, and fold to them for stability). x/text's cases.Fold folds the
// capitals to the small letters and the small letters to the capitals, so
// without this "Ꭰ" and "ꭰ" would be two different people and Normalize would
// never settle.
func foldCherokee(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cherokee, r) && unicode.IsLower(r) {
			return unicode.ToUpper(r)
		}
		return r
	}, s)
}

// Parse normalises s and reports whether the result is an email aigate
// accepts: a bare address (no display name, no comments) of at most
// MaxLength bytes, without control, format (such as zero-width or
// bidirectional marks) or space characters, which would let two addresses
// look the same.
func Parse(s string) (string, bool) {
	e := Normalize(s)
	if e == "" || len(e) > MaxLength {
		return "", false
	}
	for _, r := range e {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Z) {
			return "", false
		}
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", false
	}
	return e, true
}
