package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/api"
)

const (
	controlDetail = "must not contain control characters such as NUL"
	utf8Detail    = "must be valid UTF-8"
)

// A probe is one bad piece of text, as it goes into a JSON string (json,
// appended to a valid value) and into a URL (url, percent-encoded; "" when
// a URL cannot carry it).
type probe struct {
	name, json, url, detail string
}

var probes = []probe{
	{"NUL", `\u0000`, "%00", controlDetail},
	{"ESC", `\u001b`, "%1B", controlDetail},
	{"newline", `\n`, "%0A", controlDetail},
	{"DEL", `\u007f`, "%7F", controlDetail},
	{"C1 NEL", `\u0085`, "%C2%85", controlDetail},
	{"invalid UTF-8", "\xff", "%FF", utf8Detail},
	{"lone surrogate", `\ud800`, "", utf8Detail},
}

// validation is the one validation of a 400 answer.
func validation(t *testing.T, code int, raw, what string) (field, detail string) {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, code, "%s: %s", what, raw)
	var got struct {
		Validations []struct{ Field, Detail string } `json:"validations"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &got), what)
	require.Len(t, got.Validations, 1, "%s: %s", what, raw)
	return got.Validations[0].Field, got.Validations[0].Detail
}

// noDatabaseErrors checks that no input reached PostgreSQL as text it refuses.
func noDatabaseErrors(t *testing.T, r *replica) {
	t.Helper()
	logs := r.logs.String()
	require.Contains(t, logs, "http request", "the scan must have log lines to look at")
	for _, s := range []string{"SQLSTATE", "22021", "request failed"} {
		require.NotContains(t, logs, s)
	}
}

// fixtures are the resources the probes name in valid path values.
type fixtures struct{ user, token, provider string }

func makeFixtures(t *testing.T, r *replica, owner string) fixtures {
	t.Helper()
	addUser(t, r, owner, "member@example.com", "member")
	code, tok := r.do("POST", "/api/v1/users/member@example.com/tokens", owner, map[string]any{"name": "ci"})
	require.Equal(t, http.StatusCreated, code, tok)
	code, body := r.do("POST", "/api/v1/providers", owner, map[string]any{"name": "openai", "type": "openai"})
	require.Equal(t, http.StatusCreated, code, body)
	return fixtures{user: "member@example.com", token: tok["api_token"].(map[string]any)["id"].(string), provider: "openai"}
}

// path fills pattern's wildcards from values, with bad (already
// percent-encoded) appended to the one named probed.
func path(pattern string, values map[string]string, probed, bad string) (method, p string) {
	method, p, _ = strings.Cut(pattern, " ")
	for _, name := range api.Wildcards(pattern) {
		v := values[name]
		if name == probed {
			v += bad
		}
		p = strings.Replace(p, "{"+name+"}", v, 1)
	}
	return method, p
}

// routeCase says how to call a route: a valid body holding every string
// its body type has (nil for a route that takes none), and the query
// parameters it reads. Every route also gets an unknown query parameter.
type routeCase struct {
	body  map[string]any
	query []string
}

func providerBody() map[string]any {
	return map[string]any{
		"name": "probe", "type": "openai", "display_name": "Probe", "base_url": "https://llm.example/v1/",
		"settings": map[string]any{"region": "us-east-1", "model": "m", "small_fast_model": "s",
			"access_key": "AKIAEXAMPLE", "access_key_secret": "secret"},
		"api_keys": []any{map[string]any{"id": "kept", "api_key": "sk-probe-0123456789"}},
	}
}

func routeCases() map[string]routeCase {
	return map[string]routeCase{
		"POST /api/v1/users/first": {body: map[string]any{"email": "first@example.com", "name": "First", "password": "password-first", "role": "owner"}},
		"POST /api/v1/login":       {body: map[string]any{"email": "member@example.com", "password": "password-member"}},
		"GET /api/v1/users":        {},
		"POST /api/v1/users":       {body: map[string]any{"email": "new@example.com", "name": "New", "password": "password-new", "role": "member"}},
		"GET /api/v1/users/{user}": {},
		"PATCH /api/v1/users/{user}": {body: map[string]any{"email": "member@example.com", "name": "Member",
			"password": "password-member", "role": "member"}},
		"DELETE /api/v1/users/{user}":                {},
		"GET /api/v1/users/{user}/tokens":            {},
		"POST /api/v1/users/{user}/tokens":           {body: map[string]any{"name": "laptop", "expires_at": "2999-01-02T15:04:05Z", "scopes": []any{"api"}}},
		"DELETE /api/v1/users/{user}/tokens/{token}": {},
		"GET /api/v1/providers":                      {query: []string{"include_deleted"}},
		"POST /api/v1/providers":                     {body: providerBody()},
		"GET /api/v1/providers/{provider}":           {},
		"PATCH /api/v1/providers/{provider}":         {body: providerBody()},
		"DELETE /api/v1/providers/{provider}":        {},
		"POST /api/v1/providers/{provider}/restore":  {},
		"GET /api/v1/audit":                          {query: []string{"resource_type", "resource", "actor", "action", "since", "until", "limit", "cursor"}},
		"GET /api/v1/usage":                          {query: []string{"from", "to", "group_by", "user"}},
		"GET /api/v1/interceptions":                  {query: []string{"user", "provider", "model", "client", "session", "status", "since", "until", "limit", "cursor"}},
		"GET /api/v1/interceptions/{interception}":   {},
		// Groups and policies: a body is judged before its group or policy
		// is looked up, so these need not exist.
		"GET /api/v1/groups":                           {},
		"POST /api/v1/groups":                          {body: map[string]any{"name": "probe", "display_name": "Probe"}},
		"GET /api/v1/groups/{group}":                   {},
		"PATCH /api/v1/groups/{group}":                 {body: map[string]any{"name": "probe", "display_name": "Probe"}},
		"DELETE /api/v1/groups/{group}":                {},
		"PUT /api/v1/groups/{group}/members/{user}":    {},
		"DELETE /api/v1/groups/{group}/members/{user}": {},
		"GET /api/v1/policies":                         {},
		"POST /api/v1/policies":                        {body: policyBody()},
		"GET /api/v1/policies/{policy}":                {},
		"PATCH /api/v1/policies/{policy}":              {body: policyBody()},
		"DELETE /api/v1/policies/{policy}":             {},
		"GET /api/v1/policies/{policy}/status":         {},
		"GET /api/v1/prices":                           {query: []string{"provider_type", "source"}},
		"PUT /api/v1/prices":                           {body: priceBody()},
		"POST /api/v1/prices/import":                   {body: map[string]any{"prices": []any{priceBody()}}},
		"DELETE /api/v1/prices/{price}":                {},
	}
}

func policyBody() map[string]any {
	return map[string]any{
		"name": "probe", "description": "Probe", "scope": "everyone", "group": "g", "user": "u", "token": "t",
		"providers": []any{"openai"}, "models": []any{"gpt-*"}, "kind": "budget", "period": "day", "limit_usd": "1.00",
		"allow_models": []any{"gpt-4o"}, "time_zone": "UTC",
	}
}

// priceBody is a price override with every string field.
func priceBody() map[string]any {
	return map[string]any{"provider_type": "openai", "model": "gpt-test", "effective_from": "2026-01-02T15:04:05Z",
		"input": "1.00", "output": "2.00", "cache_read": "0.10", "cache_write_5m": "1.25", "cache_write_1h": "2.00",
		"reasoning": "2.00", "note": "test"}
}

// stringLeaves lists the paths of the strings in doc as the API names them.
func stringLeaves(prefix string, doc any) []string {
	switch doc := doc.(type) {
	case map[string]any:
		var out []string
		for k, v := range doc {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = append(out, stringLeaves(p, v)...)
		}
		return out
	case []any:
		var out []string
		for i, v := range doc {
			out = append(out, stringLeaves(fmt.Sprintf("%s[%d]", prefix, i), v)...)
		}
		return out
	case string:
		return []string{prefix}
	}
	return nil
}

// withLeaf returns a copy of doc with the string at target replaced by
// replacement.
func withLeaf(prefix string, doc any, target string, replacement any) any {
	switch doc := doc.(type) {
	case map[string]any:
		out := make(map[string]any, len(doc))
		for k, v := range doc {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[k] = withLeaf(p, v, target, replacement)
		}
		return out
	case []any:
		out := make([]any, len(doc))
		for i, v := range doc {
			out[i] = withLeaf(fmt.Sprintf("%s[%d]", prefix, i), v, target, replacement)
		}
		return out
	case string:
		if prefix == target {
			return replacement
		}
	}
	return doc
}

// leafValue returns the string at target in doc.
func leafValue(prefix string, doc any, target string) (string, bool) {
	switch doc := doc.(type) {
	case map[string]any:
		for k, v := range doc {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			if s, ok := leafValue(p, v, target); ok {
				return s, true
			}
		}
	case []any:
		for i, v := range doc {
			if s, ok := leafValue(fmt.Sprintf("%s[%d]", prefix, i), v, target); ok {
				return s, true
			}
		}
	case string:
		return doc, prefix == target
	}
	return "", false
}

// probedBody is body as JSON text with the probe appended to the string at
// field. The probe goes in as raw JSON text: json.Marshal would replace
// invalid UTF-8 and cannot write a lone surrogate.
func probedBody(t *testing.T, body map[string]any, field string, p probe) string {
	t.Helper()
	const marker = "@@probe@@"
	valid, ok := leafValue("", body, field)
	require.True(t, ok, field)
	raw, err := json.Marshal(withLeaf("", body, field, marker))
	require.NoError(t, err)
	quoted, err := json.Marshal(valid)
	require.NoError(t, err)
	literal := string(quoted[:len(quoted)-1]) + p.json + `"`
	return strings.Replace(string(raw), `"`+marker+`"`, literal, 1)
}

