package clickhouse_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/compiler/compilertest"
	"github.com/cohortd/cohortd/store/clickhouse"
	"github.com/cohortd/cohortd/store/clickhouse/chtest"
)

// execDDL runs DDL that may use LowCardinality, which ClickHouse before 19.x
// only allows with allow_experimental_low_cardinality_type.
func execDDL(t testing.TB, c *clickhouse.Client, ddl string) {
	t.Helper()
	ctx := context.Background()
	v, err := c.ServerVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(v, "18.") || strings.HasPrefix(v, "19.") {
		ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"allow_experimental_low_cardinality_type": 1}))
	}
	if err := c.Exec(ctx, ddl); err != nil {
		t.Fatalf("%s: %v", ddl, err)
	}
}

func insertRows(t testing.TB, c *clickhouse.Client, table, cols string, rows ...string) {
	t.Helper()
	chtest.InsertRows(t, c, table, cols, rows...)
}

// ownYAML is the catalog over ownDDL, a table cohortd did not create.
const ownYAML = `version: 1
attributes:
  uid:      {type: string, key: true}
  tier:     {type: string}
  nick:     {type: string}
  country:  {type: string}
  plan:     {type: string}
  plan2:    {type: string}
  visits:   {type: int}
  big:      {type: int}
  score:    {type: float}
  money:    {type: float}
  vip:      {type: bool}
  opt_in:   {type: bool}
  last:     {type: timestamp}
  seen:     {type: timestamp}
  born:     {type: timestamp}
  tags:     {type: "list<string>"}
  topics:   {type: "list<string>"}
derived:
  days_since_last: days_since(last)
cohorts:
  g:
    regulars: "visits >= 5 AND vip"
`

const ownDDL = `CREATE TABLE users (
  uid UInt64,
  tier LowCardinality(String),
  nick LowCardinality(Nullable(String)),
  country FixedString(2),
  plan Enum8('free' = 1, 'pro' = 2),
  plan2 Nullable(Enum16('a' = 1, 'b' = 1000)),
  visits UInt32,
  big Nullable(UInt64),
  score Nullable(Float32),
  money Decimal(9, 2),
  vip UInt8,
  opt_in Nullable(UInt8),
  last DateTime,
  seen Nullable(DateTime('UTC')),
  born Date,
  tags Array(String),
  topics Array(LowCardinality(String)),
  extra String,
  updated_at DateTime
) ENGINE = ReplacingMergeTree(updated_at) ORDER BY uid`

