package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
)

// BenchmarkStream compares a 20-event streamed chat completion through the
// gateway (authentication, routing, key injection, SSE relay with usage
// parsing, recording) with the same stream through a bare
// httputil.ReverseProxy that only injects the key. The difference is what
// the gateway costs per stream.
func BenchmarkStream(b *testing.B) {
	mock := llmmock.New(b, llmmock.Options{Events: 20})
	reqBody := body(chatBody, true)

	run := func(b *testing.B, target, token string) {
		client := httpClient(b)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(reqBody))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !strings.HasSuffix(string(raw), "data: [DONE]\n\n") {
					b.Errorf("bad stream: %d %v", resp.StatusCode, err)
					return
				}
			}
		})
	}

	b.Run("reverseproxy", func(b *testing.B) {
		u, err := url.Parse(mock.URL)
		require.NoError(b, err)
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(u)
				pr.Out.Header.Set("Authorization", "Bearer "+openAIKey)
			},
			FlushInterval: -1,
		}
		srv := httptest.NewServer(http.StripPrefix("/ai/oa", rp))
		b.Cleanup(srv.Close)
		run(b, srv.URL+"/ai/oa/v1/chat/completions", "unused")
	})
	b.Run("gateway", func(b *testing.B) {
		e := setup(b, options{})
		e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
		run(b, e.url+"/ai/oa/v1/chat/completions", e.token)
	})
}
