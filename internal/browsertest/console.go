package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// maxConsole bounds what one tab keeps; a page that logs in a loop should
// fail its test, not fill the test binary's memory.
const maxConsole = 1000

// ConsoleMessage is one thing the page told the browser's console: a call of
// the console API, an uncaught exception, or an entry of the browser's own
// log (a CSP violation, a resource that failed to load).
type ConsoleMessage struct {
	// Source is where it came from: "console-api" for console.log and the
	// like, "exception" for an uncaught exception, or the browser log's
	// source, such as "security" (CSP), "network" or "javascript".
	Source string
	// Level is "error", "warning", "info", "log" or "debug".
	Level string
	Text  string
	// URL and Line (counted from 1) say where, when the browser knows.
	URL  string
	Line int64
}

// IsError reports whether the message is an error: console.error, a failed
// console.assert, an uncaught exception, or an error in the browser's log,
// which covers CSP violations and resources that failed to load.
func (m ConsoleMessage) IsError() bool { return m.Level == "error" }

// IsCSPViolation reports whether the message is the browser refusing
// something the page's Content-Security-Policy does not allow.
func (m ConsoleMessage) IsCSPViolation() bool {
	return m.Source == "security" && strings.Contains(m.Text, "Content Security Policy")
}

func (m ConsoleMessage) String() string {
	s := m.Source + " " + m.Level + ": " + m.Text
	if m.URL != "" {
		s += fmt.Sprintf(" (%s:%d)", m.URL, m.Line)
	}
	return s
}

// consoleLog collects a tab's messages. record runs on the goroutine that
// reads the tab's events, so it must not block.
type consoleLog struct {
	mu       sync.Mutex
	messages []ConsoleMessage
	dropped  int
	// changed is closed and replaced when a message arrives, so a waiter
	// wakes on news instead of polling.
	changed chan struct{}
}

func (c *consoleLog) init() { c.changed = make(chan struct{}) }

func (c *consoleLog) record(ev any) {
	var m ConsoleMessage
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		m = ConsoleMessage{Source: "console-api", Level: consoleLevel(ev.Type), Text: argsText(ev.Args)}
		if st := ev.StackTrace; st != nil && len(st.CallFrames) > 0 {
			m.URL, m.Line = st.CallFrames[0].URL, st.CallFrames[0].LineNumber+1
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		m = ConsoleMessage{Source: "exception", Level: "error", Text: d.Text, URL: d.URL, Line: d.LineNumber + 1}
		if d.Exception != nil && d.Exception.Description != "" {
			// The description is the error and its stack; the first line
			// is the part a reader needs.
			first, _, _ := strings.Cut(d.Exception.Description, "\n")
			m.Text += " " + first
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		level := string(e.Level)
		if e.Level == log.EntryLevelVerbose {
			level = "debug"
		}
		m = ConsoleMessage{Source: string(e.Source), Level: level, Text: e.Text, URL: e.URL, Line: e.LineNumber + 1}
		if e.URL == "" {
			m.Line = 0
		}
	default:
		return
	}
	c.add(m)
}

func (c *consoleLog) add(m ConsoleMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.messages) >= maxConsole {
		c.dropped++
		return
	}
	c.messages = append(c.messages, m)
	close(c.changed)
	c.changed = make(chan struct{})
}

func consoleLevel(t runtime.ConsoleAPICalledType) string {
	switch t {
	case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeAssert:
		return "error"
	case runtime.ConsoleAPICalledTypeWarning:
		return "warning"
	case runtime.ConsoleAPICalledTypeDebug:
		return "debug"
	case runtime.ConsoleAPICalledTypeInfo:
		return "info"
	default:
		return "log"
	}
}

// argsText renders the arguments of a console call roughly as DevTools does:
// strings as they are, other values by their description.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a.Type == runtime.RemoteObjectTypeString:
			var s string
			if err := json.Unmarshal(a.Value, &s); err == nil {
				parts = append(parts, s)
				continue
			}
			parts = append(parts, string(a.Value))
		case a.Description != "":
			parts = append(parts, a.Description)
		case a.UnserializableValue != "":
			parts = append(parts, string(a.UnserializableValue))
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

func (c *consoleLog) snapshot() ([]ConsoleMessage, int, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ConsoleMessage(nil), c.messages...), c.dropped, c.changed
}

// Console returns every message the tab's pages have logged so far.
func (b *Browser) Console() []ConsoleMessage {
	msgs, _, _ := b.console.snapshot()
	return msgs
}

// ConsoleErrors returns the messages so far that are errors (IsError).
func (b *Browser) ConsoleErrors() []ConsoleMessage {
	var errs []ConsoleMessage
	for _, m := range b.Console() {
		if m.IsError() {
			errs = append(errs, m)
		}
	}
	return errs
}

// RequireNoConsoleErrors fails the test when any page the tab loaded logged
// an error: a console.error, an uncaught exception, a CSP violation or a
// resource that failed to load. The browser asks every site for
// /favicon.ico, so a site without one fails here, as its 404 shows in a
// real browser's console too. It first lets the page finish the tasks it has
// queued, so an error the page is about to report is not missed.
func (b *Browser) RequireNoConsoleErrors(t testing.TB) {
	t.Helper()
	b.settle(t)
	errs := b.ConsoleErrors()
	if len(errs) == 0 {
		return
	}
	lines := make([]string, len(errs))
	for i, m := range errs {
		lines[i] = "  " + m.String()
	}
	b.Fatalf(t, "the page logged %d console error(s):\n%s", len(errs), strings.Join(lines, "\n"))
}

// settle waits until the page has run the tasks queued before it, and until
// every event the browser sent before that has been recorded: the reply to
// a command comes after the events sent before it, and the listener sees
// each event before the next message is read.
func (b *Browser) settle(t testing.TB) {
	t.Helper()
	b.Run(t, chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](`new Promise(resolve => setTimeout(resolve, 0))`, chromedp.EvalAwaitPromise)(ctx, tgt)
		return err
	}))
}

// WaitConsole waits until the tab has logged a message that match accepts and
// returns it; it fails the test if none comes within the action timeout. A
// test that provokes an error asynchronously uses it instead of sleeping.
func (b *Browser) WaitConsole(t testing.TB, match func(ConsoleMessage) bool) ConsoleMessage {
	t.Helper()
	timeout := time.NewTimer(actionTimeout)
	defer timeout.Stop()
	seen := 0
	for {
		msgs, _, changed := b.console.snapshot()
		for _, m := range msgs[seen:] {
			if match(m) {
				return m
			}
		}
		seen = len(msgs)
		select {
		case <-changed:
		case <-timeout.C:
			b.Fatalf(t, "no matching console message after %v; the console has:\n%s", actionTimeout, consoleText(msgs, 0))
		}
	}
}

func consoleText(msgs []ConsoleMessage, dropped int) string {
	var sb strings.Builder
	for _, m := range msgs {
		sb.WriteString(m.String())
		sb.WriteByte('\n')
	}
	if dropped > 0 {
		fmt.Fprintf(&sb, "(%d more messages were dropped after the first %d)\n", dropped, maxConsole)
	}
	if len(msgs) == 0 {
		sb.WriteString("(nothing)\n")
	}
	return sb.String()
}
