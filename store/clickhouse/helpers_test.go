package clickhouse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/dsl"
	"github.com/cohortd/cohortd/store/clickhouse"
)

// testAddr returns the ClickHouse of the tests (COHORTD_TEST_CLICKHOUSE,
// set by .ci/test). Without it the test is skipped, except under CI=true
// where it fails: CI must run the ClickHouse tests.
func testAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("COHORTD_TEST_CLICKHOUSE")
	if addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("COHORTD_TEST_CLICKHOUSE is not set but CI=true: run the tests with .ci/test, which starts ClickHouse")
		}
		t.Skip("set COHORTD_TEST_CLICKHOUSE=127.0.0.1:9000 to run the ClickHouse tests")
	}
	return addr
}

// testDB creates a database of its own for the test (dropped at the end)
// and returns a client whose tables live there.
func testDB(t testing.TB) *clickhouse.Client {
	t.Helper()
	addr := testAddr(t)
	ctx := context.Background()
	admin, err := clickhouse.Open(clickhouse.Config{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	db := fmt.Sprintf("cohortd_test_%d_%04x", time.Now().UnixNano(), rand.IntN(1<<16))
	if err := admin.Exec(ctx, "CREATE DATABASE "+clickhouse.Ident(db)); err != nil {
		t.Fatalf("cannot create the test database: %v", err)
	}
	c, err := clickhouse.Open(clickhouse.Config{Addr: addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+clickhouse.Ident(db)); err != nil {
			t.Errorf("cannot drop the test database %s: %v", db, err)
		}
		admin.Close()
	})
	return c
}

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
