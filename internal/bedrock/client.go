package bedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
)

const (
	// AnthropicVersion is the "anthropic_version" Bedrock requires in the body
	// of an Anthropic Messages request; the anthropic-version header a client
	// sends is meaningless to Bedrock.
	AnthropicVersion = "bedrock-2023-05-31"

	// ContentTypeEventStream is the media type of a streaming response.
	ContentTypeEventStream = "application/vnd.amazon.eventstream"

	contentTypeJSON = "application/json"
	signingService  = "bedrock"
)

// ErrInvalidRequest is wrapped by NewRequest errors caused by the client's
// request body: the gateway answers them with 400 invalid_request_error.
var ErrInvalidRequest = errors.New("invalid request")

// ErrNoModel is wrapped by NewRequest when neither the request nor the
// provider names a model: a configuration problem for an operator to fix.
var ErrNoModel = errors.New("no Bedrock model configured")

// Credential is a static AWS access key.
type Credential struct{ AccessKey, SecretKey string }

// String keeps the secret out of anything that prints a Credential or a
// Config holding one (fmt uses it for nested fields too).
func (c Credential) String() string {
	return "{AccessKey:" + c.AccessKey + " SecretKey:[redacted]}"
}

// GoString does for %#v what String does for %v.
func (c Credential) GoString() string { return "bedrock.Credential" + c.String() }

// MarshalJSON redacts the secret too: slog's JSON handler and debug dumps
// marshal whole structs. Nothing legitimately serialises a Credential.
func (c Credential) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"AccessKey": c.AccessKey, "SecretKey": "[redacted]"})
}

// LogValue does for slog what String does for fmt.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key", c.AccessKey), slog.String("secret_key", "[redacted]"))
}

// Config describes one bedrock provider.
type Config struct {
	Name           string // provider name, only used in error messages; optional
	Region         string // required, e.g. "us-east-1"
	BaseURL        string // optional endpoint override (tests, VPC endpoints); default https://bedrock-runtime.<region>.amazonaws.com/
	Model          string // default model ID, e.g. "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	SmallFastModel string // model ID for requests whose model names a Haiku
	// Credentials are static keys. Only the first is used: failover between
	// keys is the gateway's job, as it is for API keys. Empty means the default
	// AWS credential chain, loaded on first use and cached by the SDK.
	Credentials []Credential
	Now         func() time.Time // signing clock; nil means time.Now
}

// Client builds signed Bedrock requests for one provider. It is immutable
// after New and safe for concurrent use.
type Client struct {
	name           string
	region         string
	base           *url.URL
	model          string
	smallFastModel string
	creds          aws.CredentialsProvider
	signer         *v4.Signer
	now            func() time.Time
}

// regionPattern is loose on purpose (new regions appear), but keeps the
// region safe to put into a host name.
var regionPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Region == "" {
		return nil, errors.New(`bedrock: region is required (e.g. "us-east-1")`)
	}
	if !regionPattern.MatchString(cfg.Region) {
		return nil, fmt.Errorf(`bedrock: region %q is not an AWS region name (e.g. "us-east-1")`, cfg.Region)
	}
	rawBase := cfg.BaseURL
	if rawBase == "" {
		rawBase = "https://bedrock-runtime." + cfg.Region + ".amazonaws.com/"
	}
	base, err := parseBaseURL(rawBase)
	if err != nil {
		return nil, err
	}
	c := &Client{
		name:           cfg.Name,
		region:         cfg.Region,
		base:           base,
		model:          cfg.Model,
		smallFastModel: cfg.SmallFastModel,
		signer:         v4.NewSigner(),
		now:            cfg.Now,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.name == "" {
		c.name = "NAME"
	}
	if len(cfg.Credentials) == 0 {
		c.creds = &defaultChain{region: cfg.Region}
		return c, nil
	}
	for i, k := range cfg.Credentials {
		// Never echo the values: the index is enough to find the bad entry.
		if k.AccessKey == "" || k.SecretKey == "" {
			return nil, fmt.Errorf("bedrock: credential %d needs both an access key ID and a secret access key", i+1)
		}
	}
	static := aws.Credentials{
		AccessKeyID:     cfg.Credentials[0].AccessKey,
		SecretAccessKey: cfg.Credentials[0].SecretKey,
		Source:          "aigate provider settings",
	}
	c.creds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return static, nil })
	return c, nil
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error would repeat the URL, which may hold a password.
		return nil, errors.New("bedrock: base URL is not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("bedrock: base URL %q must start with https:// (or http://)", u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("bedrock: base URL %q has no host", u.Redacted())
	case u.User != nil:
		return nil, fmt.Errorf("bedrock: base URL %q must not contain a user name or password: Bedrock uses AWS credentials", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("bedrock: base URL %q must not have a query or fragment", u.Redacted())
	}
	return u, nil
}

