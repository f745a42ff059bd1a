// Package browsertest drives a real headless Chromium from Go tests: it owns
// finding and starting the browser (headless, no network beyond loopback),
// giving each test a fresh incognito tab at a desktop or phone viewport,
// saving a screenshot, the URL and the HTML of the page when a test fails,
// collecting console errors and CSP violations, answering JavaScript
// dialogs (confirm: OK; an alert counts as an error), and the helpers that act on a
// page the way a person does (a field found by its label, a button by its
// text, the keyboard alone).
//
// A test asks for a Browser first, then starts the server it tests:
//
//	b := browsertest.New(t)
//	srv := servertest.Start(t, servertest.Options{})
//	b.Navigate(t, srv.URL+"/")
//	b.FillLabelled(t, "Email", "ada@example.com")
//	b.ClickButtonAndWait(t, "Sign in")
//	b.RequireNoConsoleErrors(t)
//
// The tab closes when the test function returns, as the cleanups start, so
// the server under test never waits to stop for a connection the tab holds
// open (an event stream), whichever of the two comes first; checks on the
// page belong in the test function, not in a Cleanup.
//
// The tests of one test binary share one Chromium process, and each Browser is
// its own incognito browser context in it, so cookies, storage and cache never
// cross tests, and a test pays for a tab (about 0.3 s) rather than a browser
// (about 0.65 s). The process starts with the first New and stops when the
// last Browser in use is let go, at the end of its test's cleanups, so the
// package's goleak check in TestMain (goleak.VerifyTestMain or testdb.Main)
// finds nothing left running. With New first in each test, parallel tests
// keep it up from one to the next; a test that builds its server first holds
// the browser only while it runs, and one test's setup can then fall between
// two Chromiums.
//
// The environment: AIGATE_CHROMIUM names the browser binary (else chromium,
// chromium-browser or google-chrome on PATH), AIGATE_TEST_ARTIFACTS where
// failures save their page, and AIGATE_UPDATE_SCREENSHOTS=1 asks the tests
// to rewrite the screenshots in docs/.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Timeouts bound a browser that has stopped answering; none of them is how
// long a test expects anything to take.
const (
	// actionTimeout bounds one Run, helper or wait.
	actionTimeout = 30 * time.Second
	// startTimeout bounds starting Chromium and opening a tab.
	startTimeout = 60 * time.Second
	// artifactTimeout bounds saving the page of a failed test, so a hung
	// page cannot hang the cleanup as well.
	artifactTimeout = 15 * time.Second
	// stopTimeout bounds the graceful close of the browser.
	stopTimeout = 15 * time.Second
)

// The viewports that the dashboard must be readable at.
const (
	DesktopWidth, DesktopHeight = 1280, 800
	// PhoneWidth × PhoneHeight is a common phone (CSS pixels). The phone
	// viewport is a mobile one with touch, so the page's meta viewport
	// decides the layout as on a real phone.
	PhoneWidth, PhoneHeight = 390, 844
	// phoneScale is the phone's device pixel ratio: 2 keeps text in phone
	// screenshots sharp without making the images in docs/ huge.
	phoneScale = 2
)

// Option changes how New sets up a Browser.
type Option func(*config)

type config struct {
	phone       bool
	artifactDir string
}

// Phone starts the Browser at the phone viewport instead of the desktop one.
func Phone() Option { return func(c *config) { c.phone = true } }

// ArtifactDir saves the failure artifacts under dir instead of the place that
// AIGATE_TEST_ARTIFACTS, -artifacts or the default names; the harness's own
// tests use it to look at what a failure leaves behind.
func ArtifactDir(dir string) Option { return func(c *config) { c.artifactDir = dir } }

// Browser is one test's incognito tab in the shared Chromium. Its methods
// that take a testing.TB fail that test, after saving the page, when the
// browser cannot do what they ask. A tab does one thing at a time, so a
// Browser is for one goroutine.
type Browser struct {
	cfg  config
	proc *process
	// ctx is the tab's chromedp context; cancel closes the tab and disposes
	// of its browser context.
	ctx    context.Context
	cancel context.CancelFunc

	console consoleLog

	// mu guards saved: the page is saved once per test, at the first
	// failure, since that is the state worth seeing.
	mu    sync.Mutex
	saved bool
}

// New opens a fresh incognito tab for the test, starting Chromium if no other
// test has it running, and closes the tab when the test ends. It fails the
// test, with the fix, when no Chromium is installed; it never skips.
func New(t testing.TB, opts ...Option) *Browser {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	b, err := open(cfg)
	if err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	// The tab closes when the test function returns (its Context ends just
	// before the cleanups), alongside the cleanups, and not in one of
	// them: wherever New comes among them, the server under test never
	// waits to stop for a connection the tab holds open. The browser itself
	// is let go in the cleanup, after every cleanup New came before, so with
	// New first in each test it stays up from one test to the next.
	closed := make(chan struct{})
	closeTab := func() {
		defer close(closed)
		if t.Failed() {
			b.saveOnce(t, "the test failed")
		}
		b.cancel()
	}
	stop := context.AfterFunc(t.Context(), closeTab)
	t.Cleanup(func() {
		if stop() {
			closeTab() // the Context did not end first; a testing.TB may not promise it
		}
		<-closed
		release(b.proc)
	})
	return b
}

