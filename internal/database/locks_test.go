package database

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"github.com/stretchr/testify/require"
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
