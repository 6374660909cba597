package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/cohortd/cohortd/"

// Imports point down only: the layering the README and doc.go files promise
// is checked here, on the production (non-test) files of each package.
func TestImportsPointDown(t *testing.T) {
	allowed := map[string][]string{ // package → project packages it may import
		"dsl":                       {},
		"bitmaps":                   {},
		"compiler":                  {"dsl", "bitmaps", "compiler/chsql"},
		"compiler/chsql":            {},
		"compiler/compilertest":     {"dsl", "bitmaps", "compiler"},
		"store":                     {"bitmaps", "store/gen"},
		"store/gen":                 {"bitmaps"},
		"store/events":              {"bitmaps", "store", "store/gen"},
		"store/kafka":               {"store/events"},
		"store/clickhouse":          {"bitmaps", "compiler/chsql", "store", "store/events"}, // events: a data directory's events.ndjson (load)
		"store/clickhouse/chtest":   {"store/clickhouse", "bitmaps"},
		"server":                    {"dsl", "compiler", "bitmaps"},
		"server/realtime":           {"dsl", "compiler", "bitmaps", "store", "store/events", "store/kafka"},
		"recommend":                 {"recommend/internal/kernel", "store", "store/gen", "bitmaps"},
		"recommend/internal/kernel": {},
		"recommend/milvus":          {"recommend"},
	}
	root := repoRoot(t)
	for pkg, ok := range allowed {
		dir := filepath.Join(root, filepath.FromSlash(pkg))
		if _, err := os.Stat(dir); err != nil {
			continue // not every package exists in every checkout
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if !strings.HasPrefix(path, module) {
					continue
				}
				dep := strings.TrimPrefix(path, module)
				if !contains(ok, dep) {
					t.Errorf("%s imports %s: the layering forbids it (allowed: %v)", filepath.Base(f), dep, ok)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s || strings.HasPrefix(s, x+"/internal/") {
			return true
		}
	}
	return false
}
