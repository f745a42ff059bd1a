package embeddedpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultSearchPath is where Start looks for the server binaries after
// pg_config and PATH came up empty. Distributions keep postgres off PATH
// (Debian puts it under /usr/lib/postgresql/<major>/bin), hence the globs.
var DefaultSearchPath = []string{
	"/usr/lib/postgresql/*/bin",
	"/usr/local/pgsql/bin",
	"/opt/homebrew/opt/postgresql*/bin",
	"/usr/local/opt/postgresql*/bin",
}

const installFix = "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql; " +
	"macOS: brew install postgresql), set --embedded-postgres-bin-dir, " +
	"or pass --postgres-url to use an existing server"

// FindBinDir returns the directory holding the PostgreSQL server binaries
// (postgres and initdb). A non-empty explicit directory is checked and used
// as is. Otherwise it asks pg_config, then looks for postgres on PATH, then
// expands the searchPath globs, preferring the highest major version among
// the glob matches.
func FindBinDir(explicit string, searchPath []string) (string, error) {
	return findBinDir(explicit, searchPath, exec.LookPath)
}

// findBinDir takes lookPath as a parameter so tests can simulate a machine
// without PostgreSQL on PATH; this machine has it.
func findBinDir(explicit string, searchPath []string, lookPath func(string) (string, error)) (string, error) {
	if explicit != "" {
		dir, err := filepath.Abs(explicit)
		if err != nil {
			return "", failf(err, "pass an absolute --embedded-postgres-bin-dir", "bad --embedded-postgres-bin-dir %q", explicit)
		}
		if missing := missingBinaries(dir); len(missing) > 0 {
			return "", &Error{
				Reason: fmt.Sprintf("--embedded-postgres-bin-dir %s does not contain the PostgreSQL server binaries (missing or not executable: %s)",
					dir, strings.Join(missing, ", ")),
				Fix: "point it at the directory holding postgres and initdb (e.g. /usr/lib/postgresql/16/bin; `pg_config --bindir` prints it), or leave it empty to search",
			}
		}
		return dir, nil
	}

	var tried []string

	// pg_config may come from a client-only package (libpq-dev) and point at a
	// directory without the server, so its answer is only a candidate.
	if pgConfig, err := lookPath("pg_config"); err == nil {
		if dir, err := pgConfigBinDir(pgConfig); err == nil {
			if len(missingBinaries(dir)) == 0 {
				return dir, nil
			}
			tried = append(tried, dir+" (from pg_config)")
		}
	}

	if postgres, err := lookPath("postgres"); err == nil {
		// Resolve symlinks so we land next to initdb: /usr/local/bin/postgres
		// is often just a link into the versioned bin dir.
		if real, err := filepath.EvalSymlinks(postgres); err == nil {
			postgres = real
		}
		dir := filepath.Dir(postgres)
		if len(missingBinaries(dir)) == 0 {
			return dir, nil
		}
		tried = append(tried, dir+" (from PATH)")
	}

	type candidate struct {
		dir     string
		version [2]int
		order   int
	}
	var cands []candidate
	for _, pattern := range searchPath {
		matches, err := filepath.Glob(pattern)
		if err != nil {
			continue // a malformed pattern cannot match anything
		}
		for _, dir := range matches {
			if len(missingBinaries(dir)) != 0 {
				tried = append(tried, dir)
				continue
			}
			cands = append(cands, candidate{dir: dir, version: versionInPath(dir), order: len(cands)})
		}
	}
	if len(cands) > 0 {
		sort.SliceStable(cands, func(i, j int) bool {
			a, b := cands[i], cands[j]
			if a.version != b.version {
				return a.version[0] > b.version[0] || (a.version[0] == b.version[0] && a.version[1] > b.version[1])
			}
			return a.order < b.order
		})
		return cands[0].dir, nil
	}

	reason := "no PostgreSQL server binaries (postgres and initdb) found on PATH, via pg_config, or in " +
		strings.Join(searchPath, ", ")
	if len(searchPath) == 0 {
		reason = "no PostgreSQL server binaries (postgres and initdb) found on PATH or via pg_config"
	}
	if len(tried) > 0 {
		reason += " (incomplete installations: " + strings.Join(tried, ", ") + ")"
	}
	return "", &Error{Reason: reason, Fix: installFix}
}

func pgConfigBinDir(pgConfig string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, pgConfig, "--bindir").Output()
	if err != nil {
		return "", err
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("pg_config printed no bindir")
	}
	return dir, nil
}

// missingBinaries lists which of the binaries we execute are absent from dir.
func missingBinaries(dir string) []string {
	var missing []string
	for _, name := range []string{"postgres", "initdb"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	return missing
}

var pathVersionRE = regexp.MustCompile(`(\d+)(?:\.(\d+))?`)

// versionInPath extracts the version that packagers put into install paths
// (/usr/lib/postgresql/16/bin, /opt/homebrew/opt/postgresql@14/bin). The last
// number wins because it is the one closest to the bin dir. Paths without a
// version sort last.
func versionInPath(dir string) [2]int {
	m := pathVersionRE.FindAllStringSubmatch(dir, -1)
	if len(m) == 0 {
		return [2]int{}
	}
	last := m[len(m)-1]
	major, _ := strconv.Atoi(last[1])
	minor, _ := strconv.Atoi(last[2])
	return [2]int{major, minor}
}

var versionOutputRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// binaryMajorVersion returns the major version of the postgres binary in the
// same spelling as the cluster's PG_VERSION file ("16", or "9.6" before 10),
// plus the full version line for logging.
func binaryMajorVersion(ctx context.Context, binDir string) (major, full string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	postgres := filepath.Join(binDir, "postgres")
	out, err := exec.CommandContext(ctx, postgres, "--version").Output()
	if err != nil {
		return "", "", failf(err, "check that the PostgreSQL installation in "+binDir+" works, or pick another with --embedded-postgres-bin-dir",
			"running %s --version failed", postgres)
	}
	full = strings.TrimSpace(string(out))
	m := versionOutputRE.FindStringSubmatch(full)
	if m == nil {
		return "", "", &Error{
			Reason: fmt.Sprintf("cannot parse the version printed by %s --version: %q", postgres, full),
			Fix:    "point --embedded-postgres-bin-dir at a PostgreSQL server installation",
		}
	}
	major = m[1]
	if n, _ := strconv.Atoi(m[1]); n < 10 && m[2] != "" {
		major = m[1] + "." + m[2]
	}
	return major, full, nil
}