// MapModel returns the Bedrock model ID for the model a client asked for.
// A Bedrock model ID, inference profile or ARN is used as is, so a client
// may pick any model the provider's AWS credentials are allowed to invoke
// (IAM is what limits that). Anything else — "claude-sonnet-4-5", an empty
// string — maps to the provider's models.
func (c *Client) MapModel(requested string) (string, error) {
	if looksLikeBedrockModel(requested) {
		return requested, nil
	}
	if c.smallFastModel != "" && strings.Contains(strings.ToLower(requested), "haiku") {
		return c.smallFastModel, nil
	}
	if c.model != "" {
		return c.model, nil
	}
	return "", fmt.Errorf("bedrock: %w for %q: the provider has no model set; set one with `aigate providers edit %s --model MODEL_ID`",
		ErrNoModel, requested, c.name)
}

// looksLikeBedrockModel reports whether m is already a Bedrock identifier:
// a foundation model ("anthropic.claude-…"), an inference profile with a
// region prefix ("us.anthropic.…", "global.anthropic.…") or an ARN.
func looksLikeBedrockModel(m string) bool {
	return strings.HasPrefix(m, "arn:") || strings.Contains(m, "anthropic.")
}

// NewRequest builds the signed upstream request for an Anthropic Messages
// request body, as the client sent it. It removes "model" and "stream" from
// the body, sets "anthropic_version" unless present, moves the
// anthropic-beta header values into the body's "anthropic_beta" array, maps
// the model (see MapModel) and targets /model/{modelId}/invoke or
// /model/{modelId}/invoke-with-response-stream. It returns the model ID used.
//
// The body's other members are copied byte for byte, in their order.
// The request carries only the headers Bedrock needs, all signed. A header
// the caller adds afterwards is not covered by the signature: harmless for
// ordinary headers, but AWS rejects unsigned x-amz-* ones, so add none.
// Send the request promptly: AWS refuses signatures older than 5 minutes.
// Errors caused by the body wrap ErrInvalidRequest.
func (c *Client) NewRequest(ctx context.Context, body []byte, header http.Header, stream bool) (*http.Request, string, error) {
	rewritten, requested, err := rewriteBody(body, header.Values("Anthropic-Beta"))
	if err != nil {
		return nil, "", err
	}
	modelID, err := c.MapModel(requested)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(modelID, stream).String(), bytes.NewReader(rewritten))
	if err != nil {
		return nil, "", fmt.Errorf("bedrock: build request: %w", err)
	}
	req.Header.Set("Content-Type", contentTypeJSON)
	if stream {
		req.Header.Set("Accept", ContentTypeEventStream)
	} else {
		req.Header.Set("Accept", contentTypeJSON)
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("bedrock: get AWS credentials: %w; store an access key on the provider "+
			"(`aigate providers edit %s --access-key-stdin`) or configure the server's default AWS credential chain", err, c.name)
	}
	sum := sha256.Sum256(rewritten)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signingService, c.region, c.now()); err != nil {
		return nil, "", fmt.Errorf("bedrock: sign request: %w", err)
	}
	return req, modelID, nil
}

// endpoint returns the operation URL for modelID. Path and RawPath are both
// set so the model ID travels as one escaped path segment: IDs contain ':'
// and ARNs contain '/', which Bedrock expects as %3A and %2F (the signer then
// escapes the path once more for the canonical request, as AWS requires).
func (c *Client) endpoint(modelID string, stream bool) *url.URL {
	op := "invoke"
	if stream {
		op = "invoke-with-response-stream"
	}
	u := *c.base
	u.Path = strings.TrimSuffix(c.base.Path, "/") + "/model/" + modelID + "/" + op
	u.RawPath = strings.TrimSuffix(c.base.EscapedPath(), "/") + "/model/" + escapeSegment(modelID) + "/" + op
	return &u
}

