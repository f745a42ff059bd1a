package dashboard

import (
	"net/http"

	"github.com/aigate/aigate/internal/httpserver"
)

// publicURL is the scheme://host the browser reached aigate at, as the
// public server decided it for the request (trusted proxies' forwarded
// host and scheme, else the connection's).
func publicURL(r *http.Request) string { return httpserver.PublicURL(r.Context()) }
