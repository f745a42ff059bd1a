package browsertest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// EnvArtifacts names the directory that failing browser tests save their
// page in, as <dir>/<package>/<test>/; CI points it at what it uploads.
const EnvArtifacts = "AIGATE_TEST_ARTIFACTS"

// The files a failure leaves in its directory.
const (
	fileScreenshot = "screenshot.png"
	fileHTML       = "page.html"
	fileURL        = "url.txt"
	fileConsole    = "console.txt"
	fileFailure    = "failure.txt"
)

// artifactDir is where the test's page goes when it fails: under
// AIGATE_TEST_ARTIFACTS if set, else go test's -artifacts directory if that
// flag is on, else a fixed place in the system's temporary directory, so the
// path in a failure message stays valid after the test binary exits.
func (b *Browser) artifactDir(t testing.TB) string {
	env := os.Getenv(EnvArtifacts)
	if f := flag.Lookup("test.artifacts"); b.cfg.artifactDir == "" && env == "" && f != nil && f.Value.String() == "true" {
		return t.ArtifactDir()
	}
	return artifactPath(b.cfg.artifactDir, env, os.TempDir(), packageDir(), t.Name())
}

// artifactPath is artifactDir for every case but -artifacts: under the
// ArtifactDir option's dir, else under <env>/<package>, else under
// <tmp>/aigate-test-artifacts/<package>.
func artifactPath(option, env, tmp, pkg, test string) string {
	switch {
	case option != "":
		return filepath.Join(option, testDirName(test))
	case env != "":
		return filepath.Join(env, pkg, testDirName(test))
	default:
		return filepath.Join(tmp, "aigate-test-artifacts", pkg, testDirName(test))
	}
}

// testDirName makes a test's name one safe path element, the way go test's
// own -artifacts does: subtests joined by "__", odd characters dropped.
func testDirName(name string) string {
	name = strings.ReplaceAll(name, "/", "__")
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("-_.=+,@#", r):
			return r
		default:
			return '_'
		}
	}, name)
	if name == "" || strings.Trim(name, ".") == "" {
		return "_"
	}
	return name
}

var packageDirOnce = sync.OnceValue(func() string {
	// go test runs a test binary in its package's directory; the path from
	// the module root tells two packages' tests of the same name apart.
	wd, err := os.Getwd()
	if err != nil {
		return "_"
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if rel, err := filepath.Rel(dir, wd); err == nil && rel != "." {
				return rel
			}
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return filepath.Base(wd)
})

func packageDir() string { return packageDirOnce() }

// saveOnce saves the page the first time a test fails and reports where;
// later failures of the same test keep the first, which shows the cause.
func (b *Browser) saveOnce(t testing.TB, why string) (string, bool) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.saved {
		return "", false
	}
	b.saved = true
	dir := b.artifactDir(t)
	if err := b.save(dir, why); err != nil {
		t.Logf("browsertest: saving the page in %s: %v", dir, err)
	} else {
		t.Logf("browsertest: saved the page in %s (%s, %s, %s, %s)", dir, fileScreenshot, fileHTML, fileURL, fileConsole)
	}
	return dir, true
}

// save writes the page's screenshot, HTML, URL and console, and why the test
// failed, into dir, replacing what an earlier run left there. It writes what
// it can: a page that cannot be captured still gets its console saved.
func (b *Browser) save(dir, why string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	msgs, dropped, _ := b.console.snapshot()
	errs := []error{
		os.WriteFile(filepath.Join(dir, fileFailure), []byte(why+"\n"), 0o644),
		os.WriteFile(filepath.Join(dir, fileConsole), []byte(consoleText(msgs, dropped)), 0o644),
	}

	// The tab's context may be the thing that failed, so each capture gets
	// its own bound; a failed one does not stop the others.
	ctx, cancel := context.WithTimeout(b.ctx, artifactTimeout)
	defer cancel()
	if url, err := chromedp.Run(ctx, chromedp.Location()); err != nil {
		errs = append(errs, fmt.Errorf("read the URL: %w", err))
	} else {
		errs = append(errs, os.WriteFile(filepath.Join(dir, fileURL), []byte(url+"\n"), 0o644))
	}
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement ? document.documentElement.outerHTML : ""`)); err != nil {
		errs = append(errs, fmt.Errorf("read the HTML: %w", err))
	} else {
		errs = append(errs, os.WriteFile(filepath.Join(dir, fileHTML), []byte(html), 0o644))
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		errs = append(errs, fmt.Errorf("take the screenshot: %w", err))
	} else {
		errs = append(errs, os.WriteFile(filepath.Join(dir, fileScreenshot), png, 0o644))
	}
	return errors.Join(errs...)
}

// pngMagic starts every PNG file.
var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// Screenshot writes a PNG of the whole page, beyond the viewport, to path,
// making its directory. The dashboard tests write docs/'s images with it
// when UpdateScreenshots says so.
func (b *Browser) Screenshot(t testing.TB, path string) {
	t.Helper()
	png := Get(t, b, chromedp.FullScreenshot(100))
	if !bytes.HasPrefix(png, pngMagic) {
		b.Fatalf(t, "browsertest: the screenshot for %s is not a PNG", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("browsertest: screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browsertest: screenshot: %v", err)
	}
}