// TestTextRefusedOnEveryRoute is acceptance 2 of issue 12: for every route
// of the route table, NUL, other control characters and invalid UTF-8 in
// every string of its body, every path parameter and its query parameters
// get a 400 naming the field, and none reaches the database.
func TestTextRefusedOnEveryRoute(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	fx := makeFixtures(t, r, owner)
	valid := map[string]string{"user": fx.user, "token": fx.token, "provider": fx.provider, "interception": "0190d5f8-7c1e-7a3b-9e4f-0123456789ab",
		"group": "team", "policy": "budget", "price": "0190d5f8-7c1e-7a3b-9e4f-0123456789ad"}
	missing := map[string]string{"user": "nobody@example.com", "token": "nonexistent00", "provider": "nonexistent", "interception": "0190d5f8-7c1e-7a3b-9e4f-0123456789ac",
		"group": "nonexistent", "policy": "nonexistent", "price": "0190d5f8-7c1e-7a3b-9e4f-0123456789ae"}

	cases := routeCases()
	patterns := api.Patterns()
	caseNames := make([]string, 0, len(cases))
	for p := range cases {
		caseNames = append(caseNames, p)
	}
	require.ElementsMatch(t, patterns, caseNames, "every route of the route table has a case here, and only those")

	for _, pattern := range patterns {
		c := cases[pattern]
		sample := ""
		if c.body != nil {
			raw, err := json.Marshal(c.body)
			require.NoError(t, err)
			sample = string(raw)
		}

		// Every string of the body, wherever it sits.
		leaves := stringLeaves("", c.body)
		sort.Strings(leaves)
		for _, field := range leaves {
			for _, p := range probes {
				what := fmt.Sprintf("%s: body %s: %s", pattern, field, p.name)
				method, u := path(pattern, valid, "", "")
				code, raw := r.doRaw(method, u, owner, probedBody(t, c.body, field, p))
				if field == "password" && p.detail == controlDetail {
					// Passwords are exempt from the control-character rule.
					require.NotEqual(t, http.StatusInternalServerError, code, "%s: %s", what, raw)
					require.NotContains(t, raw, controlDetail, what)
					continue
				}
				gotField, gotDetail := validation(t, code, raw, what)
				require.Equal(t, field, gotField, what)
				require.Equal(t, p.detail, gotDetail, what)
			}
		}
		if c.body != nil {
			// A member name is checked too, and reported under its object.
			method, u := path(pattern, valid, "", "")
			code, raw := r.doRaw(method, u, owner, `{"na\u0000me":"x",`+sample[1:])
			field, detail := validation(t, code, raw, pattern+": member name")
			require.Equal(t, "body", field)
			require.Equal(t, "member names "+controlDetail, detail)

			// The body type's strings are exactly the ones probed, so a
			// string field added to a body cannot go unprobed.
			want, decoded := api.BodyStrings(pattern)
			require.True(t, decoded, "%s decodes no body: drop its body here", pattern)
			require.ElementsMatch(t, want, leaves, "%s: the body here must hold every string of its type", pattern)
		}

		// Every path parameter.
		for _, name := range api.Wildcards(pattern) {
			for _, p := range probes {
				if p.url == "" {
					continue
				}
				what := fmt.Sprintf("%s: path parameter %s: %s", pattern, name, p.name)
				method, u := path(pattern, valid, name, p.url)
				code, raw := r.doRaw(method, u, owner, sample)
				gotField, gotDetail := validation(t, code, raw, what)
				require.Equal(t, name, gotField, what)
				require.Equal(t, p.detail, gotDetail, what)
			}
		}

		// Every query parameter the route reads, and one it does not.
		for _, name := range append(c.query, "unknown") {
			for _, p := range probes {
				if p.url == "" {
					continue
				}
				what := fmt.Sprintf("%s: query parameter %s: %s", pattern, name, p.name)
				method, u := path(pattern, valid, "", "")
				code, raw := r.doRaw(method, u+"?"+name+"=x"+p.url, owner, sample)
				gotField, gotDetail := validation(t, code, raw, what)
				require.Equal(t, name, gotField, what)
				require.Equal(t, p.detail, gotDetail, what)
			}
		}
		method, u := path(pattern, valid, "", "")
		code, raw := r.doRaw(method, u+"?un%00known=1", owner, sample)
		field, detail := validation(t, code, raw, pattern+": query parameter name")
		require.Equal(t, "query", field)
		require.Equal(t, "parameter names "+controlDetail, detail)

		if c.body == nil {
			// A clean call of a route listed without a body must not decode
			// one. The resources named do not exist, so nothing changes.
			method, u := path(pattern, missing, "", "")
			code, raw := r.doRaw(method, u, owner, `{}`)
			require.NotEqual(t, http.StatusInternalServerError, code, "%s: %s", pattern, raw)
			_, decoded := api.BodyStrings(pattern)
			require.False(t, decoded, "%s decodes a body: give it one here with every string field", pattern)
		}
	}
	noDatabaseErrors(t, r)
}

