package bedrock_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/bedrock"
)

// The example key pair from AWS's SigV4 documentation.
const (
	testAccessKey = "AKIDEXAMPLE"
	testSecret    = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion    = "us-west-2"
	testModel     = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	testSmallFast = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
)

// testNow is the signing clock of every test: signatures are deterministic.
var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func fixedNow() time.Time { return testNow }

// newClient builds a client for the mock at baseURL, signing with secret.
func newClient(t *testing.T, baseURL, secret string) *bedrock.Client {
	t.Helper()
	c, err := bedrock.New(bedrock.Config{
		Name:           "bedrock-test",
		Region:         testRegion,
		BaseURL:        baseURL,
		Model:          testModel,
		SmallFastModel: testSmallFast,
		Credentials:    []bedrock.Credential{{AccessKey: testAccessKey, SecretKey: secret}},
		Now:            fixedNow,
	})
	require.NoError(t, err)
	return c
}

// received is one request as the mock Bedrock saw it.
type received struct {
	Path   string // escaped, as sent
	Header http.Header
	Body   []byte
	SigErr error // nil when the SigV4 signature checked out
}

// mockBedrock is a Bedrock runtime endpoint on loopback that checks every
// request's SigV4 signature the way AWS does: by recomputing it from what
// arrived, with the key pair it knows.
type mockBedrock struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []received // guarded by mu
}

// newMockBedrock starts a mock that knows accessKey/secret. Requests with a
// valid signature get respond's answer; others a 403 InvalidSignatureException
// as AWS sends it.
func newMockBedrock(t *testing.T, accessKey, secret string, respond func(w http.ResponseWriter, r received)) *mockBedrock {
	t.Helper()
	m := &mockBedrock{}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rec := received{Path: r.URL.EscapedPath(), Header: r.Header.Clone(), Body: body}
		rec.SigErr = verifySigV4(r, body, accessKey, secret)
		m.mu.Lock()
		m.reqs = append(m.reqs, rec)
		m.mu.Unlock()
		if rec.SigErr != nil {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-Errortype", "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"message":"The request signature we calculated does not match the signature you provided."}`)
			return
		}
		respond(w, rec)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *mockBedrock) URL() string { return m.srv.URL + "/" }

func (m *mockBedrock) requests() []received {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]received(nil), m.reqs...)
}

// do sends req to the mock and returns the status, headers and body.
func (m *mockBedrock) do(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := m.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, body
}

// verifySigV4 recomputes the request's signature from the headers it says
// it signed, the body that arrived and the known secret, and compares.
func verifySigV4(r *http.Request, body []byte, accessKey, secret string) error {
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
	if !ok {
		return errors.New("no AWS4-HMAC-SHA256 Authorization header")
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(auth, ", ") {
		k, v, _ := strings.Cut(part, "=")
		fields[k] = v
	}
	signedAt, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %w", err)
	}
	if !signedAt.Equal(testNow) {
		return fmt.Errorf("signed at %v, want the test clock %v", signedAt, testNow)
	}
	wantScope := accessKey + "/" + signedAt.Format("20060102") + "/" + testRegion + "/bedrock/aws4_request"
	if fields["Credential"] != wantScope {
		return fmt.Errorf("credential scope %q, want %q", fields["Credential"], wantScope)
	}
	check, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return err
	}
	check.ContentLength = r.ContentLength
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		if h != "host" && h != "content-length" {
			check.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, check, hex.EncodeToString(sum[:]), "bedrock", testRegion, signedAt); err != nil {
		return err
	}
	if got, want := r.Header.Get("Authorization"), check.Header.Get("Authorization"); got != want {
		return fmt.Errorf("signature mismatch:\n got %s\nwant %s", got, want)
	}
	return nil
}

// header is one event stream header for the test encoder.
type header struct {
	name  string
	typ   byte
	value []byte
}

func stringHeader(name, value string) header { return header{name, 7, []byte(value)} }

// encodeFrame builds one event stream frame the way AWS does: prelude with
// its CRC, headers, payload, CRC of everything before it.
func encodeFrame(headers []header, payload []byte) []byte {
	var hb []byte
	for _, h := range headers {
		hb = append(hb, byte(len(h.name)))
		hb = append(hb, h.name...)
		hb = append(hb, h.typ)
		if h.typ == 6 || h.typ == 7 {
			hb = binary.BigEndian.AppendUint16(hb, uint16(len(h.value)))
		}
		hb = append(hb, h.value...)
	}
	total := 12 + len(hb) + len(payload) + 4
	f := make([]byte, 0, total)
	f = binary.BigEndian.AppendUint32(f, uint32(total))
	f = binary.BigEndian.AppendUint32(f, uint32(len(hb)))
	f = binary.BigEndian.AppendUint32(f, crc32.ChecksumIEEE(f))
	f = append(f, hb...)
	f = append(f, payload...)
	return binary.BigEndian.AppendUint32(f, crc32.ChecksumIEEE(f))
}

// chunkFrame wraps one Anthropic event as Bedrock does, padding included.
func chunkFrame(event string) []byte {
	payload, _ := json.Marshal(map[string]string{
		"bytes": base64.StdEncoding.EncodeToString([]byte(event)),
		"p":     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"[:len(event)%36],
	})
	return encodeFrame([]header{
		stringHeader(":event-type", "chunk"),
		stringHeader(":content-type", "application/json"),
		stringHeader(":message-type", "event"),
	}, payload)
}

func exceptionFrame(exceptionType, message string) []byte {
	payload, _ := json.Marshal(map[string]string{"message": message})
	return encodeFrame([]header{
		stringHeader(":exception-type", exceptionType),
		stringHeader(":content-type", "application/json"),
		stringHeader(":message-type", "exception"),
	}, payload)
}

func streamOf(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

func chunks(events []string) []byte {
	var b []byte
	for _, e := range events {
		b = append(b, chunkFrame(e)...)
	}
	return b
}

// toolUseMessage is a whole streamed answer with text, a tool call and
// usage, as Claude on Bedrock sends it.
var toolUseMessage = []string{
	`{"type":"message_start","message":{"id":"msg_bdrk_01Y1h5D6C3tEkzJ5Ygq7QMSf","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":412,"cache_creation_input_tokens":0,"cache_read_input_tokens":128,"output_tokens":1}}}`,
	`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
	`{"type":"ping"}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me check the weather in Paris "}}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"for you — one moment. <ok> & \"quoted\""}}`,
	`{"type":"content_block_stop","index":0}`,
	`{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_bdrk_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}`,
	`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}`,
	`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}}`,
	`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\", \"unit\": \"celsius\"}"}}`,
	`{"type":"content_block_stop","index":1}`,
	`{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}`,
	`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":412,"outputTokenCount":89,"invocationLatency":2113,"firstByteLatency":605}}`,
}

func typeOf(t testing.TB, event string) string {
	t.Helper()
	var e struct{ Type string }
	require.NoError(t, json.Unmarshal([]byte(event), &e))
	return e.Type
}

// isolateAWSEnv points the default AWS credential chain at nothing but the
// environment: no config files, no instance metadata, no containers.
func isolateAWSEnv(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":                        filepath.Join(dir, "missing-config"),
		"AWS_SHARED_CREDENTIALS_FILE":            filepath.Join(dir, "missing-credentials"),
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_PROFILE":                            "",
		"AWS_DEFAULT_PROFILE":                    "",
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_ROLE_ARN":                           "",
		"AWS_REGION":                             "",
		"AWS_DEFAULT_REGION":                     "",
	} {
		t.Setenv(k, v)
	}
}
