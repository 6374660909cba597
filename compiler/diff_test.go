package compiler_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/compiler/compilertest"
	"github.com/cohortd/cohortd/dsl"
)

var diffN = flag.Int("diff.n", 1000, "expressions per seed in TestDifferential")

// diffYAML is the catalog of the differential tests (compilertest.DiffCatalog).
const diffYAML = compilertest.DiffCatalog

type diffEnv struct {
	file  *dsl.File
	set   *compiler.Set
	users []map[string]any
	ix    *bitmaps.Index
	ev    *compiler.Evaluator
}

func newDiffEnv(t testing.TB, seed uint64, n int, now time.Time) *diffEnv {
	t.Helper()
	f, err := dsl.ParseData("diff.yaml", []byte(diffYAML))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	set, err := compiler.Compile(f)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	users := compilertest.RandomUsers(r, f.Attributes, n, now)
	ix := buildIndex(t, set, users)
	return &diffEnv{file: f, set: set, users: users, ix: ix, ev: compiler.NewEvaluator(set, ix)}
}

func buildIndex(t testing.TB, set *compiler.Set, users []map[string]any) *bitmaps.Index {
	t.Helper()
	schema := set.Schema()
	b := bitmaps.NewBuilder(schema)
	for _, u := range users {
		row := make(bitmaps.Row, len(schema))
		for i, f := range schema {
			row[i] = u[f.Name]
		}
		if err := b.Add(u[set.Key()].(string), row); err != nil {
			t.Fatalf("add %v: %v", u[set.Key()], err)
		}
	}
	return b.Build()
}

// check compares the bitmap plan, the expr program and the reference on
// every user; it returns a description of the first disagreement.
func (d *diffEnv) check(src string, now time.Time) string {
	q, err := d.set.CompileExpr(src)
	if err != nil {
		return fmt.Sprintf("compile: %v", err)
	}
	e, err := dsl.ParseExpr(src)
	if err != nil {
		return fmt.Sprintf("parse: %v", err)
	}
	prog, err := q.Program()
	if err != nil {
		return fmt.Sprintf("program: %v", err)
	}
	ref := compilertest.NewRef(d.file, now)
	ref.Prepare(e)
	got, err := d.ev.Members(context.Background(), q, now)
	if err != nil {
		return fmt.Sprintf("members: %v", err)
	}
	cnt, err := d.ev.Count(context.Background(), q, now)
	if err != nil {
		return fmt.Sprintf("count: %v", err)
	}
	if cnt != got.GetCardinality() {
		return fmt.Sprintf("Count %d != |Members| %d", cnt, got.GetCardinality())
	}
	want := roaring.New()
	for _, u := range d.users {
		id, _ := d.ix.Lookup(u["user_id"].(string))
		exp := ref.Eval(e, u)
		if exp {
			want.Add(id)
		}
		m, err := prog.Match(u, now)
		if err != nil {
			return fmt.Sprintf("match: %v\nexpr: %s", err, prog.Source())
		}
		plan := got.Contains(id)
		if m != exp || plan != exp {
			return fmt.Sprintf("user %s: reference %v, bitmap plan %v, expr program %v\n  user: %s\n  normal form: %s\n  expr: %s\n  plan:\n%s",
				u["user_id"], exp, plan, m, compilertest.FormatUser(u, d.file.Attributes), q, prog.Source(),
				indent(d.ev.Explain(q, now)))
		}
	}
	if !want.Equals(got) {
		return fmt.Sprintf("member sets differ: want %v got %v", want.ToArray(), got.ToArray())
	}
	return ""
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// TestDifferential is the backbone: for thousands of random expressions the
// bitmap plan (Evaluator.Members), the expr-lang program (Match per user) and
// the naive reference evaluator agree user by user.
func TestDifferential(t *testing.T) {
	base := time.Date(2026, 1, 15, 12, 34, 56, 789_000_000, time.UTC)
	nows := []time.Time{base, base.Truncate(24 * time.Hour), base.Add(time.Second), base.Add(-86399 * time.Second)}
	for seed := uint64(1); seed <= 2; seed++ {
		d := newDiffEnv(t, seed, 160, base)
		gen := &compilertest.Gen{Attrs: d.file.Attributes, Derived: d.file.Derived,
			Cohorts: []string{"c_sport", "c_ref", "vip", "c_deep"}, Now: base}
		r := rand.New(rand.NewPCG(seed, 99))
		fails := 0
		n := *diffN
		if testing.Short() {
			n /= 5
		}
		for i := 0; i < n && fails < 5; i++ {
			src := gen.Expr(r)
			now := nows[r.IntN(len(nows))]
			if msg := d.check(src, now); msg != "" {
				fails++
				t.Errorf("seed %d #%d at %s\n  %s\n%s", seed, i, now.Format(time.RFC3339Nano), src, msg)
			}
		}
	}
}
