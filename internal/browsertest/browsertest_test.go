package browsertest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/browsertest"
)

// closeWait bounds waiting for the browser to open or drop a connection.
const closeWait = 30 * time.Second

const viewportMeta = `<meta name="viewport" content="width=device-width, initial-scale=1">`

// site is the tiny loopback site the harness is tested against.
func site(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, title, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head>%s<link rel="icon" href="data:,"><title>%s</title></head><body>%s</body></html>`, viewportMeta, title, body)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Sign in", `<h1 id="title">Sign in</h1>
<form method="post" action="/submit">
  <p><label for="email">Email</label> <input id="email" name="email" type="email" value="old@example.com"></p>
  <p><label>Display   name <input name="display"></label></p>
  <p><label for="role">Role</label> <select id="role" name="role"><option value="r">Reader</option><option value="a">Admin</option></select></p>
  <p><label><input type="checkbox" name="remember"> Remember me</label></p>
  <p><button type="button">Cancel</button> <button type="submit">Sign in</button></p>
</form>
<p><label>A label for nothing</label> <input name="stray"></p>`)
	})
	mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) {
		q := url.Values{}
		for _, k := range []string{"email", "display", "role", "remember"} {
			q.Set(k, r.PostFormValue(k))
		}
		http.Redirect(w, r, "/done?"+q.Encode(), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page(w, "Done", fmt.Sprintf(`<p id="result">email=%s display=%s role=%s remember=%s</p>`,
			html.EscapeString(q.Get("email")), html.EscapeString(q.Get("display")), html.EscapeString(q.Get("role")), html.EscapeString(q.Get("remember"))))
	})
	// broken breaks the rules the dashboard keeps: its CSP allows scripts
	// from the site only, so the inline script is refused, and its script
	// logs an error and throws.
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
		page(w, "Broken", `<p>broken</p><script>document.title = "inline ran"</script><script src="/broken.js"></script>`)
	})
	mux.HandleFunc("GET /broken.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `console.error("boom from broken.js"); setTimeout(() => { throw new Error("kaboom") }, 0);`)
	})
	// dialogs asks before it submits, as the dashboard's delete buttons
	// do, and its other button opens an alert, as injected script would.
	mux.HandleFunc("GET /dialogs", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Dialogs", `<form method="post" action="/submit"><input type="hidden" name="email" value="confirmed@example.com"><button type="submit">Delete</button></form>
<button type="button" id="alert">Alert</button><script src="/dialogs.js"></script>`)
	})
	mux.HandleFunc("GET /dialogs.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `document.querySelector("form").addEventListener("submit", e => { if (!confirm("Delete it?")) e.preventDefault(); });
document.getElementById("alert").addEventListener("click", () => alert("injected"));`)
	})
	mux.HandleFunc("GET /wide", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Wide", `<p>narrow</p><table id="grid" style="width: 900px"><tr><td>wide</td></tr></table>`)
	})
	mux.HandleFunc("GET /cookie", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "one", Path: "/"})
		page(w, "Cookie", `<p>set</p>`)
	})
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		fmt.Fprint(w, "pong")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestNavigateAndText(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	srv := site(t)

	require.Equal(t, int64(200), b.Navigate(t, srv.URL+"/"))
	assert.Equal(t, "Sign in", b.Text(t, "#title"))
	assert.Equal(t, []string{"Cancel", "Sign in"}, b.Texts(t, "button"))
	assert.Empty(t, b.Texts(t, "table"))
	assert.Equal(t, "Sign in", browsertest.Get(t, b, chromedp.Title()))

	assert.Equal(t, int64(404), b.Navigate(t, srv.URL+"/missing"))
	assert.Equal(t, srv.URL+"/missing", b.URL(t))
}

// TestFillAndSubmit fills every kind of field by its label and submits with
// the mouse; the server's echo proves what the browser sent.
func TestFillAndSubmit(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	srv := site(t)

	b.Navigate(t, srv.URL+"/")
	b.FillLabelled(t, "Email", "ada@example.com") // replaces the value that was there
	b.FillLabelled(t, "Display name", "Ada L.")   // nested in its label; spaces collapsed
	b.SelectLabelled(t, "Role", "Admin")
	b.SetChecked(t, "Remember me", true)
	b.SetChecked(t, "Remember me", true) // already on: stays on

	require.Equal(t, int64(200), b.ClickButtonAndWait(t, "Sign in"))
	assert.Equal(t, "email=ada@example.com display=Ada L. role=a remember=on", b.Text(t, "#result"))
	assert.True(t, strings.HasPrefix(b.URL(t), srv.URL+"/done?"), b.URL(t))
	b.RequireNoConsoleErrors(t)
}

// TestKeyboardOnly reaches the submit button with Tab and submits with
// Enter, as someone without a mouse does.
func TestKeyboardOnly(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	srv := site(t)

	b.Navigate(t, srv.URL+"/")
	b.FillLabelled(t, "Display name", "Grace")
	b.TabTo(t, "button[type=submit]")
	require.Equal(t, int64(200), b.PressEnterAndWait(t))
	assert.Equal(t, "email=old@example.com display=Grace role=r remember=", b.Text(t, "#result"))
}

func TestFindFailuresSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t, browsertest.ArtifactDir(t.TempDir()))
	srv := site(t)
	b.Navigate(t, srv.URL+"/")

	for _, tc := range []struct {
		name string
		do   func(t testing.TB)
		want string
	}{
		{"no such label", func(t testing.TB) { b.FillLabelled(t, "Password", "x") },
			`no <label> reads "Password"; the labels read: "Email", "Display name", "Role", "Remember me", "A label for nothing"`},
		{"label without a field", func(t testing.TB) { b.FillLabelled(t, "A label for nothing", "x") },
			`the <label> "A label for nothing" labels no field`},
		{"wrong kind of field", func(t testing.TB) { b.FillLabelled(t, "Role", "Admin") },
			`is a <select>: use SelectLabelled`},
		{"no such option", func(t testing.TB) { b.SelectLabelled(t, "Role", "Owner") },
			`it has no option "Owner"; its options read: "Reader", "Admin"`},
		{"no such button", func(t testing.TB) { b.ClickButton(t, "Delete") },
			`no visible button reads "Delete"; the buttons read: "Cancel", "Sign in"`},
		{"no such element", func(t testing.TB) { b.Text(t, "#nothing") },
			`matches "#nothing"`},
		{"tab to nothing", func(t testing.TB) { b.TabTo(t, "#nothing") },
			`pressing Tab never focused "#nothing"; the focus went: <input> "Email"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t)
			rec.run(func() { tc.do(rec) })
			require.True(t, rec.Failed())
			assert.Contains(t, rec.failure(), tc.want)
		})
	}
}

