package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The helpers below look at the page as it is when they are called: a page
// the server renders is complete once it has loaded, so they do not wait for
// elements to appear, and a missing element fails the test at once with what
// the page has instead. Navigate and the ...AndWait helpers wait for the load.

// maxTabs bounds TabTo: a page with more stops than this before the one a
// test wants is a keyboard user's problem too.
const maxTabs = 100

// Navigate loads url in the tab, waits for the load event, and returns the
// HTTP status of the document.
func (b *Browser) Navigate(t testing.TB, url string) int64 {
	t.Helper()
	resp := Get(t, b, chromedp.NavigateResponse(url))
	if resp == nil {
		b.Fatalf(t, "browser: loading %s gave no response", url)
	}
	return resp.Status
}

// URL returns the address of the page in the tab.
func (b *Browser) URL(t testing.TB) string {
	t.Helper()
	return Get(t, b, chromedp.Location())
}

// Text returns the text the first element matching the CSS selector shows
// (its innerText: what a reader sees, laid out).
func (b *Browser) Text(t testing.TB, css string) string {
	t.Helper()
	text := Get(t, b, chromedp.Evaluate[*string](fmt.Sprintf(
		`(el => el ? el.innerText : null)(document.querySelector(%s))`, jsString(css))))
	if text == nil {
		b.Fatalf(t, "no element on %s matches %q", b.URL(t), css)
	}
	return *text
}

// Texts returns the text of every element matching the CSS selector, in
// document order; none is an empty slice, not a failure.
func (b *Browser) Texts(t testing.TB, css string) []string {
	t.Helper()
	texts := Get(t, b, chromedp.Evaluate[[]string](fmt.Sprintf(
		`Array.from(document.querySelectorAll(%s), el => el.innerText)`, jsString(css))))
	if texts == nil {
		texts = []string{}
	}
	return texts
}

// findJS finds one element the way a person would name it, and says what is
// wrong when it cannot: it is called as (findJS)(how, name, scope) and gives
// {el, error, kind}. "label" finds the form control that the <label> reading
// name labels (for= or nesting); "button" finds the visible button whose text
// (or aria-label) is name. Text is compared with runs of white space as one
// space; a label's text leaves out the controls nested in it.
const findJS = `function (how, name, scope) {
	const norm = s => (s || "").replace(/\s+/g, " ").trim();
	const visible = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
	const list = items => items.length ? items.map(s => JSON.stringify(s)).join(", ") : "none";
	const root = scope ? document.querySelector(scope) : document;
	if (!root) return {error: "no element matches " + JSON.stringify(scope) + " to look in"};
	const where = scope ? " in " + scope : "";
	const want = norm(name);
	if (how === "label") {
		const labelText = l => {
			const c = l.cloneNode(true);
			c.querySelectorAll("input, select, textarea, button, datalist").forEach(e => e.remove());
			return norm(c.textContent);
		};
		const labels = Array.from(root.querySelectorAll("label"));
		const hits = labels.filter(l => labelText(l) === want);
		if (hits.length === 0) return {error: "no <label>" + where + " reads " + JSON.stringify(want) + "; the labels read: " + list(labels.map(labelText))};
		if (hits.length > 1) return {error: hits.length + " <label>s" + where + " read " + JSON.stringify(want) + "; a label must say which field it is"};
		const el = hits[0].control;
		if (!el) return {error: "the <label> " + JSON.stringify(want) + " labels no field: give it for= with the field's id, or put the field inside it"};
		if (!visible(el)) return {error: "the field labelled " + JSON.stringify(want) + " is hidden"};
		if (el.disabled) return {error: "the field labelled " + JSON.stringify(want) + " is disabled"};
		return {el, kind: el.tagName.toLowerCase() + (el.type ? ":" + el.type : "")};
	}
	if (how === "button") {
		const buttons = Array.from(root.querySelectorAll("button, input[type=submit], input[type=button], input[type=reset], [role=button]")).filter(visible);
		const text = el => norm(el.tagName === "INPUT" ? el.value : el.textContent);
		const hits = buttons.filter(el => text(el) === want || norm(el.getAttribute("aria-label")) === want);
		if (hits.length === 0) return {error: "no visible button" + where + " reads " + JSON.stringify(want) + "; the buttons read: " + list(buttons.map(text))};
		if (hits.length > 1) return {error: hits.length + " buttons" + where + " read " + JSON.stringify(want) + "; name the part of the page to look in"};
		if (hits[0].disabled) return {error: "the button " + JSON.stringify(want) + " is disabled"};
		return {el: hits[0], kind: "button"};
	}
	return {error: "unknown lookup " + how};
}`

type found struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
}

