package providerenv

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aigate/aigate/internal/config"
)

// The variables of the simple form. The parser reads exactly these, and
// the strict check knows exactly these, so the two cannot disagree.
const (
	envOpenAIKey             = "AIGATE_OPENAI_KEY"
	envOpenAIBaseURL         = "AIGATE_OPENAI_BASE_URL"
	envAnthropicKey          = "AIGATE_ANTHROPIC_KEY"
	envAnthropicBaseURL      = "AIGATE_ANTHROPIC_BASE_URL"
	envBedrockRegion         = "AIGATE_BEDROCK_REGION"
	envBedrockBaseURL        = "AIGATE_BEDROCK_BASE_URL"
	envBedrockModel          = "AIGATE_BEDROCK_MODEL"
	envBedrockSmallFastModel = "AIGATE_BEDROCK_SMALL_FAST_MODEL"
	envBedrockAccessKey      = "AIGATE_BEDROCK_ACCESS_KEY"
	envBedrockAccessSecret   = "AIGATE_BEDROCK_ACCESS_KEY_SECRET"
)

var simpleVars = []string{
	envOpenAIKey, envOpenAIBaseURL, envAnthropicKey, envAnthropicBaseURL,
	envBedrockRegion, envBedrockBaseURL, envBedrockModel, envBedrockSmallFastModel, envBedrockAccessKey, envBedrockAccessSecret,
}

// simplePrefixes are the squashed prefixes (see squash) of the simple
// form's groups: a variable under one of them is meant for a provider.
var simplePrefixes = []string{"AIGATEOPENAI", "AIGATEANTHROPIC", "AIGATEBEDROCK"}

// squashedIndexed matches the squashed start of AIGATE_PROVIDER_<N>_...,
// so that AIGATE_PROVIDER0_BASE_URL and aigate_provider_0_base_url count
// as meant for provider 0; the option AIGATE_PROVIDER_RELOAD_INTERVAL,
// with no index, does not.
var squashedIndexed = regexp.MustCompile(`^AIGATEPROVIDER([0-9]+)`)

// optionVars are the variables of aigate's own options, taken from the
// option table so that every option, present or future, is known here.
func optionVars() map[string]bool {
	known := map[string]bool{}
	for _, o := range config.ServerOptions(&config.Server{}) {
		if o.Env != "" {
			known[o.Env] = true
		}
	}
	return known
}

