package config

import "strings"

// Suggest returns the known name closest to one that was not recognised,
// for a "did you mean" hint, or "" when none is close enough to be what was
// meant. Names compare case-insensitively, with "_" and "-" alike and
// leading dashes ignored. A name matches when it is a small edit away (a
// typo: up to a third of the letters, at most half), or when each word of
// the unknown name is a word of the known one, or a synonym of it
// (--port, --listen: --http-address; --database-url: --postgres-url; a
// word with one typo counts too). Ties go to the earlier known name, so
// callers list the likeliest first.
func Suggest(unknown string, known []string) string {
	u := normalizeName(unknown)
	if u == "" {
		return ""
	}
	best, bestScore := "", -1
	consider := func(name string, score int) {
		if bestScore < 0 || score < bestScore {
			best, bestScore = name, score
		}
	}
	for _, name := range known {
		if strings.TrimLeft(unknown, "-") == name {
			continue
		}
		k := normalizeName(name)
		if d := editDistance(u, k); d <= max(1, len(u)/3) && d*2 <= len(u) {
			consider(name, d)
			continue
		}
		if extra, ok := wordsWithin(strings.Split(u, "-"), strings.Split(k, "-")); ok {
			// Behind every typo match: a typo is the likelier mistake.
			consider(name, len(u)+extra)
		}
	}
	return best
}

// synonyms maps words people bring from other tools to the word aigate's
// names use for the same thing.
var synonyms = map[string]string{
	"port": "address", "addr": "address", "listen": "address", "bind": "address", "host": "address",
	"db": "postgres", "database": "postgres", "pg": "postgres", "postgresql": "postgres", "dsn": "url",
}

// wordsWithin reports whether every word of u is (or stands for) a word of
// k, each used once, and how many words of k are left over.
func wordsWithin(u, k []string) (extra int, ok bool) {
	used := make([]bool, len(k))
	for _, w := range u {
		if s, ok := synonyms[w]; ok {
			w = s
		}
		found := false
		for i, kw := range k {
			if !used[i] && (kw == w || len(w) >= 4 && editDistance(w, kw) <= 1) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	return len(k) - len(u), true
}

func normalizeName(s string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimLeft(s, "-")), "_", "-")
}

// editDistance is the Levenshtein distance between a and b, in bytes (names
// are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// FlagName is how a flag is written: -o for a one-letter flag, --name for
// the others.
func FlagName(flag string) string {
	if len(flag) == 1 {
		return "-" + flag
	}
	return "--" + flag
}
