package clickhouse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/dsl"
	"github.com/cohortd/cohortd/store/clickhouse"
	"github.com/cohortd/cohortd/store/clickhouse/chtest"
)

func testAddr(t testing.TB) string { t.Helper(); return chtest.Addr(t) }

func testDB(t testing.TB) *clickhouse.Client { t.Helper(); return chtest.NewDB(t) }

// compileYAML compiles a cohorts file given as text.
func compileYAML(t testing.TB, src string) *compiler.Set {
	t.Helper()
	f, err := dsl.ParseData("cohorts.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	set, err := compiler.Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// writeNDJSON writes users (values as compilertest makes them: timestamps
// as Unix seconds) to an NDJSON file and returns its path.
func writeNDJSON(t testing.TB, users []map[string]any, attrs []*dsl.Attribute) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for _, u := range users {
		m := make(map[string]any, len(u))
		for _, a := range attrs {
			v, ok := u[a.Name]
			if !ok {
				continue
			}
			if s, isInt := v.(int64); isInt && a.Type == dsl.TypeTimestamp {
				v = time.Unix(s, 0).UTC().Format(time.RFC3339)
			}
			m[a.Name] = v
		}
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// clampTimes moves timestamps outside ClickHouse's DateTime range (which
// Load refuses) to its ends, keeping the edge cases at the edges.
func clampTimes(users []map[string]any, attrs []*dsl.Attribute) {
	for _, u := range users {
		for _, a := range attrs {
			if s, ok := u[a.Name].(int64); ok && a.Type == dsl.TypeTimestamp {
				u[a.Name] = min(max(s, 0), math.MaxUint32)
			}
		}
	}
}

// members lists the user ids of an index bitmap evaluation.
func indexMembers(ix *bitmaps.Index, ev *compiler.Evaluator, q *compiler.Query, now time.Time) ([]string, error) {
	b, err := ev.Members(context.Background(), q, now)
	if err != nil {
		return nil, err
	}
	var out []string
	ix.Iterate(b, "", func(_ uint32, id string) bool {
		out = append(out, id)
		return true
	})
	return out, nil
}

func pushdownMembers(ctx context.Context, tb *clickhouse.Table, where string) ([]string, error) {
	var out []string
	err := tb.Members(ctx, where, func(id string) error {
		out = append(out, id)
		return nil
	})
	return out, err
}

// diffSets describes how two sorted id lists differ ("" when equal).
func diffSets(a, b []string) string {
	in := func(x []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range x {
			m[s] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var onlyA, onlyB []string
	for _, s := range a {
		if !mb[s] {
			onlyA = append(onlyA, s)
		}
	}
	for _, s := range b {
		if !ma[s] {
			onlyB = append(onlyB, s)
		}
	}
	if len(onlyA) == 0 && len(onlyB) == 0 && len(a) == len(b) {
		return ""
	}
	return fmt.Sprintf("%d vs %d users; only in the first: %s; only in the second: %s",
		len(a), len(b), strings.Join(onlyA, " "), strings.Join(onlyB, " "))
}
