package database

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/database/migrations"
)

// TestLockRegistry checks that every LockID constant in locks.go has its own
// number and its own name: the map literal already refuses equal numbers at
// compile time; this catches a constant left out of the map, which would let
// a reused number slip through.
func TestLockRegistry(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "locks.go", nil, 0)
	require.NoError(t, err)

	var constNames []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "LockID" {
			for _, name := range vs.Names {
				constNames = append(constNames, name.Name)
				require.Len(t, vs.Values, len(vs.Names), "%s must have an explicit number", name.Name)
				_, isLit := vs.Values[0].(*ast.BasicLit)
				require.True(t, isLit, "%s must be an explicit number literal, not an expression or iota", name.Name)
			}
		}
		return true
	})
	require.Len(t, lockNames, len(constNames), "every LockID constant must be listed in lockNames")

	seenIDs := map[LockID]bool{}
	seenNames := map[string]bool{}
	for id, name := range lockNames {
		require.False(t, seenIDs[id], "lock number %d reused", id)
		require.False(t, seenNames[name], "lock name %q reused", name)
		seenIDs[id], seenNames[name] = true, true
	}
	for _, want := range []string{"migrations", "deployment_setup", "first_user", "ai_providers_env_seed", "usage_rollup", "usage_counters", "encryption_rotate", "interceptions_retention"} {
		require.True(t, seenNames[want], "the spec's lock %q is missing", want)
	}
}

// A migration that takes a lock of the registry names its number, since SQL
// cannot use the constant: each such number must be the registry's, and its
// comment must name the lock.
func TestMigrationsTakeRegisteredLocks(t *testing.T) {
	t.Parallel()
	call := regexp.MustCompile(`pg_advisory_(?:xact_)?lock\((-?\d+)\)`)
	files, err := fs.Glob(migrations.FS, "*.sql")
	require.NoError(t, err)
	found := 0
	for _, f := range files {
		raw, err := fs.ReadFile(migrations.FS, f)
		require.NoError(t, err)
		for _, m := range call.FindAllStringSubmatch(string(raw), -1) {
			n, err := strconv.ParseInt(m[1], 10, 64)
			require.NoError(t, err)
			name, ok := lockNames[LockID(n)]
			require.True(t, ok, "%s takes lock %d, which is not in the registry", f, n)
			require.Contains(t, string(raw), name, "%s says which lock %d is", f, n)
			found++
		}
	}
	require.NotZero(t, found, "migration 0011 takes the usage_rollup lock")
}
