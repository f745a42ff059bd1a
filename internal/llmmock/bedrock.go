package llmmock

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Default credentials and region of a Bedrock mock whose options leave them
// empty. They look like AWS's, so nothing downstream rejects their shape.
const (
	BedrockRegion    = "us-east-1"
	BedrockAccessKey = "AKIAMOCKBEDROCK00001"
	BedrockSecretKey = "mockBedrockSecretKey/0123456789+ABCDEFGHIJ"
)

// ThrottleMessage is the message of the throttlingException a stream sends
// after BedrockOptions.ThrottleAfter text deltas (Bedrock's own wording).
const ThrottleMessage = "Too many requests, please wait before trying again."

const (
	bedrockAnthropicVersion = "bedrock-2023-05-31"
	bedrockEventStream      = "application/vnd.amazon.eventstream"
	// bedrockMaxSkew is how far a signature's time may be from the mock's
	// clock, as AWS allows.
	bedrockMaxSkew = 5 * time.Minute
	amzDateFormat  = "20060102T150405Z"
	// errorTypeSuffix follows the type in x-amzn-ErrorType, as AWS sends it.
	errorTypeSuffix = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
)

// BedrockOptions configures a Bedrock mock. The zero value signs with
// BedrockRegion, BedrockAccessKey and BedrockSecretKey, streams five text
// deltas without delay and makes one tool call when the request offers
// tools.
type BedrockOptions struct {
	// Region, AccessKey and SecretKey are what a valid signature is made
	// with; empty means the Bedrock* defaults.
	Region, AccessKey, SecretKey string
	// Events, EventDelay, ToolCalls, FailAfter and StallAfter are as in
	// Options.
	Events     int
	EventDelay time.Duration
	ToolCalls  int
	FailAfter  int
	StallAfter int
	// ThrottleAfter, when positive, ends a stream after that many text
	// deltas with an exception frame (":message-type" exception,
	// ":exception-type" throttlingException, payload {"message":
	// ThrottleMessage}), as Bedrock does when a stream is throttled; the
	// HTTP response itself ends cleanly. A value above the number of deltas
	// has no effect.
	ThrottleAfter int
	// Status, when non-zero, answers every request that passed the checks
	// with that status and a Bedrock error; ErrorType names the error (by
	// default the type Bedrock uses with the status, e.g. 429
	// ThrottlingException, 403 AccessDeniedException) and ErrorMessage its
	// message (by default one like Bedrock's).
	Status       int
	ErrorType    string
	ErrorMessage string
	// Usage and StartUsage are as in Options: what the responses report.
	Usage, StartUsage *Usage
}

func (o BedrockOptions) withDefaults() BedrockOptions {
	if o.Region == "" {
		o.Region = BedrockRegion
	}
	if o.AccessKey == "" {
		o.AccessKey = BedrockAccessKey
	}
	if o.SecretKey == "" {
		o.SecretKey = BedrockSecretKey
	}
	return o
}

// BedrockSeen is one request the Bedrock mock received.
type BedrockSeen struct {
	Method string
	// Path is the path as sent, escaped: "/model/us.anthropic.claude-…-v1%3A0/invoke".
	Path, RawQuery string
	// ModelID is the model ID from the path, unescaped; "" when the path is
	// not an operation.
	ModelID string
	// Stream: the operation is invoke-with-response-stream.
	Stream bool
	Header http.Header
	Body   []byte
	// RequestID is the x-amzn-RequestId response header, a UUID counting
	// from 00000000-0000-4000-8000-000000000001.
	RequestID string
	// SignatureError says why the signature was rejected; "" when it
	// checked out.
	SignatureError string
	// Cancelled and Completed are as in Seen. A stream ended by an
	// exception frame is Completed: Bedrock finished the response.
	Cancelled, Completed bool
}

func (s BedrockSeen) clone() BedrockSeen {
	s.Header = s.Header.Clone()
	s.Body = slices.Clone(s.Body)
	return s
}

