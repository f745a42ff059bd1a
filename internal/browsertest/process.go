package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvChromium names the Chromium (or Chrome) binary to run instead of the
// first of chromium, chromium-browser and google-chrome on PATH.
const EnvChromium = "AIGATE_CHROMIUM"

// candidates are the names Debian, Ubuntu and Google give the browser.
var candidates = []string{"chromium", "chromium-browser", "google-chrome"}

// hostResolverRules make every name and address other than loopback fail to
// resolve, IP literals included, so a page under test cannot reach the
// internet or the machine's network (a CDN font, an analytics beacon, a
// stray link) and Chromium's own background traffic goes nowhere.
const hostResolverRules = "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"

// process is one Chromium that the Browsers of this test binary share.
type process struct {
	// ctx is the browser's root chromedp context; tabs are its children.
	ctx         context.Context
	cancel      context.CancelFunc
	allocCancel context.CancelFunc // cancels and waits for the allocator
	// users counts the Browsers that hold it; guarded by shared.mu.
	users int
}

var shared struct {
	mu   sync.Mutex
	proc *process // the process new Browsers get; nil when none runs
}

// acquire returns the running Chromium, starting one when none runs or the
// last one died, and counts the caller as a user until release.
func acquire() (*process, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if p := shared.proc; p != nil && p.ctx.Err() != nil {
		// It crashed or was killed. Its users still hold it and stop it
		// when they let go; new Browsers get a new one.
		shared.proc = nil
	}
	if shared.proc == nil {
		p, err := startProcess()
		if err != nil {
			return nil, err
		}
		shared.proc = p
	}
	shared.proc.users++
	return shared.proc, nil
}

// release stops the process when its last user lets go, so nothing of the
// browser outlives the tests that used it.
func release(p *process) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	p.users--
	if p.users > 0 {
		return
	}
	if shared.proc == p {
		shared.proc = nil
	}
	p.stop()
}

// findChromium returns the browser binary to run, or an error that says how
// to get one: env is AIGATE_CHROMIUM's value, lookPath is exec.LookPath.
func findChromium(env string, lookPath func(string) (string, error)) (string, error) {
	if env != "" {
		found, err := lookPath(env)
		if err != nil {
			return "", fmt.Errorf("%s=%s is not a program that can run (%w): point it at a Chromium or Chrome binary, or unset it to use chromium from PATH", EnvChromium, env, err)
		}
		return found, nil
	}
	for _, name := range candidates {
		if found, err := lookPath(name); err == nil {
			return found, nil
		}
	}
	return "", fmt.Errorf("no Chromium to run the browser tests: none of %s is on PATH; install it (apt-get install chromium) or set %s to a Chromium or Chrome binary", strings.Join(candidates, ", "), EnvChromium)
}

// allocatorOptions are the flags Chromium runs with.
func allocatorOptions(path string) []chromedp.ExecAllocatorOption {
	opts := slices.Clone(chromedp.DefaultExecAllocatorOptions[:]) // headless, no first run, no background work
	opts = append(opts,
		chromedp.ExecPath(path),
		chromedp.DisableGPU, // software rendering: the same pixels on every machine
		chromedp.WindowSize(DesktopWidth, DesktopHeight),
		chromedp.Flag("host-resolver-rules", hostResolverRules),
		// A proxy from the environment or the system must not route the
		// loopback traffic elsewhere, or let other traffic out.
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("accept-lang", "en-US"),
		// The browser gets only what it needs of the test's environment:
		// the test binary's variables (database URLs, provider keys) are
		// none of a web page's business, and proxy variables would change
		// how it connects.
		chromedp.NoInheritEnv,
		chromedp.Env(browserEnv()...),
	)
	if os.Getuid() == 0 {
		// Chromium refuses to start as root with its sandbox on, and CI
		// and containers run the tests as root. The pages it loads are the
		// tests' own, from loopback: nothing untrusted for it to contain.
		opts = append(opts, chromedp.NoSandbox)
	}
	return opts
}

// browserEnv is the whole environment the browser starts with.
func browserEnv() []string {
	env := []string{"TZ=UTC", "LANG=C.UTF-8"}
	for _, name := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// startProcess starts Chromium and waits until it answers.
func startProcess() (*process, error) {
	path, err := findChromium(os.Getenv(EnvChromium), exec.LookPath)
	if err != nil {
		return nil, err
	}
	// The browser outlives the test that started it, so its contexts come
	// from Background and not from any test.
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), allocatorOptions(path)...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	p := &process{ctx: ctx, cancel: cancel, allocCancel: allocCancel}

	// The first Run starts the browser and binds its life to the context
	// it gets, so it runs on ctx itself, with a timer instead of a deadline.
	timer := time.AfterFunc(startTimeout, cancel)
	err = chromedp.Do(ctx)
	if !timer.Stop() {
		err = fmt.Errorf("no answer after %v: %w", startTimeout, err)
	}
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("start %s: %w (run it by hand with --headless to see why, or point %s at another binary)", path, err, EnvChromium)
	}
	return p, nil
}

// stop closes the browser, gracefully if it answers, and returns once the
// process has exited, its profile is removed and chromedp's goroutines for it
// have ended.
func (p *process) stop() {
	ctx, cancel := context.WithTimeout(p.ctx, stopTimeout)
	// A browser that does not close in time is killed by the cancels below;
	// the tests that used it have ended, so there is no one to tell.
	_ = chromedp.Cancel(ctx)
	cancel()
	p.cancel()
	p.allocCancel()
}
