package aigate_test

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/aigate/aigate/"

// internalDeps returns every package of this module that pkg (a path such as
// "internal/dbopen") imports, directly or not, tests excluded.
func internalDeps(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	var walk func(dir string)
	walk = func(dir string) {
		p, err := build.ImportDir(filepath.FromSlash(dir), 0)
		if err != nil {
			t.Fatalf("read package %s: %v", dir, err)
		}
		for _, imp := range p.Imports {
			rel, ok := strings.CutPrefix(imp, module)
			if !ok || seen[rel] {
				continue
			}
			seen[rel] = true
			walk(rel)
		}
	}
	walk(pkg)
	return seen
}

// TestMaintenanceImportsNoGateway: what the maintenance commands (migrate,
// encryption, providers plan) open the database and the keyring with does
// not pull in the gateway or the admin API, so those commands neither carry
// nor start them.
func TestMaintenanceImportsNoGateway(t *testing.T) {
	t.Parallel()
	if !internalDeps(t, "internal/server")["internal/gateway"] {
		t.Fatal("the import walk misses what internal/server imports")
	}
	for _, pkg := range []string{"internal/dbopen", "internal/encryption", "internal/database/migrate", "internal/providerenv"} {
		deps := internalDeps(t, pkg)
		if len(deps) == 0 && pkg != "internal/encryption" {
			t.Fatalf("%s: no internal imports found; is the test running from the repository root?", pkg)
		}
		for _, banned := range []string{"internal/gateway", "internal/api", "internal/server", "internal/httpserver"} {
			if deps[banned] {
				t.Errorf("%s imports %s", pkg, banned)
			}
		}
	}
}