// Bedrock is a stand-in Bedrock Runtime API on 127.0.0.1. It serves the
// two operations that carry Anthropic Messages requests:
//
//	POST /model/{modelId}/invoke                       → Anthropic Messages JSON
//	POST /model/{modelId}/invoke-with-response-stream  → application/vnd.amazon.eventstream
//
// The model ID is one path segment, escaped as the AWS SDKs send it (':' as
// %3A, an ARN's '/' as %2F). Every request is checked, in this order, the
// way AWS does it: the SigV4 signature (service "bedrock", the configured
// region and key pair, recomputed from what arrived) → 403; the operation →
// 404; the body (anthropic_version "bedrock-2023-05-31", max_tokens and
// messages present, no "model" or "stream") → 400 ValidationException; then
// a non-zero BedrockOptions.Status; then the answer. Errors are Bedrock's
// shape: a JSON body {"message": "..."} and the type in the x-amzn-ErrorType
// header ("ValidationException:http://internal.amazon.com/coral/...").
//
// The answer is the message the Anthropic mock gives (same text deltas, tool
// calls, usage and event sequence, see Server), with the model ID as its
// "model". A stream carries one frame per Anthropic event:
//
//	headers  :event-type chunk · :content-type application/json · :message-type event
//	payload  {"bytes":"<base64 of the event JSON>"}
//
// and, as Bedrock does, message_stop carries an
// "amazon-bedrock-invocationMetrics" member with the token counts.
type Bedrock struct {
	// URL is the base URL with a trailing slash, "http://127.0.0.1:PORT/":
	// a bedrock provider's base_url (bedrock.Config.BaseURL).
	URL string

	srv       *httptest.Server
	closing   chan struct{} // closed by Close: in-flight handlers stop
	closeOnce sync.Once
	started   chan BedrockSeen
	finished  chan BedrockSeen

	mu   sync.Mutex
	opts BedrockOptions // guarded by mu
	seen []*BedrockSeen // guarded by mu
}

// NewBedrock starts a Bedrock mock closed by t.Cleanup.
func NewBedrock(t testing.TB, opts BedrockOptions) *Bedrock {
	t.Helper()
	b := NewBedrockServer(opts)
	t.Cleanup(b.Close)
	return b
}

// NewBedrockServer starts a Bedrock mock; the caller must Close it.
func NewBedrockServer(opts BedrockOptions) *Bedrock {
	b := &Bedrock{
		closing:  make(chan struct{}),
		started:  make(chan BedrockSeen, channelCap),
		finished: make(chan BedrockSeen, channelCap),
		opts:     opts.withDefaults(),
	}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	b.URL = b.srv.URL + "/"
	return b
}

// Close stops the server. In-flight streams are cut (the client sees an
// abrupt end) and Close waits for their handlers to return.
func (b *Bedrock) Close() {
	b.closeOnce.Do(func() {
		close(b.closing)
		b.srv.CloseClientConnections()
		b.srv.Close()
	})
}

// Requests returns copies of the requests received so far, in arrival
// order. Cancelled and Completed are filled once a request's handler has
// returned.
func (b *Bedrock) Requests() []BedrockSeen {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]BedrockSeen, len(b.seen))
	for i, r := range b.seen {
		out[i] = r.clone()
	}
	return out
}

// Started receives a value when a request's handler begins, after the body
// has been read and the signature checked, before anything is written.
// Buffered (1024); values that do not fit are dropped.
func (b *Bedrock) Started() <-chan BedrockSeen { return b.started }

// Finished receives a value when a request's handler returns, with
// Cancelled and Completed set. Buffered and dropping like Started.
func (b *Bedrock) Finished() <-chan BedrockSeen { return b.finished }

// SetOptions replaces the options; requests that already started keep the
// options they started with. Safe for concurrent use.
func (b *Bedrock) SetOptions(o BedrockOptions) {
	o = o.withDefaults()
	b.mu.Lock()
	b.opts = o
	b.mu.Unlock()
}

