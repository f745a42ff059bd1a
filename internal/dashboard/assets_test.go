package dashboard_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// The vendored uPlot is the npm package's own build, unchanged (its
// README.md says where from); an edit to it would be an unreviewable fork.
func TestVendoredUPlotIsThePackagesBuild(t *testing.T) {
	t.Parallel()
	for file, want := range map[string]string{
		"uPlot.iife.min.js": "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f",
		"uPlot.min.css":     "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04",
		"LICENSE":           "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd",
	} {
		raw, err := os.ReadFile(filepath.Join("assets", "static", "vendor", "uplot", file))
		require.NoError(t, err)
		sum := sha256.Sum256(raw)
		require.Equal(t, want, hex.EncodeToString(sum[:]), file)
	}
}

// No template carries inline script or style, so the strict CSP never has
// to allow any: no <script> without src, no on* handler, no style
// attribute or element, no javascript: URL.
func TestTemplatesHaveNothingInline(t *testing.T) {
	t.Parallel()
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<script(?:(?:\s+(?:defer|async|type="[^"]*"))*)\s*>|\son[a-z]+\s*=|\sstyle\s*=|<style|javascript:`)
	files, err := filepath.Glob(filepath.Join("assets", "templates", "*.html"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Nil(t, inline.FindIndex(raw), "%s has inline script or style: %q", f, inline.Find(raw))
	}
}

// The assets are served from the binary with their types, and cached.
func TestStaticAssets(t *testing.T) {
	t.Parallel()
	d := setup(t)
	for path, typ := range map[string]string{
		"/static/app.js":                         "text/javascript; charset=utf-8",
		"/static/app.css":                        "text/css; charset=utf-8",
		"/static/vendor/uplot/uPlot.iife.min.js": "text/javascript; charset=utf-8",
		"/static/favicon.svg":                    "image/svg+xml",
	} {
		resp, err := http.Get(d.URL + path)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Equal(t, typ, resp.Header.Get("Content-Type"), path)
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), path)
		require.Contains(t, resp.Header.Get("Cache-Control"), "max-age", path)
	}
	resp, err := http.Get(d.URL + "/static/nope.js")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}
