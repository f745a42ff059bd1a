package benche2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aigate/aigate/internal/clock"
)

// Path is the URL path every measured request goes to, on both proxies.
const Path = ProxyPrefix + "/v1/chat/completions"

// prompt makes the request about the size of a short agent turn, so
// reading, forwarding and (with --record-prompts) storing it costs what it
// would.
var prompt = strings.Repeat("Refactor this function and explain why. ", 25)

func chatBody(stream bool) []byte {
	return fmt.Appendf(nil, `{"model":"gpt-4o-mini","stream":%t,"messages":[{"role":"user","content":%q}]}`, stream, prompt)
}

var (
	completionBody = chatBody(false)
	streamBody     = chatBody(true)
)

// NewClient is the load generator's HTTP client: keep-alive connections
// enough for every concurrent stream, so no measured request pays a
// handshake after the warm-up.
func NewClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: 10000,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	}}
}

// Target is one proxy under test.
type Target struct {
	// Name heads its column in the table.
	Name string
	// URL is its base URL, "http://127.0.0.1:PORT".
	URL string
	// Tokens are the gateway tokens requests take in turn (a bare proxy
	// ignores them).
	Tokens []string
	// PID is the process whose CPU time and memory are its cost.
	PID int
	// PoolAcquires reads its database pool's acquire counter; nil for a
	// proxy without a database.
	PoolAcquires func(ctx context.Context) (float64, error)
	// Transactions reads its database's committed and rolled-back
	// transactions; nil for a proxy without a database.
	Transactions func(ctx context.Context) (int64, error)
	// SlowStreams: the concurrent slow streams run on it too.
	SlowStreams bool
}

func (t *Target) request(ctx context.Context, i int, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+Path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if len(t.Tokens) > 0 {
		req.Header.Set("Authorization", "Bearer "+t.Tokens[i%len(t.Tokens)])
	}
	return req, nil
}

// complete sends one chat completion and reads the whole answer.
func (t *Target) complete(ctx context.Context, hc *http.Client, c clock.Clock, i int) (time.Time, error) {
	req, err := t.request(ctx, i, completionBody)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	done := c.Now()
	if err != nil {
		return done, err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(raw, []byte(`"chat.completion"`)) {
		return done, fmt.Errorf("%s answered %d: %.200s", t.Name, resp.StatusCode, raw)
	}
	return done, nil
}

// errTruncated is a stream that ended without its final [DONE].
var errTruncated = errors.New("stream ended before data: [DONE]")

// stream sends one streamed chat completion and reads it to the end,
// calling event with the time of each data event. It returns the time of
// the first byte of the body.
func (t *Target) stream(ctx context.Context, hc *http.Client, c clock.Clock, i int, event func(at time.Time)) (time.Time, error) {
	req, err := t.request(ctx, i, streamBody)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return c.Now(), fmt.Errorf("%s answered %d: %s", t.Name, resp.StatusCode, raw)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.Peek(1); err != nil {
		return c.Now(), err
	}
	first := c.Now()
	done := false
	for {
		line, err := br.ReadSlice('\n')
		if bytes.HasPrefix(line, []byte("data: ")) {
			if event != nil {
				event(c.Now())
			}
			done = bytes.Equal(line, []byte("data: [DONE]\n"))
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return first, err
		}
	}
	if !done {
		return first, errTruncated
	}
	return first, nil
}

// PoolAcquiresMetric is aigate's counter of database pool acquires: one per
// query or transaction, the round trips the benchmark counts.
const PoolAcquiresMetric = "aigate_db_pool_acquires_total"

// Scrape reads one unlabelled sample from a Prometheus text page.
func Scrape(ctx context.Context, pageURL, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pageURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no sample %s", pageURL, name)
}
