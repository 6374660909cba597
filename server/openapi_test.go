package server

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIInSync: every registered route is documented, and every
// documented operation is registered.
func TestOpenAPIInSync(t *testing.T) {
	e := newEnv(t, nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	var registered, documented []string
	for _, r := range e.s.Handler().GetRoutes(true) {
		if r.Method == "HEAD" {
			continue // Fiber adds HEAD for every GET
		}
		registered = append(registered, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(registered)
	sort.Strings(documented)
	registered = slices.Compact(registered)
	if !slices.Equal(registered, documented) {
		t.Errorf("routes and openapi.json differ:\nregistered %v\ndocumented %v", registered, documented)
	}
	r := e.call(t, "GET", "/openapi.json", "")
	if r.status != 200 || string(r.body) != string(openAPIDoc) {
		t.Errorf("GET /openapi.json: %d", r.status)
	}
}
