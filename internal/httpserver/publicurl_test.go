package httpserver_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/httpserver"
)

// echoPublicURL mounts GET /public-url, which answers the request's
// httpserver.PublicURL.
func echoPublicURL(f *fixture) {
	f.srv.Handle("GET /public-url", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, httpserver.PublicURL(r.Context()))
	}))
}

// The public URL is the Host the client sent on the scheme of its
// connection; a trusted proxy's X-Forwarded-Host and X-Forwarded-Proto
// replace them, when they hold a plain host and "https"; anyone else's are
// ignored, and a value that is not a plain host is never reflected.
func TestPublicURL(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	behindProxy := setupWith(t, httpserver.Options{TrustedProxies: trusted})
	direct := setupWith(t, httpserver.Options{})
	elsewhere := setupWith(t, httpserver.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, f := range []*fixture{behindProxy, direct, elsewhere} {
		echoPublicURL(f)
	}
	proxyHost := strings.TrimPrefix(behindProxy.base, "http://")

	for name, tc := range map[string]struct {
		f      *fixture
		host   string   // the Host header; "" for the URL's
		header []string // pairs, added in order
		want   string   // "" for the server's own base URL
	}{
		"direct":                            {direct, "", nil, ""},
		"the Host the client sent":          {direct, "AIGate.Example.com:8080", nil, "http://aigate.example.com:8080"},
		"forged from an untrusted peer":     {direct, "", []string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https"}, ""},
		"trusted, but another network":      {elsewhere, "", []string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https"}, ""},
		"trusted proxy":                     {behindProxy, "", []string{"X-Forwarded-Host", "aigate.example.com", "X-Forwarded-Proto", "https"}, "https://aigate.example.com"},
		"trusted proxy, host only":          {behindProxy, "", []string{"X-Forwarded-Host", "aigate.example.com:8443"}, "http://aigate.example.com:8443"},
		"trusted proxy, scheme only":        {behindProxy, "", []string{"X-Forwarded-Proto", "HTTPS"}, "https://" + proxyHost},
		"trusted proxy says http":           {behindProxy, "", []string{"X-Forwarded-Proto", "http"}, ""},
		"an unknown scheme":                 {behindProxy, "", []string{"X-Forwarded-Proto", "ftp"}, ""},
		"the right-most value":              {behindProxy, "", []string{"X-Forwarded-Host", "client-says.example, proxy-says.example", "X-Forwarded-Proto", "http, https"}, "https://proxy-says.example"},
		"the last line":                     {behindProxy, "", []string{"X-Forwarded-Host", "first.example", "X-Forwarded-Host", "last.example"}, "http://last.example"},
		"a path is not reflected":           {behindProxy, "", []string{"X-Forwarded-Host", "evil.example/phish"}, ""},
		"userinfo is not reflected":         {behindProxy, "", []string{"X-Forwarded-Host", "aigate.example.com@evil.example"}, ""},
		"spaces are not reflected":          {behindProxy, "", []string{"X-Forwarded-Host", "evil example"}, ""},
		"a tab is not reflected":            {behindProxy, "", []string{"X-Forwarded-Host", "evil\texample"}, ""},
		"a query is not reflected":          {behindProxy, "", []string{"X-Forwarded-Host", "evil.example?x=1"}, ""},
		"a bad port is not reflected":       {behindProxy, "", []string{"X-Forwarded-Host", "evil.example:99999"}, ""},
		"a bad host falls back to the Host": {behindProxy, "gw.internal", []string{"X-Forwarded-Host", "evil.example/x"}, "http://gw.internal"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, tc.f.base+"/public-url", nil)
			require.NoError(t, err)
			if tc.host != "" {
				req.Host = tc.host
			}
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Add(tc.header[i], tc.header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
			want := tc.want
			if want == "" {
				want = tc.f.base
			}
			require.Equal(t, want, string(raw))
		})
	}
}

// A request without a Host (HTTP/1.0), or with one that Go's server lets
// through but that is not a plain host, gets the address the connection
// reached.
func TestPublicURLWithoutAUsableHost(t *testing.T) {
	t.Parallel()
	f := setupWith(t, httpserver.Options{})
	echoPublicURL(f)
	addr := strings.TrimPrefix(f.base, "http://")
	for name, head := range map[string]string{
		"HTTP/1.0 without Host":  "GET /public-url HTTP/1.0\r\n\r\n",
		"a Host with sub-delims": "GET /public-url HTTP/1.0\r\nHost: evil.example;x=1\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			_, err = io.WriteString(conn, head)
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
			require.Equal(t, f.base, string(raw))
		})
	}
}

// Over TLS the scheme is https without any header.
func TestPublicURLOverTLS(t *testing.T) {
	t.Parallel()
	f, c := protoSetup(t, "HTTP/2.0", httpserver.Options{})
	echoPublicURL(f)
	resp, err := c.Get(f.base + "/public-url")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "HTTP/2.0", resp.Proto)
	require.True(t, strings.HasPrefix(f.base, "https://"))
	require.Equal(t, f.base, string(raw))
}
