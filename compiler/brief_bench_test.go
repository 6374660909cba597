package compiler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/store"
)

// The brief's ten cohorts over gen's realistic population (the root
// cohorts.yaml), at 1M users and — with COHORTD_BENCH_10M=1 — 10M users:
//
//	go test ./compiler -run '^$' -bench Brief -benchtime 200x
//	COHORTD_BENCH_10M=1 go test ./compiler -run '^$' -bench Brief -benchtime 200x -timeout 60m
var briefCohorts = []string{
	"champion", "at_risk", "dormant", "winback",
	"cyclists", "multi_sport", "gear_enthusiasts",
	"newsletter_engaged", "app_users", "weekend_readers",
}

// benchNow is the instant gen's default population is generated relative to.
var benchNow = time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)

func benchSizes() []int {
	sizes := []int{1_000_000}
	if os.Getenv("COHORTD_BENCH_10M") != "" {
		sizes = append(sizes, 10_000_000)
	}
	return sizes
}

type briefFixture struct {
	set *compiler.Set
	ix  *bitmaps.Index
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[int]*briefFixture{}
)

// briefIndex builds (once per size) the demo population of n users for the
// root catalog.
func briefIndex(b *testing.B, n int) *briefFixture {
	b.Helper()
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f, ok := fixtures[n]; ok {
		return f
	}
	set, err := compiler.Load(filepath.Join("..", "cohorts.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	ix, _, err := store.LoadDemo(context.Background(), set.Key(), set.Schema(),
		store.DemoOptions{Users: n, Seed: 1, Now: benchNow})
	if err != nil {
		b.Fatal(err)
	}
	f := &briefFixture{set: set, ix: ix}
	fixtures[n] = f
	return f
}

// BenchmarkBriefCount counts each brief cohort with no cache (the plan is
// evaluated from the attribute bitmaps every time).
func BenchmarkBriefCount(b *testing.B) {
	for _, n := range benchSizes() {
		f := briefIndex(b, n)
		for _, name := range briefCohorts {
			c, ok := f.set.Cohort(name)
			if !ok {
				b.Fatalf("no cohort %q in cohorts.yaml", name)
			}
			b.Run(fmt.Sprintf("users_%d/%s", n, name), func(b *testing.B) {
				b.ReportAllocs()
				var got uint64
				lat := make([]time.Duration, 0, 1024)
				for b.Loop() {
					ev := compiler.NewEvaluator(f.set, f.ix) // fresh: no cached cohort bitmaps
					start := time.Now()
					got, _ = ev.Count(context.Background(), c.Query, benchNow)
					lat = append(lat, time.Since(start))
				}
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				med := lat[len(lat)/2]
				b.ReportMetric(float64(med.Nanoseconds())/1e6, "median-ms")
				b.ReportMetric(float64(n)/med.Seconds(), "users/s")
				b.ReportMetric(float64(got), "members")
			})
		}
	}
}

// BenchmarkBriefUserCohorts is one user's membership across every cohort of
// the root file, from cached cohort bitmaps (the server's path).
func BenchmarkBriefUserCohorts(b *testing.B) {
	for _, n := range benchSizes() {
		f := briefIndex(b, n)
		ev := compiler.NewEvaluator(f.set, f.ix)
		var ids []string
		f.ix.Iterate(f.ix.Universe(), "", func(_ uint32, id string) bool {
			ids = append(ids, id)
			return len(ids) < 1000
		})
		if _, err := ev.UserCohorts(context.Background(), ids[0], benchNow); err != nil { // warm the cache
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("users_%d/cohorts_%d", n, len(f.set.Cohorts())), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := ev.UserCohorts(context.Background(), ids[i%len(ids)], benchNow); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkBriefIndexBytes reports the index's size per user.
func BenchmarkBriefIndexBytes(b *testing.B) {
	for _, n := range benchSizes() {
		f := briefIndex(b, n)
		b.Run(fmt.Sprintf("users_%d", n), func(b *testing.B) {
			for b.Loop() {
				runtime.KeepAlive(f.ix.Stats())
			}
			st := f.ix.Stats()
			b.ReportMetric(st.BytesPerUser, "bytes/user")
			b.ReportMetric(float64(st.BitmapBytes)/float64(n), "bitmap-bytes/user")
			b.ReportMetric(float64(st.ColumnBytes)/float64(n), "column-bytes/user")
		})
	}
}