// TestOwnTable reads a table created by the test's own DDL — Nullable,
// LowCardinality, FixedString, Enum, Decimal, Date, DateTime and Array
// columns, an integer key, several versions of a user in a
// ReplacingMergeTree — and checks every value in the index, then that
// pushed-down SQL agrees with the index on it.
func TestOwnTable(t *testing.T) {
	c := testDB(t)
	ctx := context.Background()
	execDDL(t, c, ownDDL)
	cols := "uid, tier, nick, country, plan, plan2, visits, big, score, money, vip, opt_in, last, seen, born, tags, topics, extra, updated_at"
	// uid 1 has an old version (tier gold) replaced by a newer one.
	insertRows(t, c, "users", cols,
		`1, 'gold', NULL, 'US', 'pro', NULL, 7, 5, 0.5, CAST('12.34' AS Decimal(9, 2)), 1, NULL, '2026-01-10 08:00:00', NULL, '1990-05-17', ['a', 'b'], ['x'], 'e', '2026-01-01 00:00:00'`,
		`2, '', 'bob', 'D', 'free', 'b', 0, NULL, NULL, CAST('-1.5' AS Decimal(9, 2)), 0, 1, '2025-12-01 00:00:00', '2026-01-14 12:00:00', '2000-01-01', [], [], '', '2026-01-01 00:00:00'`,
		`3, 'silver', 'zoë', 'FR', 'pro', 'a', 4294967295, 9223372036854775807, -2.25, CAST('0' AS Decimal(9, 2)), 1, 0, '1970-01-01 00:00:01', 4294967295, '1970-01-01', ['日本', ''], ['y', 'x'], 'x', '2026-01-01 00:00:00'`,
		`1, 'platinum', NULL, 'US', 'pro', NULL, 8, 5, 0.5, CAST('12.34' AS Decimal(9, 2)), 1, NULL, '2026-01-10 08:00:00', NULL, '1990-05-17', ['a', 'b'], ['x'], 'e', '2026-01-02 00:00:00'`)
	set := compileYAML(t, ownYAML)
	tb, err := c.Table(ctx, "users", set.Key(), set.Schema())
	if err != nil {
		t.Fatalf("Table: %v", err)
	}
	if !tb.Incremental() {
		t.Error("the table has updated_at but Incremental() is false")
	}
	ix, st, err := tb.ReadIndex(ctx, clickhouse.ReadOptions{})
	if err != nil {
		t.Fatalf("ReadIndex: %v", err)
	}
	if ix.Len() != 3 || st.Rows != 3 {
		t.Fatalf("read %d rows into %d users, want 3 (FINAL merges the two versions of uid 1)", st.Rows, ix.Len())
	}
	if want := mustUnix("2026-01-02T00:00:00Z"); st.MaxUpdated != want {
		t.Errorf("MaxUpdated = %d, want %d", st.MaxUpdated, want)
	}
	want := map[string]bitmaps.Row{
		// tier nick country plan plan2 visits big score money vip opt_in last seen born tags topics
		"1": {"platinum", nil, "US", "pro", nil, int64(8), int64(5), 0.5, 12.34, true, nil,
			mustUnix("2026-01-10T08:00:00Z"), nil, mustUnix("1990-05-17T00:00:00Z"), []string{"a", "b"}, []string{"x"}},
		"2": {"", "bob", "D", "free", "b", int64(0), nil, nil, -1.5, false, true,
			mustUnix("2025-12-01T00:00:00Z"), mustUnix("2026-01-14T12:00:00Z"), mustUnix("2000-01-01T00:00:00Z"), nil, nil},
		"3": {"silver", "zoë", "FR", "pro", "a", int64(4294967295), int64(math.MaxInt64), -2.25, 0.0, true, false,
			int64(1), int64(math.MaxUint32), int64(0), []string{"日本", ""}, []string{"y", "x"}},
	}
	for key, exp := range want {
		id, ok := ix.Lookup(key)
		if !ok {
			t.Errorf("user %q missing from the index", key)
			continue
		}
		got, _ := ix.Row(id)
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("user %q:\n  got  %#v\n  want %#v", key, got, exp)
		}
	}

	// Merged into one part, the table is read without FINAL: same rows.
	if err := c.Exec(ctx, "OPTIMIZE TABLE users FINAL"); err != nil {
		t.Fatal(err)
	}
	merged, _, err := tb.ReadIndex(ctx, clickhouse.ReadOptions{})
	if err != nil {
		t.Fatalf("ReadIndex of the merged table: %v", err)
	}
	for key := range want {
		id1, _ := ix.Lookup(key)
		id2, ok := merged.Lookup(key)
		r1, _ := ix.Row(id1)
		r2, _ := merged.Row(id2)
		if !ok || merged.Len() != ix.Len() || !reflect.DeepEqual(r1, r2) {
			t.Errorf("user %q after OPTIMIZE: %#v, before: %#v", key, r2, r1)
		}
	}

	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	ev := compiler.NewEvaluator(set, ix)
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{expr: "tier == 'gold'", want: nil}, // the old version of uid 1
		{expr: "tier == 'platinum'", want: []string{"1"}},
		{expr: "country == 'D' AND country STARTS WITH 'D' AND country ENDS WITH 'D'", want: []string{"2"}},
		{expr: "plan IN ('pro', 'enterprise')", want: []string{"1", "3"}},
		{expr: "plan2 != 'a'", want: []string{"1", "2"}},
		{expr: "nick IS NULL", want: []string{"1"}},
		{expr: "big > 100", want: []string{"3"}},
		{expr: "money < 0 OR score < 0", want: []string{"2", "3"}},
		{expr: "vip AND NOT opt_in", want: []string{"1", "3"}},
		{expr: "born < '1971-01-01T00:00:00Z'", want: []string{"3"}},
		{expr: "days_since_last < 7", want: []string{"1"}},
		{expr: "'x' IN topics AND tags HAS ANY ('a', '日本')", want: []string{"1", "3"}},
		{expr: "tags IS NULL", want: []string{"2"}},
		{expr: "uid IN ('2', '3')", want: []string{"2", "3"}},
		{expr: "cohort('regulars')", want: []string{"1", "3"}},
	} {
		q, err := set.CompileExpr(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		where, err := q.SQL(now)
		if err != nil {
			t.Fatal(err)
		}
		pd, err := pushdownMembers(ctx, tb, where)
		if err != nil {
			t.Errorf("%s: pushdown: %v\n  %s", tc.expr, err, tb.MembersSQL(where))
			continue
		}
		bm, err := indexMembers(ix, ev, q, now)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffSets(pd, tc.want); d != "" {
			t.Errorf("%s: pushdown vs expected: %s\n  %s", tc.expr, d, tb.MembersSQL(where))
		}
		if d := diffSets(bm, tc.want); d != "" {
			t.Errorf("%s: bitmap plan vs expected: %s", tc.expr, d)
		}
	}

	// Random expressions over these columns: pushdown and index agree.
	gen := &compilertest.Gen{Attrs: set.File().Attributes, Derived: set.File().Derived, Cohorts: []string{"regulars"}, Now: now}
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 100; i++ {
		src := gen.Expr(r)
		q, err := set.CompileExpr(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		where, err := q.SQL(now)
		if err != nil {
			t.Fatal(err)
		}
		pd, err := pushdownMembers(ctx, tb, where)
		if err != nil {
			t.Fatalf("%s: %v\n  %s", src, err, tb.MembersSQL(where))
		}
		bm, err := indexMembers(ix, ev, q, now)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffSets(pd, bm); d != "" {
			t.Errorf("%s: pushdown vs bitmap plan: %s\n  %s", src, d, tb.MembersSQL(where))
		}
	}
}

func mustUnix(s string) int64 {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return tm.Unix()
}

// TestSchemaMismatch: a table that does not fit the catalog is one error
// naming every column at fault.
func TestSchemaMismatch(t *testing.T) {
	c := testDB(t)
	ctx := context.Background()
	execDDL(t, c, `CREATE TABLE users (uid Nullable(String), tier Int32, visits String,
		tags Array(Nullable(String)), vip Int16, last String, score Nullable(Float64)) ENGINE = Memory`)
	set := compileYAML(t, `version: 1
attributes:
  uid:    {type: string, key: true}
  tier:   {type: string}
  visits: {type: int}
  tags:   {type: "list<string>"}
  vip:    {type: bool}
  last:   {type: timestamp}
  score:  {type: float}
  gone:   {type: int}
cohorts:
  c: "visits > 1"
`)
	_, err := c.Table(ctx, "users", set.Key(), set.Schema())
	var se *clickhouse.SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("Table error = %v, want a *SchemaError", err)
	}
	msg := err.Error()
	for _, col := range []string{"`uid`", "`tier`", "`visits`", "`tags`", "`vip`", "`last`", "`gone`"} {
		if !strings.Contains(msg, col) {
			t.Errorf("the error does not name column %s:\n%s", col, msg)
		}
	}
	if strings.Contains(msg, "`score`") {
		t.Errorf("the error names column score, which fits:\n%s", msg)
	}
	if len(se.Problems) != 7 {
		t.Errorf("got %d problems, want 7:\n%s", len(se.Problems), msg)
	}
	if clickhouse.Transient(err) {
		t.Error("a schema mismatch is reported as transient (would be retried forever)")
	}

	_, err = c.Table(ctx, "nope", set.Key(), set.Schema())
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing table: error = %v, want a *SchemaError saying it does not exist", err)
	}
}

