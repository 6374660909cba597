package clickhouse_test

import (
	"context"
	"flag"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/compiler/compilertest"
	"github.com/cohortd/cohortd/store"
	"github.com/cohortd/cohortd/store/clickhouse"
)

var diffN = flag.Int("diff.n", 400, "random expressions in TestPushdownDifferential")

// diffYAML is the compiler's differential-test catalog, so the pushdown is
// checked on exactly the expressions the other backends are.
const diffYAML = compilertest.DiffCatalog

// TestPushdownDifferential loads random users (NULL-heavy, edge-case
// values) into ClickHouse with Load, reads them back with ReadIndex, and
// checks that (1) the index read from ClickHouse holds exactly the values
// of the index read from the same NDJSON, and (2) for hundreds of random
// expressions the bitmap plan over that index and the compiled SQL pushed
// down to ClickHouse select the same users, user by user.
func TestPushdownDifferential(t *testing.T) {
	c := testDB(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 15, 12, 34, 56, 0, time.UTC)
	set := compileYAML(t, diffYAML)
	attrs := set.File().Attributes
	r := rand.New(rand.NewPCG(11, 4))
	users := compilertest.RandomUsers(r, attrs, 300, now)
	clampTimes(users, attrs)
	path := writeNDJSON(t, users, attrs)

	st, err := c.Load(ctx, path, "users", set.Key(), set.Schema(), clickhouse.LoadOptions{BatchRows: 64})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if st.Rows != int64(len(users)) {
		t.Fatalf("Load inserted %d rows, want %d", st.Rows, len(users))
	}
	tb, err := c.Table(ctx, "users", set.Key(), set.Schema())
	if err != nil {
		t.Fatalf("Table: %v", err)
	}
	if !tb.Incremental() || tb.Engine() != "ReplacingMergeTree" {
		t.Errorf("the loaded table is %s, incremental %v; want a ReplacingMergeTree with updated_at", tb.Engine(), tb.Incremental())
	}
	ix, rst, err := tb.ReadIndex(ctx, clickhouse.ReadOptions{})
	if err != nil {
		t.Fatalf("ReadIndex: %v", err)
	}
	if rst.Rows != int64(len(users)) || ix.Len() != len(users) {
		t.Fatalf("ReadIndex read %d rows into %d users, want %d", rst.Rows, ix.Len(), len(users))
	}
	want, _, err := store.LoadUsers(ctx, path, set.Key(), set.Schema(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		key := u[set.Key()].(string)
		id1, ok1 := ix.Lookup(key)
		id2, ok2 := want.Lookup(key)
		if !ok1 || !ok2 {
			t.Fatalf("user %q: in ClickHouse index %v, in NDJSON index %v", key, ok1, ok2)
		}
		got, _ := ix.Row(id1)
		exp, _ := want.Row(id2)
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("user %q read from ClickHouse:\n  got  %#v\n  want %#v", key, got, exp)
		}
	}

	ev := compiler.NewEvaluator(set, ix)
	gen := &compilertest.Gen{Attrs: attrs, Derived: set.File().Derived,
		Cohorts: []string{"c_sport", "c_ref", "vip", "c_deep"}, Now: now}
	n := *diffN
	if testing.Short() {
		n = 60
	}
	fails := 0
	for i := 0; i < n && fails < 5; i++ {
		src := gen.Expr(r)
		q, err := set.CompileExpr(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		where, err := q.SQL(now)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := pushdownMembers(ctx, tb, where)
		if err != nil {
			fails++
			t.Errorf("%s\n  sql: %s\n  %v", src, where, err)
			continue
		}
		exp, err := indexMembers(ix, ev, q, now)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffSets(got, exp); d != "" {
			fails++
			t.Errorf("%s\n  sql: %s\n  pushdown vs bitmap plan: %s", src, where, d)
			continue
		}
		if i%8 == 0 {
			cnt, err := tb.Count(ctx, where)
			if err != nil || cnt != uint64(len(exp)) {
				fails++
				t.Errorf("%s: Count = %d, %v; want %d", src, cnt, err, len(exp))
			}
		}
	}
}