func (b *Bedrock) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body) // a short body is recorded as received

	b.mu.Lock()
	opts := b.opts
	b.mu.Unlock()
	// Checked before the request is recorded, so Started carries the verdict.
	sigErr := verifySigV4(r, body, opts, time.Now())

	modelID, op, routed := parseOperation(r.URL.EscapedPath())
	seen := &BedrockSeen{
		Method:   r.Method,
		Path:     r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery,
		ModelID:  modelID,
		Stream:   op == opInvokeStream,
		Header:   r.Header.Clone(),
		Body:     body,
	}
	if sigErr != nil {
		seen.SignatureError = sigErr.Message
	}
	b.mu.Lock()
	seen.RequestID = fmt.Sprintf("00000000-0000-4000-8000-%012d", len(b.seen)+1)
	b.seen = append(b.seen, seen)
	startedCopy := seen.clone()
	b.mu.Unlock()
	trySend(b.started, startedCopy)

	x := &bedrockExchange{
		exchange: exchange{
			w:       w,
			r:       r,
			rc:      http.NewResponseController(w),
			closing: b.closing,
			// The Anthropic mock's planning, delays and cuts, reused.
			opts: Options{
				Events: opts.Events, EventDelay: opts.EventDelay, ToolCalls: opts.ToolCalls, FailAfter: opts.FailAfter,
				StallAfter: opts.StallAfter, Usage: opts.Usage, StartUsage: opts.StartUsage,
			},
			body:      body,
			requestID: seen.RequestID,
		},
		bopts:   opts,
		modelID: modelID,
	}
	defer func() {
		b.mu.Lock()
		seen.Cancelled = x.cancelled
		seen.Completed = x.completed
		finishedCopy := seen.clone()
		b.mu.Unlock()
		trySend(b.finished, finishedCopy)
	}()
	w.Header().Set("X-Amzn-Requestid", seen.RequestID)
	switch {
	case sigErr != nil:
		x.writeBedrockError(sigErr)
	case !routed || r.Method != http.MethodPost:
		x.writeBedrockError(&bedrockError{http.StatusNotFound, "UnknownOperationException",
			fmt.Sprintf("%s %s is not a Bedrock Runtime operation this mock serves", r.Method, r.URL.EscapedPath())})
	default:
		x.operate(op)
	}
}

