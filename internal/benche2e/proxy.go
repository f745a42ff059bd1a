package benche2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/aigate/aigate/internal/gateway"
)

// ProxyPrefix is the path the bare proxy strips, so both proxies are asked
// the same URL path: /ai/openai/v1/chat/completions.
const ProxyPrefix = "/ai/openai"

// NewProxy is the baseline aigate is measured against: an
// httputil.ReverseProxy tuned as a careful operator would (the request body
// read whole before forwarding, as aigate does; events flushed as they
// come; aigate's own upstream transport, so both keep the same keep-alive
// pool) that only swaps the caller's token for the provider key. It does
// no authentication, recording or parsing: the gap is what aigate costs.
// Close the transport's idle connections when done.
func NewProxy(upstream *url.URL, key string) (http.Handler, *http.Transport) {
	tr := gateway.NewTransport()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.Out.Header.Set("Authorization", "Bearer "+key)
		},
		Transport:     tr,
		FlushInterval: -1,
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, ok := strings.CutPrefix(r.URL.Path, ProxyPrefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read the request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.URL.Path, r.URL.RawPath = path, ""
		rp.ServeHTTP(w, r)
	})
	return h, tr
}
