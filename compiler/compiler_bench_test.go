package compiler_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/compiler/compilertest"
)

func BenchmarkCompileExpr(b *testing.B) {
	s := diffSet(b)
	src := "tier == 'champion' AND ds1 < 7 OR 'a' IN l1 AND i1 BETWEEN 2 AND 5 AND s1 MATCHES '^mob'"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.CompileExpr(src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProgramMatch(b *testing.B) {
	s := diffSet(b)
	q, _ := s.CompileExpr("tier == 'champion' AND ds1 < 7 OR 'a' IN l1 AND i1 BETWEEN 2 AND 5")
	p, err := q.Program()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	u := map[string]any{"user_id": "u1", "tier": "champion", "t1": now.Unix() - 3600, "l1": []string{"a"}, "i1": int64(3)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Match(u, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
}

// BenchmarkCount evaluates a two-leaf cohort (equality AND time range) on a
// random population; the index does the work, the compiler plans.
func BenchmarkCount(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("users_%d", n), func(b *testing.B) {
			now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
			s := diffSet(b)
			users := compilertest.RandomUsers(rand.New(rand.NewPCG(1, 2)), s.Attributes(), n, now)
			for i, u := range users {
				u["user_id"] = fmt.Sprintf("u%08d", i)
			}
			ix := buildIndex(b, s, users)
			ev := compiler.NewEvaluator(s, ix)
			q, _ := s.CompileExpr("tier == 'champion' AND ds1 < 7")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := ev.Count(context.Background(), q, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
		})
	}
}