func TestScreenshot(t *testing.T) {
	t.Parallel()
	srv := site(t)
	for _, tc := range []struct {
		name          string
		opts          []browsertest.Option
		width, height int
	}{
		// Full page: taller than the viewport would not matter here, so
		// the image is the viewport times the device pixel ratio.
		{"desktop", nil, browsertest.DesktopWidth, browsertest.DesktopHeight},
		{"phone", []browsertest.Option{browsertest.Phone()}, 2 * browsertest.PhoneWidth, 2 * browsertest.PhoneHeight},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := browsertest.New(t, tc.opts...)
			b.Navigate(t, srv.URL+"/")
			path := filepath.Join(t.TempDir(), "docs", "img", "sign-in.png")
			b.Screenshot(t, path)

			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			cfg, err := png.DecodeConfig(f)
			require.NoError(t, err, "the screenshot is a PNG")
			assert.Equal(t, tc.width, cfg.Width)
			assert.Equal(t, tc.height, cfg.Height)
		})
	}
}

func TestViewports(t *testing.T) {
	t.Parallel()
	srv := site(t)
	width := chromedp.Evaluate[int64](`window.innerWidth`)

	b := browsertest.New(t, browsertest.Phone(), browsertest.ArtifactDir(t.TempDir()))
	b.Navigate(t, srv.URL+"/")
	assert.Equal(t, int64(browsertest.PhoneWidth), browsertest.Get(t, b, width))
	assert.True(t, browsertest.Get(t, b, chromedp.Evaluate[bool](`matchMedia("(pointer: coarse)").matches`)), "the phone has touch")
	b.RequireNoHorizontalScroll(t)

	b.UseDesktop(t)
	assert.Equal(t, int64(browsertest.DesktopWidth), browsertest.Get(t, b, width))
	b.RequireNoHorizontalScroll(t)
	b.UsePhone(t)
	assert.Equal(t, int64(browsertest.PhoneWidth), browsertest.Get(t, b, width))

	b.Navigate(t, srv.URL+"/wide")
	rec := newRecorder(t)
	rec.run(func() { b.RequireNoHorizontalScroll(rec) })
	require.True(t, rec.Failed())
	assert.Contains(t, rec.failure(), "in a 390px viewport, so it scrolls sideways; widest: <table#grid> reaches")
}

