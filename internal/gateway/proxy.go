package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aigate/aigate/internal/bedrock"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/limits"
	"github.com/aigate/aigate/internal/llmwire"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/sse"
)

// The gateway does not use httputil.ReverseProxy. ReverseProxy hands the
// inbound request body to the transport, which may still be reading it when
// the response comes back; a server that finishes the handler then closes
// that body under the transport, and a small fraction of streams end early
// (golang/go#40747). The gateway needs the whole body anyway (model, stream
// flag, retries on another key), so it reads it first and sends the upstream
// a body of its own: nothing is shared between the two connections.

// Cooldowns after an upstream rejects a key.
const (
	cooldownUnauthorized = 5 * time.Minute  // a revoked or wrong key stays wrong
	cooldownRateLimited  = 30 * time.Second // unless the upstream says how long
	maxCooldown          = 5 * time.Minute
)

// Request headers never forwarded upstream: hop-by-hop headers, the
// caller's aigate credentials, and what the transport sets itself. Accept-
// Encoding is left to the transport, which then decompresses transparently,
// so the usage parser always reads plain bytes.
var dropRequest = map[string]bool{
	"Authorization": true, "X-Api-Key": true, "Cookie": true,
	"Host": true, "Content-Length": true, "Accept-Encoding": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authorization": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true,
	"X-Request-Id": true,
}

// Response headers never passed back: hop-by-hop ones, and cookies the
// provider sets for its own domain.
var dropResponse = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Set-Cookie": true,
}

// AigateRequestIDHeader carries aigate's request ID on gateway responses,
// where X-Request-Id is the provider's (SDKs report it in their errors, and
// provider support asks for it).
const AigateRequestIDHeader = "X-Aigate-Request-Id"

func (x *exchange) newRequest(key *upstreamKey) (*http.Request, error) {
	ctx := x.ctx
	if x.p.typ == providers.Bedrock {
		req, modelID, err := x.p.bedrock.NewRequest(ctx, x.upstreamBody, x.r.Header, x.stream)
		x.bedrockModel = modelID
		return req, err
	}
	target := x.p.target + x.ep.path
	if x.r.URL.RawQuery != "" {
		target += "?" + x.r.URL.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, x.r.Method, target, bytes.NewReader(x.upstreamBody))
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(x.r.Header)+1)
	hop := connectionHeaders(x.r.Header)
	for k, v := range x.r.Header {
		if dropRequest[k] || strings.HasPrefix(k, "X-Aigate-") || slices.Contains(hop, k) {
			continue
		}
		h[k] = v
	}
	if x.p.typ == providers.OpenAI {
		h["Authorization"] = []string{key.header}
	} else {
		h["X-Api-Key"] = []string{key.header}
	}
	req.Header = h
	return req, nil
}

// connectionHeaders returns the headers a Connection header names, which
// makes them hop-by-hop, canonicalised once per request.
func connectionHeaders(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				out = append(out, http.CanonicalHeaderKey(tok))
			}
		}
	}
	return out
}

// send sends the request upstream. A 401 or 429 puts the key on a cooldown;
// when another key is free the request is sent again with it, before the
// client has seen anything.
func (x *exchange) send() (*http.Response, error) {
	var tried []bool
	for {
		var key *upstreamKey
		i := -1
		if len(x.p.keys) > 0 {
			key, i = x.p.pick(x.g.now(), tried)
		}
		req, err := x.newRequest(key)
		if err != nil {
			return nil, fmt.Errorf("build upstream request: %w", err)
		}
		resp, err := x.roundTrip(req)
		if err != nil {
			return nil, err
		}
		if x.usageAsked && x.streamOptionsRefused(resp) {
			x.upstreamBody, x.usageAsked = x.body, false
			continue
		}
		if key == nil || (resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusTooManyRequests) {
			return resp, nil
		}
		now := x.g.now()
		cool := cooldownUnauthorized
		if resp.StatusCode == http.StatusTooManyRequests {
			cool = cooldownRateLimited
			if d := retryAfter(resp.Header.Get("Retry-After")); d > 0 {
				cool = min(d, maxCooldown)
			}
		}
		key.coolUntil.Store(now.Add(cool).UnixNano())
		x.g.metrics.cooldowns.WithLabelValues(x.p.name, statusCode(resp.StatusCode)).Inc()
		if tried == nil {
			tried = make([]bool, len(x.p.keys))
		}
		tried[i] = true
		next, _ := x.p.pick(now, tried)
		if next == nil || next.coolUntil.Load() > now.UnixNano() {
			return resp, nil
		}
		// Drain a little so the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		_ = resp.Body.Close()
	}
}

