package aigate_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestPackageDocs fails when a package lacks a doc comment saying what it
// owns: the folder layout is meant to explain the architecture, and the doc
// comments are half of that.
func TestPackageDocs(t *testing.T) {
	t.Parallel()
	documented := map[string]bool{}
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.Dir(path)
		seen[dir] = true
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			documented[dir] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 5 {
		t.Fatalf("found only %d packages; is the test running from the repository root?", len(seen))
	}
	for dir := range seen {
		if !documented[dir] {
			t.Errorf("package %s has no package doc comment", dir)
		}
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