func TestConsoleErrorsAndCSPViolations(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t, browsertest.ArtifactDir(t.TempDir()))
	srv := site(t)

	b.Navigate(t, srv.URL+"/broken")
	csp := b.WaitConsole(t, browsertest.ConsoleMessage.IsCSPViolation)
	assert.Equal(t, "error", csp.Level)
	assert.Contains(t, csp.Text, "Executing inline script violates the following Content Security Policy directive 'default-src 'self''")
	logged := b.WaitConsole(t, func(m browsertest.ConsoleMessage) bool { return m.Source == "console-api" })
	assert.Equal(t, browsertest.ConsoleMessage{Source: "console-api", Level: "error", Text: "boom from broken.js", URL: srv.URL + "/broken.js", Line: 1}, logged)
	thrown := b.WaitConsole(t, func(m browsertest.ConsoleMessage) bool { return m.Source == "exception" })
	assert.Contains(t, thrown.Text, "Error: kaboom")
	assert.Equal(t, "Broken", browsertest.Get(t, b, chromedp.Title()), "the CSP kept the inline script from running")

	rec := newRecorder(t)
	rec.run(func() { b.RequireNoConsoleErrors(rec) })
	require.True(t, rec.Failed())
	assert.Contains(t, rec.failure(), "the page logged 3 console error(s)")
	assert.Contains(t, rec.failure(), "boom from broken.js")
}

// TestDialogs: a confirm is answered OK, as a person deleting something
// would, and an alert is dismissed and counted as an error.
func TestDialogs(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t, browsertest.ArtifactDir(t.TempDir()))
	srv := site(t)

	b.Navigate(t, srv.URL+"/dialogs")
	require.Equal(t, int64(200), b.ClickButtonAndWait(t, "Delete"))
	assert.Contains(t, b.Text(t, "#result"), "email=confirmed@example.com", "the confirm was accepted, so the form was sent")
	b.RequireNoConsoleErrors(t)
	b.Navigate(t, srv.URL+"/dialogs")
	b.ClickButton(t, "Alert")
	alert := b.WaitConsole(t, func(m browsertest.ConsoleMessage) bool { return m.Source == "dialog" && m.IsError() })
	assert.Equal(t, "alert: injected", alert.Text)
	assert.Equal(t, "Dialogs", browsertest.Get(t, b, chromedp.Title()), "the page goes on once the alert is dismissed")
}

