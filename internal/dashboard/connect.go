package dashboard

import (
	"net/http"

	"github.com/aigate/aigate/internal/client"
)

// connectData is the Connect-your-tools page: the providers the user may
// call, each with the base URL its tools take (the API's
// gateway_base_url, the one owner of the URL layout).
type connectData struct {
	OpenAI    []client.Provider
	Anthropic []client.Provider
}

func (d *Dashboard) connect(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := s.api.ListProviders(r.Context(), false)
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	var data connectData
	for _, p := range list.Providers {
		// The short form (members') holds only the enabled providers and
		// says nothing of enabled; the full form holds disabled ones too.
		if !list.Short() && !p.Enabled {
			continue
		}
		switch p.Type {
		case "openai":
			data.OpenAI = append(data.OpenAI, p)
		default: // anthropic and bedrock: clients speak the Anthropic API to both
			data.Anthropic = append(data.Anthropic, p)
		}
	}
	d.render(w, r, s, 0, "connect", "Connect your tools", data)
}
