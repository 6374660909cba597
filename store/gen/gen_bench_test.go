package gen_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cohortd/cohortd/store/gen"
)

// BenchmarkGenerate writes n users plus n/50 articles and n events.
func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{1e5, 1e6} {
		b.Run(fmt.Sprintf("users_%d", n), func(b *testing.B) {
			cfg := gen.Config{Users: n, Articles: n / 50, Events: n, Seed: 1, Now: now}
			dir := b.TempDir()
			b.ReportAllocs()
			for range b.N {
				if err := gen.Generate(context.Background(), cfg, dir, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
		})
	}
}

func BenchmarkUsers(b *testing.B) {
	cfg := gen.Config{Users: 1e5, Seed: 1, Now: now}
	b.ReportAllocs()
	for range b.N {
		if err := gen.Users(cfg, func(map[string]any) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cfg.Users)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
}
