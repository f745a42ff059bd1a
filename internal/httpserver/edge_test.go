package httpserver_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/httpserver"
)

// waitFor bounds every wait in these tests; it only keeps a broken test
// from hanging.
const waitFor = 30 * time.Second

// certPair is a self-signed certificate for 127.0.0.1 and its key, in PEM.
type certPair struct {
	cert            *x509.Certificate
	certPEM, keyPEM []byte
}

func selfSigned(t *testing.T, serial int64) certPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("aigate test %d", serial)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return certPair{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// writeFile writes a file and gives it the modification time at, so a
// rewrite is a change whatever the file system's time resolution.
func writeFile(t *testing.T, path string, data []byte, at time.Time) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, data, 0o600))
	require.NoError(t, os.Chtimes(path, at, at))
}

// tlsClient trusts exactly the given certificates and offers HTTP/2.
func tlsClient(t *testing.T, trusted ...certPair) (*http.Client, *http.Transport) {
	t.Helper()
	pool := x509.NewCertPool()
	for _, p := range trusted {
		pool.AddCert(p.cert)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, tr
}

// protoSetup starts a server speaking proto: HTTP/1.1 in clear, or HTTP/2
// over TLS with a self-signed certificate.
func protoSetup(t *testing.T, proto string, opts httpserver.Options) (*fixture, *http.Client) {
	t.Helper()
	if proto == "HTTP/1.1" {
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		return setupWith(t, opts), &http.Client{Transport: tr}
	}
	pair := selfSigned(t, 1)
	dir := t.TempDir()
	opts.CertFile, opts.KeyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, opts.CertFile, pair.certPEM, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	writeFile(t, opts.KeyFile, pair.keyPEM, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	client, _ := tlsClient(t, pair)
	return setupWith(t, opts), client
}

var protocols = []string{"HTTP/1.1", "HTTP/2.0"}

// A wrong method on a known path is 405 with Allow, in the API's error
// shape; an unknown path is still 404.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	t.Parallel()
	f := setup(t)
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	f.srv.Handle("POST /things", noop)
	f.srv.Handle("PATCH /things/{id}", noop)
	f.srv.Handle("DELETE /things/{id}", noop)

	for name, tc := range map[string]struct {
		method, path string
		status       int
		allow        string
	}{
		"GET on a POST route":      {"GET", "/things", http.StatusMethodNotAllowed, "POST"},
		"POST on a pattern":        {"POST", "/things/42", http.StatusMethodNotAllowed, "DELETE, PATCH"},
		"DELETE on a GET route":    {"DELETE", "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
		"unknown path":             {"POST", "/nowhere", http.StatusNotFound, ""},
		"metrics are not here":     {"POST", "/metrics", http.StatusNotFound, ""},
		"right method still works": {"PATCH", "/things/42", http.StatusOK, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tc.method, f.base+tc.path, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.status, resp.StatusCode, string(raw))
			require.Equal(t, tc.allow, resp.Header.Get("Allow"))
			if tc.status == http.StatusOK {
				return
			}
			var e httpserver.ErrorBody
			require.NoError(t, json.Unmarshal(raw, &e), string(raw))
			require.NotEmpty(t, e.Message)
			require.Equal(t, resp.Header.Get("X-Request-Id"), e.RequestID)
			if tc.allow != "" {
				require.Equal(t, "Method not allowed.", e.Message)
				require.Contains(t, e.Detail, tc.allow)
			}
		})
	}
}

