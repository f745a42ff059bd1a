package llmwire

import (
	"encoding/json"
)

// FilterModels keeps the models of a model list that keep allows. OpenAI's
// and Anthropic's GET /v1/models answer alike: {"data": [{"id": ...}, ...]}
// with more members around it (Anthropic's first_id and last_id, which are
// made to name the first and last model kept). Other members are kept as
// they came; the body is re-encoded, so their order may change. A body that
// is not such a list is returned with false, to be passed on unchanged.
func FilterModels(body []byte, keep func(id string) bool) ([]byte, bool) {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return body, false
	}
	var data []json.RawMessage
	if json.Unmarshal(doc["data"], &data) != nil {
		return body, false
	}
	kept := make([]json.RawMessage, 0, len(data))
	var ids []string
	for _, m := range data {
		var model struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(m, &model) != nil {
			return body, false
		}
		if keep(model.ID) {
			kept = append(kept, m)
			ids = append(ids, model.ID)
		}
	}
	set := func(key string, v any) {
		if _, ok := doc[key]; ok {
			doc[key], _ = json.Marshal(v)
		}
	}
	doc["data"], _ = json.Marshal(kept)
	if len(ids) > 0 {
		set("first_id", ids[0])
		set("last_id", ids[len(ids)-1])
	} else {
		set("first_id", nil)
		set("last_id", nil)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body, false
	}
	return out, true
}