// TestTextRefusedIssueInputs pins the kinds of input the issue names, each
// of which answered 500 before (SQLSTATE 22021).
func TestTextRefusedIssueInputs(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	fx := makeFixtures(t, r, owner)
	users, tokens := "/api/v1/users/", "/api/v1/users/"+fx.user+"/tokens"
	for _, c := range []struct {
		name, method, path, body, field string
	}{
		{"user name", "POST", "/api/v1/users", `{"email":"n@example.com","name":"N\u0000","password":"password-n","role":"member"}`, "name"},
		{"user name in a patch", "PATCH", users + fx.user, `{"name":"N\u0000"}`, "name"},
		{"user email", "POST", "/api/v1/users", `{"email":"n\u0000@example.com","name":"N","password":"password-n","role":"member"}`, "email"},
		{"first user email", "POST", "/api/v1/users/first", `{"email":"f\u0000@example.com","name":"F","password":"password-f"}`, "email"},
		{"login email", "POST", "/api/v1/login", `{"email":"member@example.com\u0000","password":"password-member"}`, "email"},
		{"token name", "POST", tokens, `{"name":"ci\u0000"}`, "name"},
		{"provider name", "POST", "/api/v1/providers", `{"name":"p\u0000","type":"openai"}`, "name"},
		{"provider display name", "POST", "/api/v1/providers", `{"name":"p","type":"openai","display_name":"P\u0000"}`, "display_name"},
		{"provider display name in a patch", "PATCH", "/api/v1/providers/openai", `{"display_name":"P\u0000"}`, "display_name"},
		{"provider key", "PATCH", "/api/v1/providers/openai", `{"api_keys":[{"api_key":"sk-\u0000"}]}`, "api_keys[0].api_key"},
		{"bedrock setting", "PATCH", "/api/v1/providers/openai", `{"settings":{"region":"us\u0000"}}`, "settings.region"},
		{"nested member name", "PATCH", "/api/v1/providers/openai", `{"settings":{"re\u0000gion":"us"}}`, "settings"},
		{"user id in a path", "GET", users + "%00", "", "user"},
		{"user id in a token path", "GET", users + "me%00/tokens", "", "user"},
		{"token id in a path", "DELETE", tokens + "/x%00", "", "token"},
		{"provider id in a path", "GET", "/api/v1/providers/open%00ai", "", "provider"},
		{"provider in a restore path", "POST", "/api/v1/providers/%00/restore", "", "provider"},
		{"audit resource filter", "GET", "/api/v1/audit?resource=%00", "", "resource"},
		{"audit actor filter", "GET", "/api/v1/audit?actor=owner%00", "", "actor"},
		{"audit action filter", "GET", "/api/v1/audit?action=%00", "", "action"},
		{"audit resource type filter", "GET", "/api/v1/audit?resource_type=user%00", "", "resource_type"},
		{"audit cursor", "GET", "/api/v1/audit?cursor=%00", "", "cursor"},
	} {
		code, raw := r.doRaw(c.method, c.path, owner, c.body)
		field, detail := validation(t, code, raw, c.name)
		require.Equal(t, c.field, field, c.name)
		if c.field == "settings" {
			require.Equal(t, "member names "+controlDetail, detail, c.name)
		} else {
			require.Equal(t, controlDetail, detail, c.name)
		}
	}

	// The path and query are checked before the caller is authenticated:
	// the token lookup never sees such a request either.
	code, raw := r.doRaw("GET", users+"%00", "", "")
	field, _ := validation(t, code, raw, "anonymous")
	require.Equal(t, "user", field)

	// A query the handlers would read with pairs silently dropped.
	code, raw = r.doRaw("GET", "/api/v1/audit?resource=%zz", owner, "")
	field, _ = validation(t, code, raw, "bad escape")
	require.Equal(t, "query", field)
	noDatabaseErrors(t, r)
}