// The client IP is the peer, or, from a trusted proxy, the right-most
// X-Forwarded-For address that is not itself trusted.
func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	behindProxy := setupWith(t, httpserver.Options{TrustedProxies: trusted})
	direct := setupWith(t, httpserver.Options{})
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, httpserver.ClientIP(r.Context()))
	})
	behindProxy.srv.Handle("GET /ip", echo)
	direct.srv.Handle("GET /ip", echo)

	for name, tc := range map[string]struct {
		f    *fixture
		xff  []string
		want string
	}{
		"no header":                      {behindProxy, nil, "127.0.0.1"},
		"one client":                     {behindProxy, []string{"203.0.113.7"}, "203.0.113.7"},
		"client-written entries ignored": {behindProxy, []string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		"trusted hops skipped":           {behindProxy, []string{"198.51.100.1, 203.0.113.7, 10.1.2.3"}, "203.0.113.7"},
		"several header lines":           {behindProxy, []string{"198.51.100.1", "203.0.113.7, 10.0.0.5"}, "203.0.113.7"},
		"garbage stops at the proxy":     {behindProxy, []string{"not-an-ip, 10.0.0.5"}, "10.0.0.5"},
		"only proxies":                   {behindProxy, []string{"10.0.0.9, 10.0.0.5"}, "10.0.0.9"},
		"with a port":                    {behindProxy, []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		"IPv4 in IPv6":                   {behindProxy, []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		"untrusted peer":                 {direct, []string{"203.0.113.7"}, "127.0.0.1"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, tc.f.base+"/ip", nil)
			require.NoError(t, err)
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(raw))
			id := "request_id=" + resp.Header.Get("X-Request-Id")
			require.True(t, tc.f.logs.WaitFor(id, waitFor, nil), "the access log line")
			for line := range strings.Lines(tc.f.logs.String()) {
				if strings.Contains(line, id) {
					require.Contains(t, line, "client_ip="+tc.want+" remote_addr=127.0.0.1:", "the access log has the client IP and the peer")
				}
			}
		})
	}
}

// uploadResult is what the upload handler saw.
type uploadResult struct {
	n   int
	err error
}

// Issue 15, acceptance 5 (the body part): a body that takes longer than the
// body timeout, on the server's clock, is refused with 408 and the handler
// never sees it whole; one that arrives a moment before the deadline is
// served.
func TestSlowBodyIsRefused(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			const timeout = 30 * time.Second
			const size, part = 1 << 20, 64 << 10
			clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
			f, client := protoSetup(t, proto, httpserver.Options{Clock: clk, BodyTimeout: timeout})
			seen := make(chan uploadResult, 1)
			f.srv.Handle("POST /upload", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				seen <- uploadResult{len(b), err}
				if errors.Is(err, httpserver.ErrBodyTimeout) {
					httpserver.WriteBodyTimeout(w, r, err)
					return
				}
				require.NoError(t, err)
				_, _ = fmt.Fprintf(w, "%d", len(b))
			}))

			// upload sends part of a body, lets the test move the clock,
			// then sends the rest, and returns the response.
			upload := func(armed int, advance time.Duration) (*http.Response, string) {
				pr, pw := io.Pipe()
				defer pw.Close()
				req, err := http.NewRequest(http.MethodPost, f.base+"/upload", pr)
				require.NoError(t, err)
				req.ContentLength = size
				type result struct {
					resp *http.Response
					err  error
				}
				done := make(chan result, 1)
				go func() {
					resp, err := client.Do(req)
					done <- result{resp, err}
				}()
				_, err = pw.Write(make([]byte, part))
				require.NoError(t, err)
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				require.NoError(t, clk.WaitArmed(ctx, httpserver.TimerBody, armed), "the handler started")
				clk.Advance(advance)
				go func() {
					// Refused, the rest of the body finds the stream or
					// connection gone; that error is the point.
					_, _ = pw.Write(make([]byte, size-part))
					_ = pw.Close()
				}()
				res := <-done
				require.NoError(t, res.err)
				defer res.resp.Body.Close()
				require.Equal(t, proto, res.resp.Proto)
				raw, err := io.ReadAll(res.resp.Body)
				require.NoError(t, err)
				return res.resp, string(raw)
			}

			resp, body := upload(1, timeout-time.Microsecond)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			require.Equal(t, fmt.Sprint(size), body)
			require.Equal(t, uploadResult{size, nil}, <-seen)

			resp, body = upload(2, timeout)
			require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, body)
			var e httpserver.ErrorBody
			require.NoError(t, json.Unmarshal([]byte(body), &e), body)
			require.Equal(t, "Request body not received in time.", e.Message)
			require.Contains(t, e.Detail, "30s")
			require.Contains(t, e.Detail, "--http-body-timeout")
			got := <-seen
			require.ErrorIs(t, got.err, httpserver.ErrBodyTimeout)
			require.Less(t, got.n, size, "the handler never had the whole body")
		})
	}
}