// The causes x.ctx is cancelled with when the upstream is given up on.
var (
	errHeaderTimeout = errors.New("no response headers within the upstream response header timeout")
	errIdleTimeout   = errors.New("nothing received within the upstream idle timeout")
)

// roundTrip sends one attempt. Its headers must come within the header
// timeout; from then on its body is read under the idle timeout, until it
// is closed. Both run on the Gateway's clock and cancel x.ctx, which ends
// whatever waits on the upstream.
func (x *exchange) roundTrip(req *http.Request) (*http.Response, error) {
	headers := x.g.clock.AfterFunc(HeaderTimer, x.g.headerTimeout, func() { x.cancel(errHeaderTimeout) })
	resp, err := x.g.transport.RoundTrip(req)
	if !headers.Stop() {
		// Fired: the request's context is gone, whatever came back.
		if err == nil {
			_ = resp.Body.Close()
		}
		return nil, errHeaderTimeout
	}
	if err != nil {
		return nil, err
	}
	idle := x.g.clock.AfterFunc(IdleTimer, x.g.idleTimeout, func() { x.cancel(errIdleTimeout) })
	resp.Body = &idleBody{ReadCloser: resp.Body, timer: idle, d: x.g.idleTimeout}
	return resp, nil
}

// idleBody re-arms the idle timer each time the upstream sends something.
type idleBody struct {
	io.ReadCloser
	timer *clock.Timer
	d     time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.d)
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	return b.ReadCloser.Close()
}

// idledOut reports whether the upstream was given up on for its silence.
func (x *exchange) idledOut() bool { return errors.Is(context.Cause(x.ctx), errIdleTimeout) }

// idleMessage is what the client and the interception are told then.
func (x *exchange) idleMessage() string {
	return fmt.Sprintf("the provider sent nothing for %s, so aigate ended the response (--upstream-idle-timeout)", x.g.idleTimeout)
}