// open opens a tab in the shared browser, starting it if need be.
func open(cfg config) (*Browser, error) {
	b := &Browser{cfg: cfg}
	b.console.init()
	proc, err := acquire()
	if err != nil {
		return nil, err
	}
	b.proc = proc
	b.ctx, b.cancel = chromedp.NewContext(proc.ctx,
		chromedp.WithNewBrowserContext(),
		// A listener from the start sees the console of every page the tab
		// loads; it runs on the tab's reading goroutine, so it only appends.
		chromedp.WithListener(b.listen),
	)
	// The first Run creates the tab and ties its life to the context it
	// gets, so it runs on b.ctx itself, with a timer instead of a deadline.
	timer := time.AfterFunc(startTimeout, b.cancel)
	err = chromedp.Do(b.ctx, b.viewport())
	if !timer.Stop() {
		err = fmt.Errorf("no tab after %v: %w", startTimeout, err)
	}
	if err != nil {
		b.shut()
		return nil, fmt.Errorf("open a tab: %w", err)
	}
	return b, nil
}

// listen sees every event of the tab: console messages are recorded, and a
// JavaScript dialog is answered as a person would: a confirm (the
// dashboard's "Delete …?") with OK, an alert or prompt dismissed and
// recorded as an error, since the dashboard never opens one and one that
// opens is script that should not be running (an XSS test's proof).
func (b *Browser) listen(ev any) {
	if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
		level := "error"
		if d.Type == page.DialogTypeConfirm || d.Type == page.DialogTypeBeforeunload {
			level = "info"
		}
		b.console.add(ConsoleMessage{Source: "dialog", Level: level, Text: string(d.Type) + ": " + d.Message, URL: d.URL})
		// Actions cannot run on the listener's goroutine, which reads the
		// answers they wait for.
		go func() {
			_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: level == "info"}) // the tab closing first is fine
		}()
		return
	}
	b.console.record(ev)
}

// shut closes the tab, disposing of its browser context, and lets go of the
// shared browser.
func (b *Browser) shut() {
	b.cancel()
	release(b.proc)
}

// Context is the tab's chromedp context, for the chromedp functions that
// take one (Events, Listen, RunResponse); Run and Get are the usual way in.
func (b *Browser) Context() context.Context { return b.ctx }

// viewport is the action that sets the emulated screen the Browser is at.
func (b *Browser) viewport() chromedp.Action[chromedp.Void] {
	if b.cfg.phone {
		return chromedp.EmulateViewport(PhoneWidth, PhoneHeight,
			chromedp.EmulateScale(phoneScale), chromedp.EmulatePortrait,
			chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	return chromedp.EmulateViewport(DesktopWidth, DesktopHeight, chromedp.EmulateLandscape)
}

// UsePhone switches the tab to the phone viewport; the page lays itself out
// again, so a test can check one page at both sizes.
func (b *Browser) UsePhone(t testing.TB) {
	t.Helper()
	b.cfg.phone = true
	b.Run(t, b.viewport())
}

// UseDesktop switches the tab to the 1280×800 desktop viewport.
func (b *Browser) UseDesktop(t testing.TB) {
	t.Helper()
	b.cfg.phone = false
	b.Run(t, b.viewport())
}

// Run runs the actions in order in the tab. When one fails, it saves the
// page and fails the test with the error and where the page was saved.
func (b *Browser) Run(t testing.TB, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := b.do(actions...); err != nil {
		b.Fatalf(t, "browser: %v", err)
	}
}

// Get runs one action that returns a value, such as chromedp.Location or
// chromedp.Evaluate, and returns the value; a failure fails the test as Run
// does. (A method cannot have a type parameter, so Get is a function.)
func Get[T any](t testing.TB, b *Browser, action chromedp.Action[T]) T {
	t.Helper()
	v, err := run(b, action)
	if err != nil {
		b.Fatalf(t, "browser: %v", err)
	}
	return v
}

func (b *Browser) do(actions ...chromedp.Action[chromedp.Void]) error {
	_, err := run(b, chromedp.Steps(actions...))
	return err
}

func run[T any](b *Browser, action chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	switch {
	case err == nil:
	case b.proc.ctx.Err() != nil:
		err = fmt.Errorf("the browser has exited (a crash, or killed for memory?): %w", err)
	case b.ctx.Err() != nil:
		err = fmt.Errorf("the tab is closed: it closes when the test function returns, so use the Browser there and not in a Cleanup (%w)", err)
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("no answer from the browser after %v (a page that never loads, an element that never appears, or an open alert): %w", actionTimeout, err)
	}
	return v, err
}

// Fatalf saves the page (its screenshot, URL, HTML and console) and fails the
// test with the message and where the page was saved. Tests use it for their
// own checks on the page, so those failures leave the same evidence.
func (b *Browser) Fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if dir, ok := b.saveOnce(t, msg); ok {
		msg += "\n(the page is saved in " + dir + ")"
	}
	t.Fatal(msg)
}

// Errorf is Fatalf without stopping the test.
func (b *Browser) Errorf(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if dir, ok := b.saveOnce(t, msg); ok {
		msg += "\n(the page is saved in " + dir + ")"
	}
	t.Error(msg)
}

// UpdateScreenshots reports whether AIGATE_UPDATE_SCREENSHOTS=1 asks the
// tests to rewrite the screenshots in docs/ with Screenshot.
func UpdateScreenshots() bool { return os.Getenv(EnvUpdateScreenshots) == "1" }

// EnvUpdateScreenshots is the variable that UpdateScreenshots reads.
const EnvUpdateScreenshots = "AIGATE_UPDATE_SCREENSHOTS"