// The body deadline ends with the body: a stream that goes on far longer is
// not cut, and its request is not cancelled.
func TestBodyDeadlineDoesNotCutStreams(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			const timeout = 30 * time.Second
			clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
			f, client := protoSetup(t, proto, httpserver.Options{Clock: clk, BodyTimeout: timeout})
			proceed := make(chan struct{})
			var once sync.Once
			release := func() { once.Do(func() { close(proceed) }) }
			t.Cleanup(release) // before the server's shutdown, should the test fail early
			f.srv.Handle("POST /stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				require.NoError(t, err)
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = fmt.Fprintf(w, "data: got %d bytes\n\n", len(b))
				require.NoError(t, http.NewResponseController(w).Flush())
				<-proceed
				_, _ = fmt.Fprintf(w, "data: context %v\n\n", r.Context().Err())
			}))
			resp, err := client.Post(f.base+"/stream", "application/json", bytes.NewReader([]byte(`{"stream":true}`)))
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, proto, resp.Proto)
			rd := bufio.NewReader(resp.Body)
			line, err := rd.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "data: got 15 bytes\n", line)
			_, ok := clk.Next(httpserver.TimerBody)
			require.False(t, ok, "the body's deadline was stopped when the body ended")

			clk.Advance(10 * timeout)
			release()
			rest, err := io.ReadAll(rd)
			require.NoError(t, err)
			require.Equal(t, "\ndata: context <nil>\n\n", string(rest))
		})
	}
}

