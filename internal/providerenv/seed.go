package providerenv

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/providers"
)

// Outcome is what the seed does, or would do, with one provider.
type Outcome string

// The outcomes, as `aigate providers plan` prints them.
const (
	Create             Outcome = "create"
	Unchanged          Outcome = "unchanged"
	SkippedDeleted     Outcome = "skipped (deleted)"
	SkippedUnsupported Outcome = "skipped (unsupported type)"
	KeyDiffers         Outcome = "key differs (database wins)"
	Conflict           Outcome = "CONFLICT"
)

// Step is the seed's decision for one provider of the environment.
type Step struct {
	Provider Provider
	Outcome  Outcome
	Diffs    []providers.FieldDiff // Conflict only: from the database to the environment
}

// Fixes lists, for a conflict, the three ways out: make the database
// match, stop seeding the provider, or stop serving it.
func (s Step) Fixes() []string {
	name := s.Provider.Spec.Name
	var edit []string
	typeDiffers := false
	for _, d := range s.Diffs {
		switch d.Field {
		case "type":
			typeDiffers = true
		case "base_url":
			edit = append(edit, "--base-url "+shellQuote(d.To))
		case "region":
			edit = append(edit, "--region "+shellQuote(d.To))
		}
	}
	first := fmt.Sprintf("make the database match the environment: aigate providers edit %s %s", name, strings.Join(edit, " "))
	if typeDiffers {
		first = "the type of a stored provider cannot be edited; use one of the fixes below"
	}
	return []string{
		first,
		fmt.Sprintf("stop seeding it: remove the %s variables (the database keeps the provider as it is)", s.Provider.Source),
		fmt.Sprintf("stop serving it: aigate providers delete %s (a deleted provider is never seeded again)", name),
	}
}

