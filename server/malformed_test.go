package server

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestMalformedInput: bad input gets a 4xx with the error shape, never a 500.
func TestMalformedInput(t *testing.T) {
	e := newEnv(t, genUsers(30, 30), func(c *Config) { c.MaxBodyBytes = 64 << 10 }).load(t)
	deep := `{"expr": "` + strings.Repeat("(", 10000) + "true" + strings.Repeat(")", 10000) + `"}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed json", "POST", "/api/v1/query", `{"expr": `, 400, "invalid_json"},
		{"json syntax", "POST", "/api/v1/query", `{"expr" "x"}`, 400, "invalid_json"},
		{"empty body", "POST", "/api/v1/query", ``, 400, "invalid_json"},
		{"json null", "POST", "/api/v1/query", `null`, 400, "missing_expr"},
		{"json array", "POST", "/api/v1/query", `[1,2]`, 400, "invalid_json"},
		{"wrong type", "POST", "/api/v1/query", `{"expr": 5}`, 400, "invalid_json"},
		{"limit too big for int", "POST", "/api/v1/query", `{"expr": "true", "limit": 1e40}`, 400, "invalid_json"},
		{"negative limit", "POST", "/api/v1/query", `{"expr": "true", "limit": -1}`, 400, "invalid_limit"},
		{"huge limit", "POST", "/api/v1/query", `{"expr": "true", "limit": 10000000}`, 400, "invalid_limit"},
		{"unknown field", "POST", "/api/v1/query", `{"expr": "true", "exp": 1}`, 400, "unknown_field"},
		{"trailing data", "POST", "/api/v1/query", `{"expr": "true"} {}`, 400, "invalid_json"},
		{"bad as_of", "POST", "/api/v1/query", `{"expr": "true", "as_of": "yesterday"}`, 400, "invalid_as_of"},
		{"syntax error", "POST", "/api/v1/query", `{"expr": "engagement_tier == "}`, 400, "invalid_expression"},
		{"unterminated string", "POST", "/api/v1/query", `{"expr": "engagement_tier == 'x"}`, 400, "invalid_expression"},
		{"nul byte", "POST", "/api/v1/query", `{"expr": "tr\u0000ue"}`, 400, "invalid_expression"},
		{"invalid utf-8", "POST", "/api/v1/query", "{\"expr\": \"'\xff' IN cohort_tags\"}", 0, ""},
		{"invalid regex", "POST", "/api/v1/query", `{"expr": "engagement_tier MATCHES '('"}`, 400, "invalid_expression"},
		{"unknown cohort ref", "POST", "/api/v1/query", `{"expr": "cohort('nope')"}`, 400, "invalid_expression"},
		{"deep nesting", "POST", "/api/v1/query", deep, 413, "expr_too_large"},
		{"bad as_of query", "GET", "/api/v1/cohorts?as_of=2026-13-45", "", 400, "invalid_as_of"},
		{"bad cursor chars", "GET", "/api/v1/cohorts/everyone/members?cursor=!!!", "", 400, "invalid_cursor"},
		{"bad cursor content", "GET", "/api/v1/cohorts/everyone/members?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("u0001")), "", 400, "invalid_cursor"},
		{"empty cursor payload", "GET", "/api/v1/cohorts/everyone/members?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("c1:")), "", 400, "invalid_cursor"},
		{"bad limit", "GET", "/api/v1/cohorts/everyone/members?limit=abc", "", 400, "invalid_limit"},
		{"zero limit", "GET", "/api/v1/cohorts/everyone/members?limit=0", "", 400, "invalid_limit"},
		{"limit too big", "GET", "/api/v1/cohorts/everyone/members?limit=100001", "", 400, "invalid_limit"},
		{"bad format", "GET", "/api/v1/cohorts/everyone/members?format=xml", "", 400, "invalid_format"},
		{"unknown cohort members", "GET", "/api/v1/cohorts/nope/members", "", 404, "unknown_cohort"},
		{"unknown cohort stats", "GET", "/api/v1/cohorts/nope/stats", "", 404, "unknown_cohort"},
		{"unknown user", "GET", "/api/v1/users/%E2%9C%93/cohorts", "", 404, "unknown_user"},
		{"unknown user with an encoded slash", "GET", "/api/v1/users/a%2Fb/cohorts", "", 404, "unknown_user"},
		{"bad escape in a user id", "GET", "/api/v1/users/a%zz/cohorts", "", 400, "invalid_path"},
		{"bad escape in a cohort name", "GET", "/api/v1/cohorts/a%zz/members", "", 400, "invalid_path"},
		{"encoded cohort name", "GET", "/api/v1/cohorts/every%6Fne/stats", "", 200, ""},
		{"unknown route", "GET", "/api/v2/nothing", "", 404, "not_found"},
		{"wrong method", "DELETE", "/api/v1/cohorts", "", 405, "method_not_allowed"},
		{"yaml garbage", "POST", "/api/v1/cohorts/validate", "\x00\x01{{[[", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, tc.method, tc.path, tc.body)
			if r.status >= 500 {
				t.Fatalf("status %d for bad input: %s", r.status, r.body)
			}
			if tc.status == 0 {
				if r.status < 200 || r.status >= 500 {
					t.Fatalf("status %d", r.status)
				}
				if r.status >= 400 {
					r.errorCode(t)
				}
				return
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", r.status, tc.status, r.body)
			}
			if tc.code != "" {
				if got := r.errorCode(t); got != tc.code {
					t.Errorf("code %q, want %q: %.300s", got, tc.code, r.body)
				}
			}
		})
	}

	// With a large expression limit, deep nesting must still not crash.
	big := newEnv(t, genUsers(10, 31), func(c *Config) { c.MaxExprBytes = 1 << 20 }).load(t)
	r := big.call(t, "POST", "/api/v1/query", deep)
	if r.status != 200 && r.status != 400 {
		t.Errorf("10k nested parens: status %d: %.300s", r.status, r.body)
	}
}

func TestJSONFieldInError(t *testing.T) {
	e := newEnv(t, genUsers(5, 32)).load(t)
	r := e.call(t, "POST", "/api/v1/query", `{"expr": "true", "limit": "ten"}`)
	det := r.json(t)["error"].(map[string]any)["details"].(map[string]any)
	if r.status != 400 || det["field"] != "limit" || det["offset"] == nil {
		t.Errorf("type error should name the field and offset: %d %s", r.status, r.body)
	}
	r = e.call(t, "POST", "/api/v1/query", `{"expr": "true",, }`)
	det = r.json(t)["error"].(map[string]any)["details"].(map[string]any)
	if r.status != 400 || det["offset"] != 17.0 {
		t.Errorf("syntax error should give the offset: %d %s", r.status, r.body)
	}
	r = e.call(t, "POST", "/api/v1/query", `{"expr": "true", "limits": 3}`)
	det = r.json(t)["error"].(map[string]any)["details"].(map[string]any)
	if r.status != 400 || det["field"] != "limits" {
		t.Errorf("unknown field should be named: %d %s", r.status, r.body)
	}
}

// FuzzQuery: whatever the body, /api/v1/query never answers 5xx.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{`{"expr": "true"}`, `{"expr": "cohort('vip') OR visits_30d BETWEEN 1 AND 3", "limit": 3}`,
		`{"expr": "x", "as_of": "2026-01-01T00:00:00Z"}`, `{`, `[]`, `{"expr": "((((", "limit": -5}`} {
		f.Add(s)
	}
	e := newEnv(f, genUsers(50, 33)).load(f)
	f.Fuzz(func(t *testing.T, body string) {
		r := e.call(t, "POST", "/api/v1/query", body)
		if r.status >= 500 {
			t.Fatalf("status %d for %q: %s", r.status, body, r.body)
		}
	})
}
