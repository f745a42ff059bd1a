package aigate_test

import (
	"go/build"
	"testing"
)

// TestDomainPackagesKnowNoHTTP: the domain packages say what happened, the
// admin API's route table says which HTTP status that is (and records it in
// the audit entries), so statuses and HTTP types stay out of the domain.
func TestDomainPackagesKnowNoHTTP(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"internal/providers", "internal/users", "internal/audit"} {
		p, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("read package %s: %v", dir, err)
		}
		for _, imp := range p.Imports {
			switch imp {
			case "net/http", module + "internal/httpserver", module + "internal/api":
				t.Errorf("%s imports %s", dir, imp)
			}
		}
	}
}
