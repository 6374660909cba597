package bitmaps

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"
)

// Benchmarks on brief-like data: run with
//
//	go test -run '^$' -bench . -benchtime 20x ./bitmaps/
//
// COHORTD_BENCH_10M=1 adds 10 million users (use -benchtime 1x for Build).
// The timings include generating the rows (fmt.Sprintf ids, random values).

var benchSchema = Schema{
	{"engagement_tier", KindString},
	{"engagement_score", KindFloat},
	{"visits_30d", KindInt},
	{"last_visit_at", KindTime},
	{"signup_at", KindTime},
	{"seasonal_match", KindBool},
	{"cohort_tags", KindStringList},
	{"peak_days", KindStringList},
	{"email_engagement", KindString},
	{"device_preference", KindString},
	{"peak_hour", KindInt},
}

// benchNow is the evaluation instant of the benchmark data.
var benchNow = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix()

func benchSizes() []int {
	sizes := []int{100_000, 1_000_000}
	if os.Getenv("COHORTD_BENCH_10M") == "1" {
		sizes = append(sizes, 10_000_000)
	}
	return sizes
}

// benchRows calls add for n brief-like users in random user_id order.
func benchRows(n int, add func(user string, row Row)) {
	r := rand.New(rand.NewPCG(42, uint64(n)))
	tiers := []string{"champion", "loyal", "casual", "dormant", "new"}
	tags := []string{"cyclist", "runner", "foodie", "traveller", "gamer", "reader", "parent", "student", "investor", "gardener",
		"photographer", "musician", "hiker", "swimmer", "chef", "coder", "artist", "fan", "collector", "volunteer"}
	days := []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	emails := []string{"highly_engaged", "moderate", "low", "unsubscribed"}
	devices := []string{"mobile", "desktop", "tablet"}
	perm := r.Perm(n)
	row := make(Row, len(benchSchema))
	for _, p := range perm {
		row[0] = tiers[r.IntN(len(tiers))]
		row[1] = r.Float64() * 100
		row[2] = int64(r.IntN(60))
		row[3] = benchNow - r.Int64N(365*86400)
		row[4] = benchNow - r.Int64N(5*365*86400)
		row[5] = r.IntN(2) == 0
		var ts []string
		for range r.IntN(4) {
			ts = append(ts, tags[r.IntN(len(tags))])
		}
		row[6] = ts
		var ds []string
		for range 1 + r.IntN(2) {
			ds = append(ds, days[r.IntN(len(days))])
		}
		row[7] = ds
		row[8] = emails[r.IntN(len(emails))]
		row[9] = devices[r.IntN(len(devices))]
		row[10] = int64(r.IntN(24))
		if r.IntN(10) == 0 {
			row[3] = nil // never visited
		}
		add(fmt.Sprintf("u%09d", p), row)
	}
}

func buildBench(n int) *Index {
	b := NewBuilder(benchSchema)
	benchRows(n, func(u string, row Row) {
		if err := b.Add(u, row); err != nil {
			panic(err)
		}
	})
	return b.Build()
}

var (
	benchMu      sync.Mutex
	benchIndexes = map[int]*Index{}
)

func benchIndex(b *testing.B, n int) *Index {
	benchMu.Lock()
	defer benchMu.Unlock()
	if ix, ok := benchIndexes[n]; ok {
		return ix
	}
	b.StopTimer()
	ix := buildBench(n)
	b.StartTimer()
	benchIndexes[n] = ix
	return ix
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("users_%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var ix *Index
			for b.Loop() {
				ix = buildBench(n)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
			b.ReportMetric(ix.Stats().BytesPerUser, "bytes/user")
		})
	}
}

var benchPlans = []struct {
	name string
	plan Node
}{
	{"eq_and_range", &And{Terms: []Node{
		&Eq{Field: "engagement_tier", Value: "champion"},
		&Range{Field: "last_visit_at", Lo: benchNow - 7*86400, LoIncl: false},
	}}},
	{"list_contains", &Eq{Field: "cohort_tags", Value: "cyclist"}},
	{"list_has_any", &ListHas{Field: "cohort_tags", Values: []string{"cyclist", "runner", "hiker"}}},
	{"in", &In{Field: "email_engagement", Values: []any{"highly_engaged", "moderate"}}},
	{"or_two_list_eq", &Or{Terms: []Node{
		&Eq{Field: "peak_days", Value: "Saturday"},
		&Eq{Field: "peak_days", Value: "Sunday"},
	}}},
	{"range_half", &Range{Field: "engagement_score", Lo: 30.0, Hi: 80.0, LoIncl: true, HiIncl: true}},
	{"eq_and_not_bool", &And{Terms: []Node{
		&Eq{Field: "engagement_tier", Value: "dormant"},
		&Not{X: &Eq{Field: "seasonal_match", Value: true}},
	}}},
	{"has_all_and_range_int", &And{Terms: []Node{
		&ListHas{Field: "cohort_tags", Values: []string{"cyclist", "runner"}, All: true},
		&Range{Field: "visits_30d", Lo: int64(10), LoIncl: true},
	}}},
}

func BenchmarkCount(b *testing.B) {
	for _, p := range benchPlans {
		b.Run(p.name, func(b *testing.B) {
			for _, n := range benchSizes() {
				b.Run(fmt.Sprintf("users_%d", n), func(b *testing.B) {
					ix := benchIndex(b, n)
					b.ReportAllocs()
					var c uint64
					for b.Loop() {
						c = ix.Count(p.plan)
					}
					b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
					b.ReportMetric(float64(c), "members")
				})
			}
		})
	}
}

func BenchmarkEval(b *testing.B) {
	for _, p := range benchPlans[:5] {
		b.Run(p.name, func(b *testing.B) {
			for _, n := range benchSizes() {
				b.Run(fmt.Sprintf("users_%d", n), func(b *testing.B) {
					ix := benchIndex(b, n)
					b.ReportAllocs()
					for b.Loop() {
						ix.Eval(p.plan)
					}
					b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
				})
			}
		})
	}
}

func BenchmarkUpsert(b *testing.B) {
	ix := benchIndex(b, 100_000)
	r := rand.New(rand.NewPCG(7, 7))
	row := Row{"loyal", 50.0, int64(3), benchNow, benchNow - 86400, true, []string{"cyclist"}, []string{"Monday"}, "low", "mobile", int64(9)}
	b.ReportAllocs()
	for b.Loop() {
		row[3] = benchNow - r.Int64N(86400)
		if _, err := ix.Upsert(fmt.Sprintf("u%09d", r.IntN(200_000)), row); err != nil {
			b.Fatal(err)
		}
	}
}