func trySend[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

const (
	opInvoke       = "invoke"
	opInvokeStream = "invoke-with-response-stream"
)

// parseOperation splits "/model/{modelId}/{operation}". It works on the
// escaped path, so an ARN's %2F stays inside the model ID.
func parseOperation(escaped string) (modelID, op string, ok bool) {
	rest, found := strings.CutPrefix(escaped, "/model/")
	if !found {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return "", "", false
	}
	escapedID, op := rest[:i], rest[i+1:]
	if strings.Contains(escapedID, "/") || (op != opInvoke && op != opInvokeStream) {
		return "", "", false
	}
	id, err := url.PathUnescape(escapedID)
	if err != nil {
		return "", "", false
	}
	return id, op, true
}

// bedrockError is an error answer: status, type (x-amzn-ErrorType) and
// message.
type bedrockError struct {
	Status  int
	Type    string
	Message string
}

const signatureMismatch = "The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// verifySigV4 checks the request's signature the way AWS does: the
// credential scope must name the key, the day, the region and the service;
// the time must be within five minutes; every x-amz-* header must be
// signed; and the signature, recomputed with the secret from the method,
// URL, signed headers and body that arrived, must match.
func verifySigV4(r *http.Request, body []byte, o BedrockOptions, now time.Time) *bedrockError {
	denied := func(typ, format string, args ...any) *bedrockError {
		return &bedrockError{http.StatusForbidden, typ, fmt.Sprintf(format, args...)}
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return denied("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	params, ok := strings.CutPrefix(authz, "AWS4-HMAC-SHA256 ")
	if !ok {
		return denied("IncompleteSignatureException", "Authorization header must use AWS4-HMAC-SHA256")
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return denied("IncompleteSignatureException", "Authorization header requires '%s' parameter", k)
		}
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return denied("IncompleteSignatureException", "Credential %q is not ACCESS_KEY/DATE/REGION/SERVICE/aws4_request", fields["Credential"])
	}
	if scope[0] != o.AccessKey {
		return denied("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	signedAt, err := time.Parse(amzDateFormat, r.Header.Get("X-Amz-Date"))
	if err != nil {
		return denied("IncompleteSignatureException", "X-Amz-Date header %q is not a date like 20060102T150405Z", r.Header.Get("X-Amz-Date"))
	}
	switch {
	case scope[1] != signedAt.Format("20060102"):
		return denied("InvalidSignatureException", "Credential should be scoped to a valid date; %q is not the day of X-Amz-Date", scope[1])
	case scope[2] != o.Region:
		return denied("InvalidSignatureException", "Credential should be scoped to a valid region; got %q, this endpoint is %q", scope[2], o.Region)
	case scope[3] != "bedrock":
		return denied("InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'.")
	}
	if d := now.Sub(signedAt); d > bedrockMaxSkew || d < -bedrockMaxSkew {
		return denied("InvalidSignatureException", "Signature expired: %s is not within 5 minutes of %s",
			signedAt.Format(amzDateFormat), now.UTC().Format(amzDateFormat))
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !slices.Contains(signed, "host") {
		return denied("InvalidSignatureException", "The host header must be signed")
	}
	for k := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") && !slices.Contains(signed, lk) {
			return denied("InvalidSignatureException", "There were headers present in the request which were not signed: %s", lk)
		}
	}

	// Sign a copy made of what arrived, and compare.
	check, err := http.NewRequestWithContext(context.Background(), r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return denied("InvalidSignatureException", "%s", signatureMismatch)
	}
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			check.ContentLength = r.ContentLength
		default:
			check.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: o.AccessKey, SecretAccessKey: o.SecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, check, hex.EncodeToString(sum[:]), "bedrock", o.Region, signedAt); err != nil {
		return denied("InvalidSignatureException", "%s", signatureMismatch)
	}
	if check.Header.Get("Authorization") != authz {
		return denied("InvalidSignatureException", "%s", signatureMismatch)
	}
	return nil
}

// bedrockExchange is one request to the Bedrock mock being answered. It
// reuses the Anthropic exchange's planning, waits and cuts.
type bedrockExchange struct {
	exchange
	bopts   BedrockOptions
	modelID string
	enc     *eventstream.Encoder
}

// writeBedrockError answers e in Bedrock's error shape.
func (x *bedrockExchange) writeBedrockError(e *bedrockError) {
	x.w.Header().Set("X-Amzn-Errortype", e.Type+errorTypeSuffix)
	x.writeJSON(e.Status, obj{{"message", e.Message}})
}

// bedrockErrorFor returns the error type and message Bedrock sends with
// status.
func bedrockErrorFor(status int) (typ, msg string) {
	switch status {
	case http.StatusBadRequest:
		return "ValidationException", "Malformed input request, please reformat your input and try again."
	case http.StatusForbidden:
		return "AccessDeniedException", "You don't have access to the model with the specified model ID."
	case http.StatusNotFound:
		return "ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier."
	case http.StatusRequestTimeout:
		return "ModelTimeoutException", "Model has timed out in processing the request. Try your request again."
	case http.StatusFailedDependency:
		return "ModelErrorException", "The system encountered an unexpected error during processing. Try your request again."
	case http.StatusTooManyRequests:
		return "ThrottlingException", ThrottleMessage
	case http.StatusServiceUnavailable:
		return "ServiceUnavailableException", "Bedrock is unable to process your request."
	}
	return "InternalServerException", "The server encountered an internal error while processing the request."
}

// bedrockRequest is what the mock reads from a valid body.
type bedrockRequest struct {
	hasTools bool
}

// parseBedrockBody checks an InvokeModel body for Anthropic models as
// Bedrock does and returns the ValidationException message when it fails.
func parseBedrockBody(body []byte) (bedrockRequest, string) {
	malformed := func(detail string) string {
		return "Malformed input request: #: " + detail + ", please reformat your input and try again."
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return bedrockRequest{}, "Malformed input request, please reformat your input and try again."
	}
	for _, k := range []string{"anthropic_version", "max_tokens", "messages"} {
		if _, ok := members[k]; !ok {
			return bedrockRequest{}, malformed("required key [" + k + "] not found")
		}
	}
	var version string
	if err := json.Unmarshal(members["anthropic_version"], &version); err != nil || version != bedrockAnthropicVersion {
		return bedrockRequest{}, fmt.Sprintf("Invalid anthropic_version %s: Bedrock accepts %q", members["anthropic_version"], bedrockAnthropicVersion)
	}
	for _, k := range []string{"model", "stream"} {
		if _, ok := members[k]; ok {
			return bedrockRequest{}, malformed("extraneous key [" + k + "] is not permitted")
		}
	}
	var tools []json.RawMessage
	if raw, ok := members["tools"]; ok {
		if err := json.Unmarshal(raw, &tools); err != nil {
			return bedrockRequest{}, malformed("#/tools: expected type: JSONArray")
		}
	}
	return bedrockRequest{hasTools: len(tools) > 0}, ""
}

// operate answers a signed request to an operation.
func (x *bedrockExchange) operate(op string) {
	req, invalid := parseBedrockBody(x.body)
	if invalid != "" {
		x.writeBedrockError(&bedrockError{http.StatusBadRequest, "ValidationException", invalid})
		return
	}
	if s := x.bopts.Status; s != 0 {
		typ, msg := bedrockErrorFor(s)
		if x.bopts.ErrorType != "" {
			typ = x.bopts.ErrorType
		}
		if x.bopts.ErrorMessage != "" {
			msg = x.bopts.ErrorMessage
		}
		x.writeBedrockError(&bedrockError{s, typ, msg})
		return
	}
	p := x.plan(req.hasTools)
	if op == opInvokeStream {
		x.invokeStream(p)
		return
	}
	x.invoke(p)
}

// invoke answers InvokeModel: the Anthropic Messages response, with the
// token counts also in headers, as Bedrock sends them.
func (x *bedrockExchange) invoke(p plan) {
	content := []any{}
	if p.deltas > 0 {
		content = append(content, obj{{"type", "text"}, {"text", p.text()}})
	}
	for k := range p.calls {
		content = append(content, toolUseBlock(k, json.RawMessage(ToolArguments)))
	}
	h := x.w.Header()
	h.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.FormatInt(x.opts.usage().Input, 10))
	h.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.FormatInt(x.opts.usage().Output, 10))
	h.Set("X-Amzn-Bedrock-Invocation-Latency", "1")
	x.writeJSON(http.StatusOK, obj{
		{"id", MessageID},
		{"type", "message"},
		{"role", "assistant"},
		{"model", x.modelID},
		{"content", content},
		{"stop_reason", anthropicStopReason(p)},
		{"stop_sequence", nil},
		{"usage", anthropicUsage(x.opts.usage(), x.opts.usage().Output)},
	})
}