// TestTextBounds: strings are bounded at the edge; the domain's tighter
// bounds still answer in their own words below that.
func TestTextBounds(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	atLimit := strings.Repeat("a", api.MaxBodyString)
	code, raw := r.doRaw("POST", "/api/v1/users/me/tokens", owner, `{"name":"`+atLimit+`"}`)
	field, detail := validation(t, code, raw, "token name at the edge's bound")
	require.Equal(t, "name", field)
	require.NotContains(t, detail, "bytes", "the domain's own bound answers")

	code, raw = r.doRaw("POST", "/api/v1/users/me/tokens", owner, `{"name":"`+atLimit+`a"}`)
	field, detail = validation(t, code, raw, "token name over the edge's bound")
	require.Equal(t, "name", field)
	require.Equal(t, fmt.Sprintf("must be at most %d bytes", api.MaxBodyString), detail)
	require.NotContains(t, raw, atLimit, "the value is not echoed")

	long := strings.Repeat("b", api.MaxParamBytes+1)
	for _, c := range []struct{ path, field string }{
		{"/api/v1/users/" + long, "user"},
		{"/api/v1/audit?resource=" + long, "resource"},
	} {
		code, raw := r.doRaw("GET", c.path, owner, "")
		field, detail := validation(t, code, raw, c.path)
		require.Equal(t, c.field, field)
		require.Equal(t, fmt.Sprintf("must be at most %d bytes", api.MaxParamBytes), detail)
	}
	code, _ = r.doRaw("GET", "/api/v1/users/"+long[1:], owner, "")
	require.Equal(t, http.StatusNotFound, code, "a value at the bound is looked up")
	noDatabaseErrors(t, r)
}

