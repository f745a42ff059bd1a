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
		if d := EditDistance(u, k); d <= max(1, len(u)/3) && d*2 <= len(u) {
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
			if !used[i] && (kw == w || len(w) >= 4 && EditDistance(w, kw) <= 1) {
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

// EditDistance is the optimal-string-alignment distance, in runes: insertions,
// deletions, substitutions and transpositions of neighbours each cost 1,
// so OPENIA is one edit from OPENAI. The one distance behind every "did you
// mean" (flags, commands, environment variables).
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// FlagName is how a flag is written: -o for a one-letter flag, --name for
// the others.
func FlagName(flag string) string {
	if len(flag) == 1 {
		return "-" + flag
	}
	return "--" + flag
}
