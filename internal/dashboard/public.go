package dashboard

import "net/http"

// publicURL is the scheme://host the browser reached aigate at.
func publicURL(r *http.Request) string { return "" }
