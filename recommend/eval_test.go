package recommend

import (
	"context"
	"testing"
	"time"

	"github.com/cohortd/cohortd/store/gen"
)

// TestEvaluateOnGeneratedData is the acceptance check at small scale: on
// data from `cohortd gen`, blended beats popularity by at least 30% on
// NDCG@10 (BENCHMARKS.md has the full-size run).
func TestEvaluateOnGeneratedData(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a population")
	}
	dir := t.TempDir()
	cfg := gen.Config{Users: 3000, Articles: 1200, Events: 60000, Seed: 3, Now: time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)}
	if err := gen.Generate(context.Background(), cfg, dir, nil); err != nil {
		t.Fatal(err)
	}
	sum, err := Evaluate(context.Background(), dir, EvalConfig{Users: 600, Seed: 1,
		Strategies: []Strategy{StrategyPopular, StrategyBlended, StrategyContent}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Evaluated != 600 || len(sum.Results) != 3 {
		t.Fatalf("summary %+v", sum)
	}
	pop, blended := sum.Results[0], sum.Results[1]
	for _, r := range sum.Results {
		t.Logf("%-8s HitRate@10 %.4f NDCG@10 %.4f coverage %.3f diversity %.3f", r.Strategy, r.HitRate, r.NDCG, r.Coverage, r.Diversity)
		if r.NDCG < 0 || r.NDCG > 1 || r.HitRate < r.NDCG-1e-9 || r.Coverage <= 0 || r.Coverage > 1 {
			t.Errorf("%s: implausible scores %+v", r.Strategy, r)
		}
	}
	if blended.NDCG < 1.3*pop.NDCG {
		t.Errorf("blended NDCG@10 %.4f is not ≥ 1.3 × popular's %.4f", blended.NDCG, pop.NDCG)
	}
}

func TestEvaluateNeedsData(t *testing.T) {
	if _, err := Evaluate(context.Background(), t.TempDir(), EvalConfig{}, nil); err == nil {
		t.Error("an empty directory was evaluated")
	}
}