// squash reduces a name to upper-case letters and digits, so that names
// that differ only in case, underscores or stray spaces compare equal.
func squash(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// display shows a variable name as the environment has it: plain when it
// is a well-formed name, quoted when it is not (a trailing space, a dash),
// so the difference can be seen.
func display(name string) string {
	for _, r := range name {
		plain := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_'
		if !plain {
			return strconv.Quote(name)
		}
	}
	return name
}

// isIndexedVar reports whether name is AIGATE_PROVIDER_<digits>_<FIELD>
// with a known field. A malformed index of digits (00) still counts: the
// indexed parser reports it with its own message.
func isIndexedVar(name string) bool {
	rest, ok := strings.CutPrefix(name, indexedPrefix)
	if !ok {
		return false
	}
	num, field, ok := strings.Cut(rest, "_")
	return ok && num != "" && strings.Trim(num, "0123456789") == "" && slices.Contains(indexedFields, field)
}

// strictChecker tells known variables from typos.
type strictChecker struct {
	options map[string]bool
}

func newStrictChecker() strictChecker { return strictChecker{options: optionVars()} }

func (c strictChecker) known(name string) bool {
	return c.options[name] || slices.Contains(simpleVars, name) || isIndexedVar(name)
}

// candidates are the names a typo of name may have meant: every option,
// every simple-form variable, and the indexed fields of provider 0 and of
// any index name carries.
func (c strictChecker) candidates(name string) []string {
	out := slices.Clone(simpleVars)
	for o := range c.options {
		out = append(out, o)
	}
	indices := []string{"0"}
	if m := squashedIndexed.FindStringSubmatch(squash(name)); m != nil {
		indices = append(indices, strings.TrimLeft(m[1], "0"))
	}
	if rest, ok := strings.CutPrefix(strings.ToUpper(strings.TrimSpace(name)), indexedPrefix); ok {
		if num, _, _ := strings.Cut(rest, "_"); num != "" && strings.Trim(num, "0123456789") == "" {
			indices = append(indices, num)
		}
	}
	for _, n := range indices {
		if n == "" {
			n = "0"
		}
		for _, f := range indexedFields {
			out = append(out, indexedPrefix+n+"_"+f)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// maxSuggestLen bounds the names a suggestion is computed for: the
// distance is quadratic, and no real name is this long.
const maxSuggestLen = 200

// Suggest returns the known name closest to name, or "" when none is close
// enough to be a likely typo. Closeness is the edit distance between the
// squashed names (case, underscores and spaces cost nothing), then between
// the names as written; a tie goes to the name that sorts first.
func (c strictChecker) suggest(name string) string {
	if len(name) > maxSuggestLen {
		return ""
	}
	sq, up := squash(name), strings.ToUpper(strings.TrimSpace(name))
	best, bestSq, bestUp := "", 0, 0
	for _, cand := range c.candidates(name) {
		dSq, dUp := config.EditDistance(sq, squash(cand)), config.EditDistance(up, cand)
		if best == "" || dSq < bestSq || dSq == bestSq && dUp < bestUp {
			best, bestSq, bestUp = cand, dSq, dUp
		}
	}
	// Allow about one edit per four characters after the common AIGATE
	// prefix, and at least one: BASEURL for BASE_URL, OPENIA for OPENAI.
	limit := max(1, (len(squash(best))-len("AIGATE"))/4)
	if bestSq > limit {
		return ""
	}
	return best
}

// providerScoped reports whether a name is under a provider's prefix:
// AIGATE_PROVIDER_<N>_*, AIGATE_OPENAI_*, AIGATE_ANTHROPIC_* or
// AIGATE_BEDROCK_*, compared squashed so look-alikes count too.
func providerScoped(name string) bool {
	sq := squash(name)
	if squashedIndexed.MatchString(sq) {
		return true
	}
	for _, p := range simplePrefixes {
		if strings.HasPrefix(sq, p) {
			return true
		}
	}
	return false
}

// fieldsHint lists the valid names of the group a provider variable is
// under, for an error that has no close suggestion.
func fieldsHint(name string) string {
	sq := squash(name)
	for _, p := range simplePrefixes {
		if strings.HasPrefix(sq, p) {
			var group []string
			for _, v := range simpleVars {
				if strings.HasPrefix(squash(v), p) {
					group = append(group, v)
				}
			}
			return "the " + p[len("AIGATE"):] + " variables are " + strings.Join(group, ", ")
		}
	}
	return "the fields of AIGATE_PROVIDER_<N>_<FIELD> are " + strings.Join(indexedFields, ", ")
}

// check looks at every variable that may be meant for aigate (its name,
// squashed, starts with AIGATE) and is not empty (empty counts as unset, so
// it changes nothing). An unknown one under a provider's prefix is an
// error: ignoring it would seed the provider without it, sending its key
// to a default endpoint. Any other unknown one is a warning. Both say which
// known name is closest.
func (c strictChecker) check(p *parser, environ []string) {
	var names []string
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(v) == "" || !strings.HasPrefix(squash(k), "AIGATE") || c.known(k) {
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	names = slices.Compact(names)
	for _, name := range names {
		sugg := c.suggest(name)
		meantForOption := sugg != "" && c.options[sugg]
		hint := ""
		if sugg != "" {
			hint = " (did you mean " + sugg + "?)"
		}
		rest, literalIndexed := strings.CutPrefix(name, indexedPrefix)
		num, _, _ := strings.Cut(rest, "_")
		switch {
		case meantForOption:
			p.warnings = append(p.warnings, Warning{Variable: name, Suggestion: sugg,
				Message: fmt.Sprintf("ignoring unknown variable %s%s", display(name), hint)})
		case providerScoped(name):
			if sugg == "" {
				hint = "; " + fieldsHint(name)
			}
			p.errf("unknown provider variable %s%s: aigate will not seed a provider without it; rename or remove it", display(name), hint)
		case literalIndexed && (num == "" || strings.Trim(num, "0123456789") != ""):
			p.errf("%s: %q is not a provider index; name indexed variables AIGATE_PROVIDER_<N>_<FIELD> with N = 0, 1, 2, ...%s", display(name), num, hint)
		default:
			if sugg == "" {
				hint = ": no aigate option or provider variable has that name; check for typos"
			}
			p.warnings = append(p.warnings, Warning{Variable: name, Suggestion: sugg,
				Message: fmt.Sprintf("ignoring unknown variable %s%s", display(name), hint)})
		}
	}
}

// groupSource is the Source of the provider a known provider variable
// belongs to ("AIGATE_OPENAI_*", "AIGATE_PROVIDER_2_*"); "" for an option.
func groupSource(known string) string {
	if rest, ok := strings.CutPrefix(known, indexedPrefix); ok {
		if num, _, ok := strings.Cut(rest, "_"); ok && isIndexedVar(known) {
			return indexedPrefix + num + "_*"
		}
		return ""
	}
	if !slices.Contains(simpleVars, known) {
		return ""
	}
	sq := squash(known)
	for _, p := range simplePrefixes {
		if strings.HasPrefix(sq, p) {
			return "AIGATE_" + p[len("AIGATE"):] + "_*"
		}
	}
	return ""
}

// escalate turns into errors the warnings whose closest name belongs to a
// provider the environment does configure: AIGATE_OPNEAI_BASE_URL beside
// AIGATE_OPENAI_KEY would otherwise seed "openai" with the default base URL
// and send its key there. A look-alike of a provider nobody configures
// (AIGATE_OPENIA_KEY alone) changes nothing and stays a warning.
func (p *parser) escalate(configured []Provider) {
	sources := map[string]bool{}
	for _, pr := range configured {
		sources[pr.Source] = true
	}
	kept := p.warnings[:0]
	for _, w := range p.warnings {
		if src := groupSource(w.Suggestion); src != "" && sources[src] {
			p.errf("unknown variable %s (did you mean %s?): the provider from %s would be seeded without it; rename or remove it",
				display(w.Variable), w.Suggestion, src)
			continue
		}
		kept = append(kept, w)
	}
	p.warnings = kept
}