// streamOptionsRefused reports whether the upstream refused the
// stream_options that aigate added (older Azure API versions and some
// OpenAI-compatible servers do not know the member), in which case it has
// closed resp: the client's own body is then sent, once, and the stream is
// recorded without usage. Otherwise resp is left to read from the start.
func (x *exchange) streamOptionsRefused(resp *http.Response) bool {
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err == nil && bytes.Contains(head, []byte("stream_options")) {
		_ = resp.Body.Close()
		x.g.logger.Debug("the provider refused stream_options; sending the client's body as it came",
			"request_id", httpserver.RequestID(x.r.Context()), "provider", x.p.name)
		return true
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return false
}

func (x *exchange) relay(resp *http.Response) {
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if x.p.typ == providers.Bedrock {
		if !ok {
			x.relayBedrockError(resp)
			return
		}
		if x.stream {
			x.writeHeader(resp, "text/event-stream")
			x.relayBedrockStream(resp)
			return
		}
	}
	if ok && isEventStream(resp.Header) {
		x.writeHeader(resp, "")
		x.relaySSE(resp.Body)
		return
	}
	if ok && x.ep.models && x.g.limits != nil {
		x.relayModels(resp)
		return
	}
	x.writeHeader(resp, "")
	if x.ep.intercepted() {
		x.relayJSON(resp)
		return
	}
	if !ok {
		// Passed on as it came, yet not a success: the metrics count it
		// as the provider's error, by its status code.
		x.status = interceptions.StatusUpstreamError
	}
	x.relayCopy(resp.Body)
}

func isEventStream(h http.Header) bool {
	return strings.HasPrefix(h.Get("Content-Type"), "text/event-stream")
}

// writeHeader passes the upstream's status and headers on. contentType,
// when set, replaces the upstream's (Bedrock's event stream becomes SSE).
func (x *exchange) writeHeader(resp *http.Response, contentType string) {
	h := x.w.Header()
	h.Set(AigateRequestIDHeader, httpserver.RequestID(x.r.Context()))
	for k, v := range resp.Header {
		if !dropResponse[k] {
			h[k] = v
		}
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
		h.Del("Content-Length")
	}
	if isEventStream(h) {
		// The stream may lose the usage chunk aigate asked for, or end with
		// an error event the upstream did not send.
		h.Del("Content-Length")
	}
	x.w.WriteHeader(resp.StatusCode)
}

var readerPool = sync.Pool{New: func() any { return sse.NewReader(nil, 4<<10) }}

// relaySSE forwards each event the moment it is complete, flushing unless
// the next event is already buffered (then the next write flushes both),
// and lets the parser look at it on the side.
func (x *exchange) relaySSE(body io.Reader) {
	rd := readerPool.Get().(*sse.Reader)
	rd.Reset(body)
	rd.SetMaxEventSize(x.g.maxEvent)
	defer func() { rd.Reset(nil); readerPool.Put(rd) }()
	var parser llmwire.StreamParser
	if x.ep.intercepted() {
		parser = llmwire.NewStreamParser(x.ep.format)
	}
	flusher, _ := x.w.(http.Flusher)
	streams := x.g.metrics.streams.WithLabelValues(x.p.name)
	streams.Inc()
	defer streams.Dec()
	for {
		ev, err := rd.Next()
		if err != nil {
			// A partial event is not forwarded: half an event is of no use
			// to a client, and an error event must start clean.
			x.endStream(flusher, parser, err, nil)
			return
		}
		if x.usageAsked && llmwire.IsUsageOnlyChunk(ev.Data) {
			// Asked for by aigate, not by the client: read, not relayed.
			parser.Event(ev.Name, ev.Data)
			if flusher != nil && !rd.Complete() {
				flusher.Flush()
			}
			continue
		}
		x.markFirstByte()
		if _, err := x.w.Write(ev.Raw); err != nil {
			x.status = interceptions.StatusClientCancelled
			return
		}
		if parser != nil {
			parser.Event(ev.Name, ev.Data)
		}
		if flusher != nil && !rd.Complete() {
			flusher.Flush()
		}
	}
}

// The messages an interception records when aigate ends a stream itself.
const (
	msgStreamCut    = "the provider ended the stream before the response was complete"
	msgStreamFailed = "the provider's stream failed"
)

// endStream is the one place that decides how a relayed stream ended, once
// its reader returned err: parser is nil for a stream that is not
// intercepted. A read failure gets failure's message and error event; nil
// failure gives msgStreamFailed and the format's generic event.
func (x *exchange) endStream(flusher http.Flusher, parser llmwire.StreamParser, err error, failure func(error) (msg string, event []byte)) {
	if parser != nil {
		x.result = parser.Result()
	}
	switch {
	case parser != nil && x.result.Ended():
		// The response is whole, or the provider ended it with its own
		// error event, which the client has as it was sent: a second,
		// made-up error would only mislead. A client that hangs up after
		// the last event (SDKs stop reading at [DONE]) cancelled nothing.
		if x.result.Error != "" {
			x.status, x.errMsg = interceptions.StatusUpstreamError, x.result.Error
		}
	case errors.Is(err, io.EOF):
		// Without a parser nothing says whether the stream was whole.
		if parser != nil {
			x.streamFailed(flusher, msgStreamCut, nil, llmwire.StreamErrorEvent(x.ep.format, msgStreamCut))
		}
	case x.r.Context().Err() != nil:
		x.status = interceptions.StatusClientCancelled
	case errors.Is(err, sse.ErrEventTooLarge):
		msg := fmt.Sprintf("the provider sent an event larger than %s, more than aigate holds (--max-sse-event-size)", byteSize(x.g.maxEvent))
		x.streamFailed(flusher, msg, nil, llmwire.StreamErrorEvent(x.ep.format, msg))
	case x.idledOut():
		x.timedOut = true
		msg := x.idleMessage()
		x.streamFailed(flusher, msg, nil, llmwire.StreamErrorEvent(x.ep.format, msg))
	case failure != nil:
		msg, ev := failure(err)
		x.streamFailed(flusher, msg, err, ev)
	default:
		x.streamFailed(flusher, msgStreamFailed, err, llmwire.StreamErrorEvent(x.ep.format, msgStreamFailed))
	}
}

// streamFailed ends a stream that failed mid-way: the error event, where
// the format has one, and the interception recorded as an upstream error.
func (x *exchange) streamFailed(flusher http.Flusher, msg string, err error, event []byte) {
	x.fail(interceptions.StatusUpstreamError, msg, err)
	if event != nil {
		_, _ = x.w.Write(event)
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// maxParsedBody bounds how much of a non-streaming response is held for the
// usage parser; larger bodies are forwarded without being parsed.
const maxParsedBody = 64 << 20

func (x *exchange) relayJSON(resp *http.Response) {
	var buf bytes.Buffer
	if resp.ContentLength > 0 && resp.ContentLength <= maxParsedBody {
		buf.Grow(int(resp.ContentLength))
	}
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, maxParsedBody))
	if len(buf.Bytes()) > 0 {
		x.markFirstByte()
	}
	if _, werr := x.w.Write(buf.Bytes()); werr != nil {
		x.status = interceptions.StatusClientCancelled
		return
	}
	if err != nil {
		x.readFailed(err)
		return
	}
	if buf.Len() == maxParsedBody {
		x.relayCopy(resp.Body)
		return
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		x.result = llmwire.ParseResponse(x.ep.format, buf.Bytes())
		return
	}
	msg := llmwire.ParseError(buf.Bytes())
	if msg == "" {
		msg = fmt.Sprintf("upstream status %d", resp.StatusCode)
	}
	x.status, x.errMsg = interceptions.StatusUpstreamError, msg
}

// relayModels passes a model list on with only the models the caller's
// models policies allow.
func (x *exchange) relayModels(resp *http.Response) {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxParsedBody))
	if err != nil {
		x.writeHeader(resp, "")
		x.readFailed(err)
		return
	}
	lr := limits.Request{UserID: x.principal.UserID, TokenID: x.principal.TokenID, Provider: x.p.name}
	out, _ := llmwire.FilterModels(raw, func(id string) bool {
		lr.Model = id
		ok, _ := x.g.limits.ModelAllowed(&lr)
		return ok
	})
	resp.Header.Del("Content-Length")
	x.writeHeader(resp, "")
	x.markFirstByte()
	_, _ = x.w.Write(out)
}

