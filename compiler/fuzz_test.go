package compiler_test

import (
	"context"
	"testing"
	"time"
)

// FuzzCompileExpr: no input panics; whatever compiles also prints, plans,
// runs and has a normal form that compiles to itself.
func FuzzCompileExpr(f *testing.F) {
	for _, s := range goldenQueries {
		f.Add(s)
	}
	for _, s := range []string{"i1 < 9223372036854775808.0", "days_since(t1) IN (9223372036854775807)", "t1 > now() + 2562047h",
		"f1 > 9007199254740993", "NOT (NOT (b1))", "hot AND active OR cohort('c_deep')", "s1 MATCHES '\\\\Q('"} {
		f.Add(s)
	}
	d := newDiffEnv(f, 1, 40, goldenNow)
	f.Fuzz(func(t *testing.T, src string) {
		q, err := d.set.CompileExpr(src)
		if err != nil {
			return
		}
		norm := q.String()
		q2, err := d.set.CompileExpr(norm)
		if err != nil {
			t.Fatalf("normal form %q of %q does not compile: %v", norm, src, err)
		}
		if q2.String() != norm {
			t.Fatalf("normal form not stable: %q → %q", norm, q2.String())
		}
		p, err := q.Program()
		if err != nil {
			t.Fatalf("Program(%q): %v", src, err)
		}
		if _, err := q.SQL(goldenNow); err != nil {
			t.Fatalf("SQL(%q): %v", src, err)
		}
		for _, now := range []time.Time{goldenNow, time.Unix(1<<40, 0), time.Unix(-1<<40, 0)} {
			b, err := d.ev.Members(context.Background(), q, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range d.users {
				m, err := p.Match(u, now)
				if err != nil {
					t.Fatalf("Match: %v", err)
				}
				id, _ := d.ix.Lookup(u["user_id"].(string))
				if m != b.Contains(id) {
					t.Fatalf("%q at %v: user %v: program %v, plan %v", src, now, u["user_id"], m, !m)
				}
			}
		}
	})
}
