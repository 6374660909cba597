package server

import "testing"

func TestAuth(t *testing.T) {
	keys := []APIKey{
		{Name: "reader", Key: "k-read", Roles: []string{RoleRead}},
		{Name: "crm", Key: "k-crm", Roles: []string{RoleRead, RoleExport}},
		{Name: "ops", Key: "k-admin", Roles: []string{RoleAdmin}},
	}
	e := newEnv(t, genUsers(20, 20), func(c *Config) { c.Keys = keys }).load(t)
	for _, tc := range []struct {
		name, method, path, key string
		status                  int
	}{
		{"no key", "GET", "/api/v1/cohorts", "", 401},
		{"bad key", "GET", "/api/v1/cohorts", "Bearer nope", 401},
		{"not bearer", "GET", "/api/v1/cohorts", "Basic k-read", 401},
		{"read ok", "GET", "/api/v1/cohorts", "Bearer k-read", 200},
		{"scheme case-insensitive", "GET", "/api/v1/cohorts", "bearer k-read", 200},
		{"read cannot export", "GET", "/api/v1/cohorts/everyone/members", "Bearer k-read", 403},
		{"export ok", "GET", "/api/v1/cohorts/everyone/members", "Bearer k-crm", 200},
		{"crm cannot reload", "POST", "/api/v1/admin/reload", "Bearer k-crm", 403},
		{"admin reloads", "POST", "/api/v1/admin/reload", "Bearer k-admin", 200},
		{"admin reads", "GET", "/api/v1/users/u0001/cohorts", "Bearer k-admin", 200},
		{"recommend role", "POST", "/api/v1/recommendations", "Bearer k-read", 403},
		{"health is open", "GET", "/healthz", "", 200},
		{"ready is open", "GET", "/readyz", "", 200},
		{"metrics are open", "GET", "/metrics", "", 200},
		{"openapi is open", "GET", "/openapi.json", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.key != "" {
				hdr = []string{"Authorization", tc.key}
			}
			r := e.call(t, tc.method, tc.path, "", hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			switch tc.status {
			case 401:
				if r.errorCode(t) != "unauthorized" || r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 shape: %v %s", r.header, r.body)
				}
			case 403:
				if r.errorCode(t) != "forbidden" {
					t.Errorf("403 shape: %s", r.body)
				}
			}
		})
	}
}