// ConflictText explains a conflict, for the startup error and `aigate
// providers plan` alike: the provider, each differing field with both values
// (never a secret) and the fixes. Lines after the first are indented by two
// spaces; there is no final newline.
func (s Step) ConflictText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "provider %q (from %s): the database and the environment disagree on where its requests go:",
		s.Provider.Spec.Name, s.Provider.Source)
	for _, d := range s.Diffs {
		fmt.Fprintf(&b, "\n  %s: database %q, environment %q", d.Field, d.From, d.To)
	}
	b.WriteString("\n  fix it one of three ways:")
	for _, f := range s.Fixes() {
		b.WriteString("\n  - " + f)
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r)
	}
	if strings.IndexFunc(s, func(r rune) bool { return !safe(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// DriftError fails startup: providers in the database differ from the
// environment in where requests go. It names each provider, each differing
// field with both values (never a secret) and the fixes.
type DriftError struct {
	Steps []Step // the conflicting ones
}

func (e *DriftError) Error() string {
	var b strings.Builder
	b.WriteString("the AI providers in the environment differ from the database; aigate will not guess which is right:")
	for _, s := range e.Steps {
		b.WriteString("\n  " + strings.ReplaceAll(s.ConflictText(), "\n", "\n  "))
	}
	b.WriteString("\n  `aigate providers plan` shows the same check without starting the server")
	return b.String()
}

// Plan decides each provider's outcome against the stored rows.
func Plan(cfg Config, stored map[string]providers.Stored) []Step {
	steps := make([]Step, 0, len(cfg.Providers))
	for _, p := range cfg.Providers {
		st := Step{Provider: p}
		row, exists := stored[p.Spec.Name]
		switch {
		case p.Unsupported != "":
			st.Outcome = SkippedUnsupported
		case !exists:
			st.Outcome = Create
		case row.Deleted:
			st.Outcome = SkippedDeleted
		case row.Spec.Canonical().Hash() != p.Spec.Canonical().Hash():
			st.Outcome = Conflict
			st.Diffs = row.Spec.Canonical().Diff(p.Spec.Canonical())
		case !sameSecrets(row.Spec, p.Spec):
			st.Outcome = KeyDiffers
		default:
			st.Outcome = Unchanged
		}
		steps = append(steps, st)
	}
	return steps
}

// sameSecrets compares key sets (order does not matter) and credentials.
func sameSecrets(a, b providers.Spec) bool {
	ka, kb := slices.Clone(a.Keys), slices.Clone(b.Keys)
	sort.Strings(ka)
	sort.Strings(kb)
	if !slices.Equal(ka, kb) {
		return false
	}
	ca, cb := slices.Clone(a.Credentials), slices.Clone(b.Credentials)
	byKey := func(x, y providers.Credential) int {
		return strings.Compare(x.AccessKey+"\x00"+x.AccessKeySecret, y.AccessKey+"\x00"+y.AccessKeySecret)
	}
	slices.SortFunc(ca, byKey)
	slices.SortFunc(cb, byKey)
	return slices.Equal(ca, cb)
}

// Seed reconciles the environment with the database at startup: one
// transaction under the ai_providers_env_seed lock inserts what is missing
// (audited, actor system) and changes nothing else; a drifted provider
// rolls everything back and fails with a *DriftError. Logs come after the
// commit, so they describe what happened.
func Seed(ctx context.Context, db *database.DB, svc *providers.Service, cfg Config, logger *slog.Logger) error {
	for _, w := range cfg.Warnings {
		logger.Warn(w.Message, "variable", w.Variable, "suggestion", w.Suggestion)
	}
	if cfg.Empty() {
		return nil
	}
	steps, err := database.LockedTx(ctx, db, database.LockAIProvidersEnvSeed, func(ctx context.Context, tx pgx.Tx) ([]Step, error) {
		stored, err := svc.LoadAll(ctx, tx)
		if err != nil {
			return nil, err
		}
		steps := Plan(cfg, stored)
		if err := drift(steps); err != nil {
			return nil, err
		}
		for _, s := range steps {
			if s.Outcome != Create {
				continue
			}
			if err := svc.Insert(ctx, tx, audit.System, s.Provider.Spec); err != nil {
				return nil, fmt.Errorf("seed provider %q from %s: %w", s.Provider.Spec.Name, s.Provider.Source, err)
			}
		}
		return steps, nil
	})
	if err != nil {
		return err
	}
	for _, s := range steps {
		name, source := s.Provider.Spec.Name, s.Provider.Source
		switch s.Outcome {
		case Create:
			logger.Info("seeded provider from environment", "name", name, "type", s.Provider.Spec.Type, "keys", len(s.Provider.Spec.Keys))
		case SkippedDeleted:
			logger.Warn("provider from environment was deleted in the database; not recreating it (restore it with `aigate providers restore`, or remove the variables)",
				"name", name, "variables", source)
		case SkippedUnsupported:
			logger.Warn("skipping provider of a type aigate does not store", "name", name, "type", s.Provider.Unsupported, "variables", source)
		case KeyDiffers:
			logger.Warn("provider keys in the environment differ from the database; the database wins (manage keys with `aigate providers edit`) and the variables can be removed",
				"name", name, "variables", source)
		default:
			logger.Debug("provider from environment matches the database", "name", name)
		}
		switch s.Outcome {
		case Create, Unchanged, KeyDiffers:
			// Served from this base URL now, so say so at every start
			// until it is fixed; the detail holds no key.
			for _, w := range providers.BaseURLWarnings(s.Provider.Spec.Type, s.Provider.Spec.BaseURL) {
				logger.Warn("provider base URL is likely wrong", "name", name, "variables", source, "field", w.Field, "detail", w.Detail)
			}
		}
	}
	return nil
}

func drift(steps []Step) error {
	var conflicts []Step
	for _, s := range steps {
		if s.Outcome == Conflict {
			conflicts = append(conflicts, s)
		}
	}
	if len(conflicts) > 0 {
		return &DriftError{Steps: conflicts}
	}
	return nil
}

// PlanFromDatabase is Plan against the database as it is now: one read,
// no lock, nothing written.
func PlanFromDatabase(ctx context.Context, db *database.DB, svc *providers.Service, cfg Config) ([]Step, error) {
	if cfg.Empty() {
		return nil, nil
	}
	return database.SnapshotTx(ctx, db, func(ctx context.Context, tx pgx.Tx) ([]Step, error) {
		stored, err := svc.LoadAll(ctx, tx)
		if err != nil {
			return nil, err
		}
		return Plan(cfg, stored), nil
	})
}