// escapeSegment percent-encodes everything but RFC 3986 unreserved
// characters. url.PathEscape would leave ':' alone, and Bedrock's own SDKs
// escape it.
func escapeSegment(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == '~' {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[ch>>4])
		b.WriteByte(hexDigits[ch&0xf])
	}
	return b.String()
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("bedrock: %w: "+format, append([]any{ErrInvalidRequest}, args...)...)
}

// rewriteBody turns a Messages API body into a Bedrock InvokeModel body and
// returns the model the client asked for. It walks the top-level members
// instead of decoding into a map so that every other member keeps its bytes
// and its place: the gateway never re-encodes what a client sent.
func rewriteBody(body []byte, betaHeaders []string) ([]byte, string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, "", invalid("the request body must be a JSON object")
	}
	var (
		out         bytes.Buffer
		model       string
		hasVersion  bool
		betas       []string
		wroteMember bool
	)
	out.Grow(len(body) + 64)
	out.WriteByte('{')
	writeMember := func(key string, value []byte) {
		if wroteMember {
			out.WriteByte(',')
		}
		wroteMember = true
		writeJSON(&out, key)
		out.WriteByte(':')
		out.Write(value)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, "", invalid("the request body is not valid JSON: %w", err)
		}
		key, _ := tok.(string) // object keys are always strings
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, "", invalid("the request body is not valid JSON: %w", err)
		}
		switch key {
		case "model":
			if err := json.Unmarshal(value, &model); err != nil {
				return nil, "", invalid(`"model" must be a string`)
			}
		case "stream":
			// The operation says whether to stream; Bedrock rejects the member.
		case "anthropic_beta":
			var fromBody []string
			if err := json.Unmarshal(value, &fromBody); err != nil {
				return nil, "", invalid(`"anthropic_beta" must be an array of strings`)
			}
			betas = append(betas, fromBody...)
		case "anthropic_version":
			hasVersion = true
			writeMember(key, value)
		default:
			writeMember(key, value)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, "", invalid("the request body is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, "", invalid("the request body has data after the JSON object")
	}
	if !hasVersion {
		writeMember("anthropic_version", []byte(`"`+AnthropicVersion+`"`))
	}
	for _, h := range betaHeaders {
		for b := range strings.SplitSeq(h, ",") {
			betas = append(betas, strings.TrimSpace(b))
		}
	}
	if betas = uniqueNonEmpty(betas); len(betas) > 0 {
		var list bytes.Buffer
		writeJSON(&list, betas)
		writeMember("anthropic_beta", list.Bytes())
	}
	out.WriteByte('}')
	return out.Bytes(), model, nil
}

// writeJSON encodes v without HTML escaping (a client's "<" stays "<") and
// without the Encoder's trailing newline.
func writeJSON(buf *bytes.Buffer, v any) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // strings and string slices always encode
	buf.Truncate(buf.Len() - 1)
}

// uniqueNonEmpty drops empty and repeated values, keeping the first of each.
func uniqueNonEmpty(values []string) []string {
	out := values[:0]
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// defaultChain resolves the default AWS credential chain on first use, not
// in New: a provider is built for every snapshot reload, and reading AWS
// config files there would slow reloads and fail them for a chain that is
// only broken until someone fixes it.
type defaultChain struct {
	region string

	mu       sync.Mutex
	provider aws.CredentialsProvider // guarded by mu; nil until loaded
}

func (d *defaultChain) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p, err := d.load(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	creds, err := p.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	if !creds.HasKeys() {
		return aws.Credentials{}, errors.New("the default AWS credential chain returned no keys")
	}
	return creds, nil
}

// load keeps the provider LoadDefaultConfig returns, which wraps the chain
// in the SDK's credentials cache: credentials are fetched once and refreshed
// before they expire. A failed load is retried on the next request.
func (d *defaultChain) load(ctx context.Context) (aws.CredentialsProvider, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.provider != nil {
		return d.provider, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(d.region))
	if err != nil {
		return nil, fmt.Errorf("load the default AWS config: %w", err)
	}
	if cfg.Credentials == nil {
		return nil, errors.New("the default AWS credential chain found no credentials")
	}
	d.provider = cfg.Credentials
	return d.provider, nil
}