// TestBadRows: values the index cannot hold fail the read naming the user
// and column, or are skipped and counted with SkipBadRows.
func TestBadRows(t *testing.T) {
	set := compileYAML(t, `version: 1
attributes:
  uid: {type: string, key: true}
  b:   {type: bool}
  n:   {type: int}
  f:   {type: float}
cohorts:
  c: "b"
`)
	for _, tc := range []struct {
		name   string
		engine string
		rows   []string
		user   string // named by the error
		good   string // a good row, kept when skipping
		column string
		msg    string
	}{
		{name: "bool not 0 or 1", engine: "Memory", rows: []string{"'u1', 1, 1, 1", "'u2', 2, 1, 1"}, user: "u2", good: "u1", column: "b", msg: "not a bool"},
		{name: "uint64 beyond int64", engine: "Memory", rows: []string{"'u1', 1, 18446744073709551615, 1", "'u2', 0, 1, 1"}, user: "u1", good: "u2", column: "n", msg: "does not fit"},
		{name: "nan", engine: "Memory", rows: []string{"'u1', 1, 1, nan", "'u2', 0, 1, 1"}, user: "u1", good: "u2", column: "f", msg: "not a finite number"},
		{name: "duplicate key", engine: "MergeTree() ORDER BY uid", rows: []string{"'u1', 1, 1, 1", "'u1', 0, 1, 1", "'u2', 0, 1, 1"}, user: "u1", good: "u2", msg: "ReplacingMergeTree"},
		{name: "empty key", engine: "Memory", rows: []string{"'', 1, 1, 1", "'u2', 0, 1, 1"}, good: "u2", column: "uid", msg: "empty key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testDB(t)
			ctx := context.Background()
			execDDL(t, c, "CREATE TABLE users (uid String, b UInt8, n UInt64, f Float64) ENGINE = "+tc.engine)
			insertRows(t, c, "users", "uid, b, n, f", tc.rows...)
			tb, err := c.Table(ctx, "users", set.Key(), set.Schema())
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = tb.ReadIndex(ctx, clickhouse.ReadOptions{})
			var re *clickhouse.RowError
			if !errors.As(err, &re) {
				t.Fatalf("ReadIndex error = %v, want a *RowError", err)
			}
			if re.UserID != tc.user || re.Column != tc.column || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q names user %q column %q; want user %q column %q and %q", err, re.UserID, re.Column, tc.user, tc.column, tc.msg)
			}
			ix, st, err := tb.ReadIndex(ctx, clickhouse.ReadOptions{SkipBadRows: true})
			if err != nil {
				t.Fatalf("ReadIndex with SkipBadRows: %v", err)
			}
			if st.Skipped != 1 || len(st.FirstErrors) != 1 {
				t.Errorf("skipped %d rows (%v), want 1", st.Skipped, st.FirstErrors)
			}
			if _, ok := ix.Lookup(tc.good); !ok {
				t.Errorf("the good row %s is missing after skipping the bad one", tc.good)
			}
			if tc.name == "duplicate key" {
				// Pushdown never counts a user twice.
				n, err := tb.Count(ctx, "1")
				var ids []string
				merr := tb.Members(ctx, "1", func(id string) error { ids = append(ids, id); return nil })
				if err != nil || merr != nil || n != 2 || strings.Join(ids, ",") != "u1,u2" {
					t.Errorf("pushdown over duplicate rows: count %d (%v), members %v (%v); want 2, u1,u2", n, err, ids, merr)
				}
			}
		})
	}
}