// TestUnicodeTextAccepted: the rule refuses control characters, not
// non-ASCII text.
func TestUnicodeTextAccepted(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	const name = "Zoë 日本 \U0001F600" // a character outside the BMP, as a pair of surrogates below
	code, body := r.do("POST", "/api/v1/users", owner, map[string]any{"email": "zoe@example.com", "name": name, "password": "password-zoe", "role": "member"})
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, name, body["name"])
	code, raw := r.doRaw("PATCH", "/api/v1/users/zoe@example.com", owner, `{"name":"Zoë 日本 \ud83d\ude00"}`)
	require.Equal(t, http.StatusOK, code, raw)
	code, body = r.do("GET", "/api/v1/users/zoe@example.com", owner, nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, name, body["name"], "an escaped surrogate pair is one character")

	code, body = r.do("POST", "/api/v1/users/me/tokens", owner, map[string]any{"name": name})
	require.Equal(t, http.StatusCreated, code, body)
	code, body = r.do("POST", "/api/v1/providers", owner, map[string]any{"name": "openai", "type": "openai", "display_name": name})
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, name, body["display_name"])

	code, _ = r.do("GET", "/api/v1/providers/Zo%C3%AB", owner, nil)
	require.Equal(t, http.StatusNotFound, code, "valid text in a path is looked up")
	code, body = r.do("GET", "/api/v1/audit?resource=Zo%C3%AB%20%E6%97%A5%E6%9C%AC", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	noDatabaseErrors(t, r)
}

