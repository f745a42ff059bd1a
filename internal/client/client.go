// Package client is the Go client of aigate's admin API (/api/v1) used by the
// command line: it owns the HTTP calls, bearer-token authentication, the
// User-Agent, and turning the server's error JSON into a typed *Error. It
// never puts the token in an error.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aigate/aigate/internal/buildinfo"
)

// Timeout bounds one request, from dialing to reading the whole answer.
const Timeout = 30 * time.Second

// maxResponseBytes bounds what the client reads of an answer; admin answers
// are small, and a misconfigured URL could point at anything.
const maxResponseBytes = 16 << 20

// Client calls one aigate server's admin API, as one token's user.
type Client struct {
	base      *url.URL
	token     string
	http      *http.Client
	transport interface{ CloseIdleConnections() }
	userAgent string
}

// ParseBaseURL checks that raw is an absolute http(s) URL of a server and
// returns it in the form the client uses: no trailing slash, no query.
func ParseBaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := fmt.Sprintf("%q", raw)
		if strings.Contains(raw, "@") { // it may hold a password
			shown = "the URL given"
		}
		return "", fmt.Errorf("%s is not a server URL; give one such as https://aigate.example.com or http://127.0.0.1:8080", shown)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("server URL %s must not hold a user, a query or a fragment", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// New returns a client of the server at baseURL (see ParseBaseURL). token
// may be empty for the unauthenticated calls (login, first user). Close it
// when done.
func New(baseURL, token string) (*Client, error) {
	normalized, err := ParseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(normalized)
	if err != nil {
		return nil, fmt.Errorf("parse server URL: %w", err)
	}
	// A transport of its own, so Close releases its idle connections and
	// nothing lingers after a command.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &Client{
		base:      base,
		token:     token,
		http:      &http.Client{Timeout: Timeout, Transport: transport},
		transport: transport,
		userAgent: "aigate-cli/" + buildinfo.Version(),
	}, nil
}

// inProcessBase is the base URL of an in-process client: never dialled
// (.invalid cannot resolve), only there so requests have a URL.
const inProcessBase = "http://aigate.invalid"

// NewInProcess returns a client whose requests are served by h in this
// process, as token's user, sending userAgent: the dashboard's way to the
// API (api.API.Handler). Each request's context reaches h unchanged, so
// the request ID and client IP of the page that asked are those the API
// records in its audit entries.
func NewInProcess(h http.Handler, token, userAgent string) *Client {
	base, _ := url.Parse(inProcessBase) // a constant that parses
	t := handlerTransport{h}
	return &Client{base: base, token: token, http: &http.Client{Timeout: Timeout, Transport: t}, transport: t, userAgent: userAgent}
}

// handlerTransport answers a request by running a handler on it.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	w := &bufferedResponse{header: http.Header{}}
	t.h.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)), StatusCode: w.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()), Request: req,
	}, nil
}

func (handlerTransport) CloseIdleConnections() {}

// bufferedResponse is an http.ResponseWriter that keeps the whole answer.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// BaseURL is the server URL the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// Close releases idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// Validation is one invalid field in an error answer.
type Validation struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Error is an error answer from the server: its status and the message,
// detail and validations of its JSON body.
type Error struct {
	Status      int
	Message     string
	Detail      string
	Validations []Validation
	RequestID   string
}

// Error prints the message, the detail and one "field: detail" line per
// validation. Server errors (5xx) name the request ID, which the server's
// log has the cause under.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Message == "" {
		fmt.Fprintf(&b, "the server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Detail != "" {
		b.WriteString(" " + e.Detail)
	}
	if e.Status >= 500 && e.RequestID != "" {
		fmt.Fprintf(&b, " (request ID %s)", e.RequestID)
	}
	for _, v := range e.Validations {
		fmt.Fprintf(&b, "\n  %s: %s", v.Field, v.Detail)
	}
	return b.String()
}

// IsStatus reports whether err is an *Error with the given status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// Do sends one request: in (if not nil) as the JSON body, and the JSON
// answer decoded into out (if not nil). path is relative to the base URL,
// e.g. "/api/v1/users"; its segments must already be escaped. A non-2xx
// answer is an *Error.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	target, err := url.Parse(c.base.String() + path)
	if err != nil {
		return fmt.Errorf("build request URL for %s: %w", path, err)
	}
	target.RawQuery = query.Encode()

	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error names the method and URL, never headers: the token
		// stays out of it.
		return fmt.Errorf("call aigate at %s: %w", c.base, err)
	}
	defer func() { _ = resp.Body.Close() }() // the body is read in full below; nothing to do on a close error
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("read answer to %s %s: %w", method, target.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp, raw)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("the answer to %s %s is not the JSON expected (is %s an aigate server?): %w", method, target.Path, c.base, err)
	}
	return nil
}

func decodeError(resp *http.Response, raw []byte) error {
	e := &Error{Status: resp.StatusCode}
	var body struct {
		Message     string       `json:"message"`
		Detail      string       `json:"detail"`
		Validations []Validation `json:"validations"`
		RequestID   string       `json:"request_id"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Message != "" {
		e.Message, e.Detail, e.Validations, e.RequestID = body.Message, body.Detail, body.Validations, body.RequestID
	} else {
		// Not aigate's error shape: a proxy or another server answered.
		e.Message = fmt.Sprintf("the server answered %d %s, not an aigate error; check the URL", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("X-Request-Id")
	}
	return e
}