// invokeStream answers InvokeModelWithResponseStream with the Anthropic
// mock's event sequence (see messagesStream), one chunk frame per event,
// flushed one by one.
func (x *bedrockExchange) invokeStream(p plan) {
	h := x.w.Header()
	h.Set("Content-Type", bedrockEventStream)
	h.Set("X-Amzn-Bedrock-Content-Type", "application/json")
	x.w.WriteHeader(http.StatusOK)
	x.enc = eventstream.NewEncoder()

	throttle := func(i int) bool {
		if x.bopts.ThrottleAfter > 0 && i+1 == x.bopts.ThrottleAfter {
			x.exception("throttlingException", ThrottleMessage)
			return false
		}
		return true
	}
	u := x.opts.usage()
	metrics := obj{
		{"inputTokenCount", u.Input},
		{"outputTokenCount", u.Output},
		{"invocationLatency", 1},
		{"firstByteLatency", 1},
		{"cacheReadInputTokenCount", u.CacheRead},
		{"cacheWriteInputTokenCount", u.CacheWrite},
	}
	chunk := func(_ string, event any) bool { return x.chunk(event) }
	if x.anthropicEvents(x.modelID, p, chunk, throttle, kv{"amazon-bedrock-invocationMetrics", metrics}) {
		x.completed = true
	}
}

// chunk writes one Anthropic event as a chunk frame and returns whether the
// stream goes on.
func (x *bedrockExchange) chunk(event any) bool {
	if !x.alive() {
		return false
	}
	data, err := json.Marshal(event)
	if err != nil {
		panic(fmt.Sprintf("llmmock: encode event: %v", err)) // our own values: a bug
	}
	payload, err := json.Marshal(obj{{"bytes", base64.StdEncoding.EncodeToString(data)}})
	if err != nil {
		panic(fmt.Sprintf("llmmock: encode chunk: %v", err))
	}
	return x.frame(eventstream.Headers{
		{Name: ":event-type", Value: eventstream.StringValue("chunk")},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		{Name: ":message-type", Value: eventstream.StringValue("event")},
	}, payload)
}

// exception ends the stream with an exception frame, as Bedrock does; the
// response is then complete.
func (x *bedrockExchange) exception(exceptionType, message string) {
	if !x.alive() {
		return
	}
	payload, err := json.Marshal(obj{{"message", message}})
	if err != nil {
		panic(fmt.Sprintf("llmmock: encode exception: %v", err))
	}
	if x.frame(eventstream.Headers{
		{Name: ":exception-type", Value: eventstream.StringValue(exceptionType)},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		{Name: ":message-type", Value: eventstream.StringValue("exception")},
	}, payload) {
		x.completed = true
	}
}

// frame writes and flushes one event stream frame.
func (x *bedrockExchange) frame(headers eventstream.Headers, payload []byte) bool {
	if err := x.enc.Encode(x.w, eventstream.Message{Headers: headers, Payload: payload}); err != nil {
		x.cancelled = true
		return false
	}
	if err := x.rc.Flush(); err != nil {
		x.cancelled = true
		return false
	}
	return true
}