// TestDistributed reads and pushes down through a Distributed table over a
// ReplacingMergeTree (a one-shard cluster of the local server): versions of
// a user are merged with FINAL on the shard.
func TestDistributed(t *testing.T) {
	c := testDB(t)
	ctx := context.Background()
	execDDL(t, c, "CREATE TABLE users (user_id String, visits Nullable(Int64), updated_at DateTime) ENGINE = ReplacingMergeTree(updated_at) ORDER BY user_id")
	err := c.Exec(ctx, "CREATE TABLE users_all AS users ENGINE = Distributed(test_shard_localhost, "+clickhouse.Ident(c.Database())+", users, cityHash64(user_id))")
	if err != nil && strings.Contains(err.Error(), "test_shard_localhost") {
		t.Skipf("the server defines no test_shard_localhost cluster: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	insertRows(t, c, "users", "user_id, visits, updated_at", "'a', 1, toDateTime(1)", "'b', 5, toDateTime(1)")
	insertRows(t, c, "users", "user_id, visits, updated_at", "'a', 7, toDateTime(2)")
	set := compileYAML(t, `version: 1
attributes:
  user_id: {type: string, key: true}
  visits:  {type: int}
cohorts:
  c: "visits > 3"
`)
	tb, err := c.Table(ctx, "users_all", set.Key(), set.Schema())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tb.From(), " FINAL") {
		t.Errorf("a Distributed table over a ReplacingMergeTree is read without FINAL: %s", tb.From())
	}
	ix, _, err := tb.ReadIndex(ctx, clickhouse.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := ix.Lookup("a")
	if ix.Len() != 2 || ix.Value(id, "visits") != int64(7) {
		t.Errorf("read %d users, a has visits %v; want 2 users and the latest a (7)", ix.Len(), ix.Value(id, "visits"))
	}
	for where, want := range map[string]uint64{"ifNull(`visits` > 3, 0)": 2, "ifNull(`visits` = 1, 0)": 0} {
		if n, err := tb.Count(ctx, where); err != nil || n != want {
			t.Errorf("Count(%s) = %d, %v; want %d", where, n, err, want)
		}
	}
}