// find checks that exactly one element answers to the name and returns a
// selector for it, for chromedp's actions, which act like a person: a real
// mouse click at the element's centre, real key presses.
func (b *Browser) find(t testing.TB, how, name, scope string) (chromedp.JSPath, string) {
	t.Helper()
	expr := fmt.Sprintf("(%s)(%s, %s, %s)", findJS, jsString(how), jsString(name), jsString(scope))
	f := Get(t, b, chromedp.Evaluate[found](`(r => ({error: r.error || "", kind: r.kind || ""}))(`+expr+`)`))
	if f.Error != "" {
		b.Fatalf(t, "on %s: %s", b.URL(t), f.Error)
	}
	return chromedp.JSPath(expr + ".el"), f.Kind
}

// Labelled returns a selector for the form control that the <label> reading
// label labels, for chromedp actions that the helpers here do not cover.
func (b *Browser) Labelled(t testing.TB, label string) chromedp.JSPath {
	t.Helper()
	sel, _ := b.find(t, "label", label, "")
	return sel
}

// FillLabelled types value into the text field, text area or the like that
// the <label> reading label labels, replacing what it held. Finding the field
// by its label is the point: a field a test can fill is a field with a label.
func (b *Browser) FillLabelled(t testing.TB, label, value string) {
	t.Helper()
	sel, kind := b.find(t, "label", label, "")
	switch kind {
	case "select:select-one", "select:select-multiple":
		b.Fatalf(t, "the field labelled %q is a <select>: use SelectLabelled", label)
	case "input:checkbox", "input:radio":
		b.Fatalf(t, "the field labelled %q is a %s: use SetChecked", label, strings.TrimPrefix(kind, "input:"))
	}
	// Empty the field the way the page would see a person do it (an input
	// event), then type. (chromedp.SetValue cannot set "": it leaves the
	// empty argument out and the field gets "undefined".)
	b.Run(t,
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(el => { el.value = ""; return el.dispatchEvent(new Event("input", {bubbles: true})) })(`+string(sel)+`)`)(ctx, tgt)
			return err
		}),
		chromedp.SendKeys(sel, value),
	)
	if got := Get(t, b, chromedp.Value(sel)); got != value {
		b.Fatalf(t, "the field labelled %q holds %q after typing %q (does the page change what is typed?)", label, got, value)
	}
}

// SelectLabelled picks the option whose text is option in the <select> that
// the <label> reading label labels, and tells the page, as a person's choice
// would (input and change events).
func (b *Browser) SelectLabelled(t testing.TB, label, option string) {
	t.Helper()
	sel, kind := b.find(t, "label", label, "")
	if !strings.HasPrefix(kind, "select:") {
		b.Fatalf(t, "the field labelled %q is not a <select> but %s", label, kind)
	}
	msg := Get(t, b, chromedp.Evaluate[string](fmt.Sprintf(`(el => {
		const norm = s => (s || "").replace(/\s+/g, " ").trim();
		const opts = Array.from(el.options);
		const hit = opts.find(o => norm(o.textContent) === norm(%s));
		if (!hit) return "it has no option " + JSON.stringify(%[1]s) + "; its options read: " + opts.map(o => JSON.stringify(norm(o.textContent))).join(", ");
		if (hit.disabled) return "its option " + JSON.stringify(%[1]s) + " is disabled";
		el.focus();
		el.value = hit.value;
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.dispatchEvent(new Event("change", {bubbles: true}));
		return "";
	})(%s)`, jsString(option), string(sel))))
	if msg != "" {
		b.Fatalf(t, "the <select> labelled %q: %s", label, msg)
	}
}

// SetChecked clicks the checkbox or radio button that the <label> reading
// label labels if it is not already in the state on.
func (b *Browser) SetChecked(t testing.TB, label string, on bool) {
	t.Helper()
	sel, kind := b.find(t, "label", label, "")
	if kind != "input:checkbox" && kind != "input:radio" {
		b.Fatalf(t, "the field labelled %q is not a checkbox or radio button but %s", label, kind)
	}
	checked := chromedp.Evaluate[bool](string(sel) + ".checked")
	if Get(t, b, checked) != on {
		b.Run(t, chromedp.Click(sel))
	}
	if Get(t, b, checked) != on {
		b.Fatalf(t, "the %s labelled %q did not change when clicked", strings.TrimPrefix(kind, "input:"), label)
	}
}

// ClickButton clicks the one visible button that reads text (its text, the
// value of an input button, or its aria-label). It does not wait for what the
// click does; use ClickButtonAndWait for a click that loads a page.
func (b *Browser) ClickButton(t testing.TB, text string) {
	t.Helper()
	b.ClickButtonIn(t, "", text)
}

// ClickButtonIn is ClickButton among the buttons inside the first element
// matching the CSS selector within, for a page with a "Delete" in every row.
func (b *Browser) ClickButtonIn(t testing.TB, within, text string) {
	t.Helper()
	sel, _ := b.find(t, "button", text, within)
	b.Run(t, chromedp.Click(sel))
}

// ClickButtonAndWait clicks the button that reads text, waits for the page
// that the click loads (after any redirects), and returns its HTTP status.
func (b *Browser) ClickButtonAndWait(t testing.TB, text string) int64 {
	t.Helper()
	sel, _ := b.find(t, "button", text, "")
	return b.andWait(t, fmt.Sprintf("clicking %q", text), chromedp.Click(sel))
}

// andWait runs the action, which must start a page load, and returns the
// status of the page it loads.
func (b *Browser) andWait(t testing.TB, what string, action chromedp.Action[chromedp.Void]) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, action)
	if err != nil {
		b.Fatalf(t, "browser: %s and waiting for the page it loads: %v", what, err)
	}
	if resp == nil {
		b.Fatalf(t, "browser: %s loaded no page", what)
	}
	return resp.Status
}

// focusJS describes the focused element for TabTo: whether it matches the
// selector, where it is in the document (to see the focus come round), and
// how a person would name it.
const focusJS = `(sel => {
	const el = document.activeElement;
	if (!el || el === document.body) return {match: false, at: -1, name: "(the page)"};
	const text = (el.tagName === "INPUT" ? (el.labels && el.labels[0] ? el.labels[0].textContent : el.value) : el.textContent) || el.getAttribute("aria-label") || "";
	return {
		match: el.matches(sel),
		at: Array.prototype.indexOf.call(document.getElementsByTagName("*"), el),
		name: "<" + el.tagName.toLowerCase() + "> " + JSON.stringify(text.replace(/\s+/g, " ").trim().slice(0, 40)),
	};
})`

// TabTo presses Tab until the element matching the CSS selector has the
// focus, as a keyboard user reaches it, and fails with the order the focus
// went through if it never does.
func (b *Browser) TabTo(t testing.TB, css string) {
	t.Helper()
	type focus struct {
		Match bool   `json:"match"`
		At    int    `json:"at"`
		Name  string `json:"name"`
	}
	var path []string
	first := -2
	for range maxTabs {
		b.Run(t, chromedp.KeyEvent(kb.Tab))
		f := Get(t, b, chromedp.Evaluate[focus](focusJS+"("+jsString(css)+")"))
		if f.Match {
			return
		}
		if f.At == first {
			break // the focus has been round the whole page
		}
		if first == -2 && f.At >= 0 {
			first = f.At
		}
		path = append(path, f.Name)
	}
	b.Fatalf(t, "pressing Tab never focused %q; the focus went: %s", css, strings.Join(path, " → "))
}

// PressEnter presses Enter on whatever has the focus.
func (b *Browser) PressEnter(t testing.TB) {
	t.Helper()
	b.Run(t, chromedp.KeyEvent(kb.Enter))
}

// PressEnterAndWait presses Enter, waits for the page that loads, and returns
// its HTTP status: a keyboard user's submit.
func (b *Browser) PressEnterAndWait(t testing.TB) int64 {
	t.Helper()
	return b.andWait(t, "pressing Enter", chromedp.KeyEvent(kb.Enter))
}

// RequireNoHorizontalScroll fails the test when the page is wider than the
// viewport, the usual way a layout breaks on a phone, naming the widest
// elements that stick out. It compares with the emulated screen's width and
// not the page's own idea of it, because a phone browser widens its layout
// viewport (zooming out) to fit a page that is too wide.
func (b *Browser) RequireNoHorizontalScroll(t testing.TB) {
	t.Helper()
	width := int64(DesktopWidth)
	if b.cfg.phone {
		width = PhoneWidth
	}
	type overflow struct {
		Page     int64    `json:"page"`
		Culprits []string `json:"culprits"`
	}
	o := Get(t, b, chromedp.Evaluate[overflow](fmt.Sprintf(`(vw => {
		const name = el => "<" + el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
			(typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "") + ">";
		const wide = Array.from(document.body ? document.body.querySelectorAll("*") : [])
			.map(el => ({el, right: el.getBoundingClientRect().right + window.scrollX}))
			.filter(x => x.right > vw + 1)
			.sort((a, b) => b.right - a.right)
			.slice(0, 5)
			.map(x => name(x.el) + " reaches " + Math.round(x.right) + "px");
		return {page: document.documentElement.scrollWidth, culprits: wide};
	})(%d)`, width)))
	if o.Page > width {
		b.Fatalf(t, "the page is %dpx wide in a %dpx viewport, so it scrolls sideways; widest: %s", o.Page, width, strings.Join(o.Culprits, ", "))
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	q, _ := json.Marshal(s) // a string always marshals
	return string(q)
}
