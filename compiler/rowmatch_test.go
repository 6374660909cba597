package compiler_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/compiler/compilertest"
)

// TestRowMatcherMatchesProgram: the Tracker's native row matcher and the
// expr-lang program it stands in for agree on random expressions (every
// leaf kind, derived names, cohort references, static cohorts) for every
// user, and the matcher never needs the program on well-typed users.
func TestRowMatcherMatchesProgram(t *testing.T) {
	base := time.Date(2026, 1, 15, 12, 34, 56, 789_000_000, time.UTC)
	nows := []time.Time{base, base.Truncate(24 * time.Hour), base.Add(time.Second), base.Add(-86399 * time.Second)}
	n := 200
	if testing.Short() {
		n = 100
	}
	for seed := uint64(1); seed <= 2; seed++ {
		d := newDiffEnv(t, seed, 120, base)
		gen := &compilertest.Gen{Attrs: d.file.Attributes, Derived: d.file.Derived,
			Cohorts: []string{"c_sport", "c_ref", "vip", "c_deep"}, Now: base}
		r := rand.New(rand.NewPCG(seed, 17))
		members, checked := 0, 0
		for i := 0; i < n; i++ {
			src := gen.Expr(r)
			now := nows[r.IntN(len(nows))]
			q, err := d.set.CompileExpr(src)
			if err != nil {
				t.Fatalf("compile %q: %v", src, err)
			}
			prog, err := q.Program()
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range d.users {
				want, err := prog.Match(u, now)
				if err != nil {
					t.Fatalf("%q: program: %v", src, err)
				}
				got, ok, err := compiler.NativeMatch(q, u, now)
				if err != nil || !ok || got != want {
					t.Fatalf("%q at %s\n  user %s\n  expr %s\n  native %v (ok %v, err %v), program %v",
						src, now.Format(time.RFC3339), compilertest.FormatUser(u, d.file.Attributes), prog.Source(), got, ok, err, want)
				}
				checked++
				if want {
					members++
				}
			}
		}
		if members == 0 || members == checked {
			t.Fatalf("seed %d: %d of %d users matched: the test checks nothing", seed, members, checked)
		}
	}
}