// TestOnlyLoopback checks that a page can reach loopback and nothing else.
// The failure for an IP literal is the proof that the browser's own rules
// refused it: an address needs no name resolution, so without the rules it
// would fail (if at all) to connect, never to resolve.
func TestOnlyLoopback(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	srv := site(t)
	b.Navigate(t, srv.URL+"/")

	fetch := func(u string) string {
		return browsertest.Get(t, b, chromedp.Evaluate[string](
			fmt.Sprintf(`fetch(%q).then(r => r.text(), e => "refused: " + e.message)`, u), chromedp.EvalAwaitPromise))
	}
	port := strings.TrimPrefix(srv.URL, "http://127.0.0.1:")
	assert.Equal(t, "pong", fetch(srv.URL+"/ping"))
	assert.Equal(t, "pong", fetch("http://localhost:"+port+"/ping"))
	for _, u := range []string{"http://example.com/", "http://192.0.2.1/", "http://10.0.0.1:" + port + "/ping"} {
		assert.Equal(t, "refused: Failed to fetch", fetch(u), u)
		m := b.WaitConsole(t, func(m browsertest.ConsoleMessage) bool { return m.URL == u })
		assert.Contains(t, m.Text, "net::ERR_NAME_NOT_RESOLVED", u)
	}
}

func TestTabsAreIncognito(t *testing.T) {
	t.Parallel()
	srv := site(t)
	cookies := chromedp.Evaluate[string](`document.cookie`)

	one := browsertest.New(t)
	two := browsertest.New(t)
	assert.True(t, browsertest.SameProcess(one, two), "tabs share one Chromium")
	one.Navigate(t, srv.URL+"/cookie")
	assert.Equal(t, "session=one", browsertest.Get(t, one, cookies))
	two.Navigate(t, srv.URL+"/")
	assert.Equal(t, "", browsertest.Get(t, two, cookies), "a cookie from another test's tab")
}

// TestTabClosesBeforeCleanups holds a stream open from the page, as a live
// dashboard would, and checks that the tab lets go of it when the test
// function returns: a server's cleanup that waits for its open requests
// (httptest's Close does) would otherwise wait for ever.
func TestTabClosesBeforeCleanups(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	connected, gone := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/events" {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><link rel="icon" href="data:,"><title>live</title><script>new EventSource("/events")</script>`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: hello\n\n")
		w.(http.Flusher).Flush()
		close(connected)
		<-r.Context().Done()
		close(gone)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		// Cleanups run last first, so this runs before srv.Close and
		// while the Browser's own cleanup has not run yet.
		select {
		case <-gone:
		case <-time.After(closeWait):
			t.Errorf("the page's stream was still open %v after the test function returned", closeWait)
			srv.CloseClientConnections()
		}
	})

	b.Navigate(t, srv.URL+"/")
	select {
	case <-connected:
	case <-time.After(closeWait):
		t.Fatal("the page never opened its stream")
	}
}

// TestFailureSavesThePage fails a test in the two ways the harness sees (an
// action that fails, and a test that failed on its own by cleanup time) and
// checks what each leaves for a person reading CI's output.
func TestFailureSavesThePage(t *testing.T) {
	t.Parallel()
	srv := site(t)
	for _, tc := range []struct {
		name string
		fail func(b *browsertest.Browser, t testing.TB)
		want string // in failure.txt
	}{
		{"action fails", func(b *browsertest.Browser, t testing.TB) {
			b.Run(t, chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
				return errors.New("the step broke")
			}))
		}, "browser: the step broke"},
		{"test fails", func(b *browsertest.Browser, t testing.TB) {
			t.Errorf("the page is wrong")
		}, "the test failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			rec := newRecorder(t)
			rec.name = "TestSomething/case_" + tc.name
			rec.run(func() {
				b := browsertest.New(rec, browsertest.ArtifactDir(base))
				b.Navigate(rec, srv.URL+"/")
				b.FillLabelled(rec, "Display name", "Saved state")
				tc.fail(b, rec)
			})
			rec.cleanup()
			require.True(t, rec.Failed())

			dir := filepath.Join(base, "TestSomething__case_"+strings.ReplaceAll(tc.name, " ", "_"))
			assert.Contains(t, rec.logged(), "browsertest: saved the page in "+dir)
			if tc.name == "action fails" {
				assert.Contains(t, rec.failure(), "browser: the step broke\n(the page is saved in "+dir+")")
			}
			read := func(name string) string {
				data, err := os.ReadFile(filepath.Join(dir, name))
				require.NoError(t, err)
				return string(data)
			}
			assert.Equal(t, srv.URL+"/\n", read("url.txt"))
			assert.Contains(t, read("page.html"), `<h1 id="title">Sign in</h1>`)
			assert.Contains(t, read("failure.txt"), tc.want)
			assert.Equal(t, "(nothing)\n", read("console.txt"))
			assert.True(t, bytes.HasPrefix([]byte(read("screenshot.png")), []byte("\x89PNG\r\n\x1a\n")))
		})
	}
}

func TestArtifactPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, option, env, test, want string
	}{
		{"default", "", "", "TestLogin", "/tmp/aigate-test-artifacts/internal/dashboard/TestLogin"},
		{"env", "", "/ci/out", "TestLogin", "/ci/out/internal/dashboard/TestLogin"},
		{"option", "/opt", "/ci/out", "TestLogin", "/opt/TestLogin"},
		{"subtest", "", "", "TestLogin/wrong_password", "/tmp/aigate-test-artifacts/internal/dashboard/TestLogin__wrong_password"},
		{"odd characters", "", "", "TestX/../../a b:c", "/tmp/aigate-test-artifacts/internal/dashboard/TestX__..__..__a_b_c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, browsertest.ArtifactPath(tc.option, tc.env, "/tmp", "internal/dashboard", tc.test))
		})
	}
}

func TestFindChromium(t *testing.T) {
	t.Parallel()
	only := func(have string) func(string) (string, error) {
		return func(name string) (string, error) {
			if name == have {
				return "/usr/bin/" + name, nil
			}
			return "", errors.New("not found")
		}
	}
	got, err := browsertest.FindChromium("", only("chromium-browser"))
	require.NoError(t, err)
	assert.Equal(t, "/usr/bin/chromium-browser", got)

	got, err = browsertest.FindChromium("google-chrome", only("google-chrome"))
	require.NoError(t, err)
	assert.Equal(t, "/usr/bin/google-chrome", got)

	_, err = browsertest.FindChromium("", only("firefox"))
	require.ErrorContains(t, err, "install it (apt-get install chromium) or set AIGATE_CHROMIUM")

	_, err = browsertest.FindChromium("/opt/chrome", only("chromium"))
	require.ErrorContains(t, err, "AIGATE_CHROMIUM=/opt/chrome is not a program that can run")
}

// recorder is a testing.TB whose failures are recorded instead of failing
// the real test, so the harness's own failure paths can be checked; what it
// does not override goes to the real test.
type recorder struct {
	testing.TB
	name string
	// ctx is its Context, which ends just before the cleanups, as testing's.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	failed   bool
	messages []string
	logs     []string
	cleanups []func()
}

func newRecorder(t *testing.T) *recorder {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return &recorder{TB: t, name: t.Name(), ctx: ctx, cancel: cancel}
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Context() context.Context { return r.ctx }

func (r *recorder) Errorf(format string, args ...any) { r.Error(fmt.Sprintf(format, args...)) }

func (r *recorder) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.messages = append(r.messages, fmt.Sprint(args...))
}

func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); r.FailNow() }
func (r *recorder) Fatal(args ...any)                 { r.Error(args...); r.FailNow() }

// FailNow ends the goroutine, as testing's does; run gives each use its own.
func (r *recorder) FailNow() { runtime.Goexit() }

func (r *recorder) Fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	r.TB.Logf(format, args...)
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// run calls f on a goroutine of its own, so that a Fatal ends f and not the
// test, and waits for it.
func (r *recorder) run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// cleanup runs the registered cleanups, last first, as testing does.
func (r *recorder) cleanup() {
	r.cancel()
	r.mu.Lock()
	fs := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		r.run(fs[i])
	}
}

func (r *recorder) failure() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.messages, "\n")
}

func (r *recorder) logged() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.logs, "\n")
}