// HTTPS serves HTTP/2, and a certificate written over the old one is served
// from the next handshake on, without a restart. A pair that does not load
// keeps the previous certificate, with one warning.
func TestTLSReloadsCertificates(t *testing.T) {
	t.Parallel()
	first, second := selfSigned(t, 1), selfSigned(t, 2)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	writeFile(t, certFile, first.certPEM, at)
	writeFile(t, keyFile, first.keyPEM, at)
	f := setupWith(t, httpserver.Options{CertFile: certFile, KeyFile: keyFile})
	client, tr := tlsClient(t, first, second)

	served := func() (*http.Response, int64) {
		t.Helper()
		tr.CloseIdleConnections() // a new handshake
		resp, err := client.Get(f.base + "/healthz")
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return resp, resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	resp, serial := served()
	require.Equal(t, "HTTP/2.0", resp.Proto)
	require.Equal(t, "h2", resp.TLS.NegotiatedProtocol)
	require.EqualValues(t, 1, serial)

	writeFile(t, certFile, second.certPEM, at.Add(time.Hour))
	writeFile(t, keyFile, second.keyPEM, at.Add(time.Hour))
	_, serial = served()
	require.EqualValues(t, 2, serial, "the renewed certificate is served")
	require.Contains(t, f.logs.String(), "TLS certificate reloaded")

	writeFile(t, keyFile, first.keyPEM, at.Add(2*time.Hour)) // the key of another certificate
	_, serial = served()
	require.EqualValues(t, 2, serial, "a pair that does not load keeps the previous certificate")
	_, serial = served()
	require.EqualValues(t, 2, serial)
	require.Equal(t, 1, strings.Count(f.logs.String(), "do not load"), "one warning per change, not one per handshake")
	require.NotContains(t, f.logs.String(), "BEGIN", "no PEM in the logs")

	writeFile(t, certFile, first.certPEM, at.Add(3*time.Hour))
	_, serial = served()
	require.EqualValues(t, 1, serial, "fixed files are picked up")

	// Plain HTTP to the HTTPS port is refused.
	plain, err := http.Get(strings.Replace(f.base, "https://", "http://", 1) + "/healthz")
	require.NoError(t, err)
	require.NoError(t, plain.Body.Close())
	require.Equal(t, http.StatusBadRequest, plain.StatusCode)
}

// TLS files are both given or neither; a file that cannot be read or a pair
// that does not match fails New with the path and the fix, and no PEM.
func TestTLSStartupErrors(t *testing.T) {
	t.Parallel()
	pair, other := selfSigned(t, 1), selfSigned(t, 2)
	dir := t.TempDir()
	certFile, keyFile, otherKey := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "other-key.pem")
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	writeFile(t, certFile, pair.certPEM, at)
	writeFile(t, keyFile, pair.keyPEM, at)
	writeFile(t, otherKey, other.keyPEM, at)
	missing := filepath.Join(dir, "missing.pem")
	for name, tc := range map[string]struct {
		cert, key string
		want      []string
	}{
		"cert only":        {certFile, "", []string{"--tls-cert-file (AIGATE_TLS_CERT_FILE) is set but --tls-key-file (AIGATE_TLS_KEY_FILE) is not", "give both"}},
		"key only":         {"", keyFile, []string{"--tls-key-file (AIGATE_TLS_KEY_FILE) is set but --tls-cert-file", "give both"}},
		"missing cert":     {missing, keyFile, []string{missing, "--tls-cert-file", "no such file"}},
		"missing key":      {certFile, missing, []string{missing, "--tls-key-file", "no such file"}},
		"key of another":   {certFile, otherKey, []string{certFile, otherKey, "private key does not match", "the PEM private key it was issued for"}},
		"key as the cert":  {keyFile, keyFile, []string{keyFile, "PEM certificate chain"}},
		"cert as the key:": {certFile, certFile, []string{certFile, "PEM private key"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := httpserver.New(slog.New(slog.DiscardHandler), prometheus.NewRegistry(), nil, httpserver.Options{CertFile: tc.cert, KeyFile: tc.key})
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "BEGIN")
		})
	}
}

// An idle keep-alive connection is closed after the idle timeout, and a
// client that does not finish its headers after the header timeout. (Both
// are net/http's own timers on the real clock; the tests wait for the close,
// bounded, and assert nothing about how long it took.)
func TestIdleAndHeaderTimeoutsCloseConnections(t *testing.T) {
	t.Parallel()
	// The other timeout is long, so only the one under test can close the
	// connection within the test's bound (net/http falls back from one to
	// the other).
	idleServer := setupWith(t, httpserver.Options{IdleTimeout: time.Millisecond, HeaderTimeout: time.Hour})
	headerServer := setupWith(t, httpserver.Options{HeaderTimeout: time.Millisecond, IdleTimeout: time.Hour})

	idle, err := net.Dial("tcp", strings.TrimPrefix(idleServer.base, "http://"))
	require.NoError(t, err)
	defer idle.Close()
	require.NoError(t, idle.SetDeadline(time.Now().Add(waitFor)))
	_, err = io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: aigate\r\n\r\n")
	require.NoError(t, err)
	rd := bufio.NewReader(idle)
	resp, err := http.ReadResponse(rd, nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Connection"), "kept alive")
	_, err = rd.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the idle connection was closed by the server")

	slow, err := net.Dial("tcp", strings.TrimPrefix(headerServer.base, "http://"))
	require.NoError(t, err)
	defer slow.Close()
	require.NoError(t, slow.SetDeadline(time.Now().Add(waitFor)))
	_, err = io.WriteString(slow, "GET /healthz HTTP/1.1\r\nHost: aig")
	require.NoError(t, err)
	rest, err := io.ReadAll(slow)
	require.NoError(t, err, "closed by the server, not by the test's bound")
	require.NotContains(t, string(rest), "200 OK")
}