// TestPasswordControlCharacters: a password may hold control characters
// (it is only hashed), and one that does works for logging in.
func TestPasswordControlCharacters(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	code, raw := r.doRaw("POST", "/api/v1/users", owner, `{"email":"p@example.com","name":"P","password":"tab\there\u0000nul","role":"member"}`)
	require.Equal(t, http.StatusCreated, code, raw)
	code, raw = r.doRaw("POST", "/api/v1/login", "", `{"email":"p@example.com","password":"tab\there\u0000nul"}`)
	require.Equal(t, http.StatusOK, code, raw)
	code, raw = r.doRaw("POST", "/api/v1/login", "", `{"email":"p@example.com","password":"tab\there"}`)
	require.Equal(t, http.StatusUnauthorized, code, "the NUL is part of the password: %s", raw)

	code, raw = r.doRaw("POST", "/api/v1/login", "", "{\"email\":\"p@example.com\",\"password\":\"tab\xffhere\"}")
	field, detail := validation(t, code, raw, "invalid UTF-8 password")
	require.Equal(t, "password", field)
	require.Equal(t, utf8Detail, detail)
	noDatabaseErrors(t, r)
}

// TestUserAgentRecorded: a User-Agent PostgreSQL cannot store as text, or
// one with C1 controls, is recorded in the audit log made fit, rather than
// failing the audited change.
func TestUserAgentRecorded(t *testing.T) {
	t.Parallel()
	r, db, owner := setup(t)
	req, err := http.NewRequest("POST", r.base+"/api/v1/users/me/tokens", strings.NewReader(`{"name":"ua"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+owner)
	req.Header.Set("User-Agent", "agent\xff/1\u009b2"+strings.Repeat("x", 600))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var ua string
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		"SELECT user_agent FROM audit_logs WHERE resource_type = 'api_token' ORDER BY id DESC LIMIT 1").Scan(&ua))
	require.True(t, strings.HasPrefix(ua, "agent\uFFFD/1\uFFFD2xxx"), ua)
	require.LessOrEqual(t, len(ua), 512)
	noDatabaseErrors(t, r)
}
