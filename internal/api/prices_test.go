package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// findPrice returns the listed row of provider type typ and model, from
// source, or nil.
func findPrice(body map[string]any, source, typ, model string) map[string]any {
	for _, p := range body["prices"].([]any) {
		row := p.(map[string]any)
		if row["source"] == source && row["provider_type"] == typ && row["model"] == model {
			return row
		}
	}
	return nil
}

// TestPrices: everyone signed in reads the book, with the default book's
// date and which row is in effect; an owner's override wins over the
// default at once, audited; import is all or none; delete brings the
// default back; others may not change prices.
func TestPrices(t *testing.T) {
	t.Parallel()
	r, db, owner := setup(t)
	member := addUser(t, r, owner, "member@example.com", "member")

	code, body := r.do("GET", "/api/v1/prices", member, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.NotNil(t, body["default_as_of"])
	def := findPrice(body, "default", "anthropic", "claude-sonnet-4-5*")
	require.NotNil(t, def)
	require.Equal(t, "3.00", def["input"])
	require.Equal(t, "in_effect", def["state"])

	code, body = r.do("PUT", "/api/v1/prices", member, map[string]any{"provider_type": "anthropic", "model": "claude-sonnet-4-5*", "input": "2", "output": "10"})
	require.Equal(t, http.StatusForbidden, code, body)

	code, body = r.do("PUT", "/api/v1/prices", owner, map[string]any{"provider_type": "anthropic", "model": "claude-sonnet-4-5*", "input": "3.1234567", "output": "-1"})
	require.Equal(t, http.StatusBadRequest, code, body)
	fields := map[string]bool{}
	for _, v := range body["validations"].([]any) {
		fields[v.(map[string]any)["field"].(string)] = true
	}
	require.Equal(t, map[string]bool{"input": true, "output": true}, fields)

	code, body = r.do("PUT", "/api/v1/prices", owner, map[string]any{
		"provider_type": "anthropic", "model": "claude-sonnet-4-5*", "input": "2.40", "output": "12", "cache_write_1h": "4.80", "note": "negotiated",
	})
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "override", body["source"])
	require.Equal(t, "in_effect", body["state"])
	require.Equal(t, "0.24", body["cache_read"], "derived: 0.1x input")
	require.Equal(t, "3.00", body["cache_write_5m"], "derived: 1.25x input")
	require.Equal(t, "4.80", body["cache_write_1h"])
	overrideID := body["id"].(string)

	code, body = r.do("GET", "/api/v1/prices", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "overridden", findPrice(body, "default", "anthropic", "claude-sonnet-4-5*")["state"])
	var audited int
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM audit_logs WHERE resource_type = 'price' AND resource_id = $1 AND action = 'create' AND status_code = 200`, overrideID).Scan(&audited))
	require.Equal(t, 1, audited)

	code, raw := r.doRaw("POST", "/api/v1/prices/import", owner,
		`[{"provider_type":"openai","model":"gpt-a","input":"1","output":"2"},{"provider_type":"openai","model":"gpt-b","input":"1","output":"x"}]`)
	require.Equal(t, http.StatusBadRequest, code, raw)
	require.Contains(t, raw, "[1].output")
	code, raw = r.doRaw("POST", "/api/v1/prices/import", owner,
		`[{"provider_type":"openai","model":"gpt-a","input":"1","output":"2"},{"provider_type":"openai","model":"gpt-b","input":"1","output":"3"}]`)
	require.Equal(t, http.StatusOK, code, raw)
	code, body = r.do("GET", "/api/v1/prices?source=override", auditorOf(t, r, owner), nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["prices"], 3)

	code, body = r.do("DELETE", "/api/v1/prices/"+overrideID, member, nil)
	require.Equal(t, http.StatusForbidden, code, body)
	code, _ = r.do("DELETE", "/api/v1/prices/"+overrideID, owner, nil)
	require.Equal(t, http.StatusNoContent, code)
	code, _ = r.do("DELETE", "/api/v1/prices/"+overrideID, owner, nil)
	require.Equal(t, http.StatusNotFound, code)
	code, body = r.do("DELETE", "/api/v1/prices/"+def["id"].(string), owner, nil)
	require.Equal(t, http.StatusConflict, code, body)
	code, body = r.do("GET", "/api/v1/prices", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "in_effect", findPrice(body, "default", "anthropic", "claude-sonnet-4-5*")["state"])
}

func auditorOf(t *testing.T, r *replica, owner string) string {
	t.Helper()
	return addUser(t, r, owner, "auditor@example.com", "auditor")
}