// relayCopy forwards a pass-through body as it arrives.
func (x *exchange) relayCopy(body io.Reader) {
	flusher, _ := x.w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			x.markFirstByte()
			if _, werr := x.w.Write(buf[:n]); werr != nil {
				x.status = interceptions.StatusClientCancelled
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				x.readFailed(err)
			}
			return
		}
	}
}

// readFailed records why reading a response body that is not a stream
// failed.
func (x *exchange) readFailed(err error) {
	switch {
	case x.r.Context().Err() != nil:
		x.status = interceptions.StatusClientCancelled
	case x.idledOut():
		x.timedOut = true
		x.fail(interceptions.StatusUpstreamError, x.idleMessage(), nil)
	default:
		x.fail(interceptions.StatusUpstreamError, "the provider's response failed", err)
	}
}

// byteSize writes n in the largest binary unit that divides it.
func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func (x *exchange) relayBedrockError(resp *http.Response) {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	body := bedrock.TranslateError(resp.StatusCode, resp.Header, raw)
	resp.Header.Set("Content-Type", "application/json")
	resp.Header.Del("Content-Length")
	x.writeHeader(resp, "")
	x.markFirstByte()
	_, _ = x.w.Write(body)
	msg := llmwire.ParseError(body)
	if msg == "" {
		msg = fmt.Sprintf("upstream status %d", resp.StatusCode)
	}
	x.status, x.errMsg = interceptions.StatusUpstreamError, msg
}

// relayBedrockStream decodes Bedrock's binary event stream and writes each
// Anthropic event as SSE, as the Anthropic API itself would.
func (x *exchange) relayBedrockStream(resp *http.Response) {
	dec := bedrock.NewStreamDecoder(resp.Body)
	parser := llmwire.NewStreamParser(llmwire.AnthropicMessages)
	flusher, _ := x.w.(http.Flusher)
	streams := x.g.metrics.streams.WithLabelValues(x.p.name)
	streams.Inc()
	defer streams.Dec()
	var out []byte
	for {
		typ, data, err := dec.Next()
		if err != nil {
			x.endStream(flusher, parser, err, bedrockFailure)
			return
		}
		out = llmwire.AppendEvent(out[:0], typ, data)
		x.markFirstByte()
		if _, err := x.w.Write(out); err != nil {
			x.status = interceptions.StatusClientCancelled
			return
		}
		parser.Event([]byte(typ), data)
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// bedrockFailure is the error event for a Bedrock stream that failed: its
// own exceptions (throttling, a model error) are recorded as the Anthropic
// error the client receives.
func bedrockFailure(err error) (string, []byte) {
	data := bedrock.ErrorEvent(err)
	msg := msgStreamFailed
	var ex *bedrock.ExceptionError
	if errors.As(err, &ex) {
		msg = llmwire.ParseError(data)
	}
	return msg, llmwire.AppendEvent(nil, "error", data)
}

// retryAfter reads a Retry-After header given in seconds.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
