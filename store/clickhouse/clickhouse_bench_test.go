package clickhouse_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/store/clickhouse"
	"github.com/cohortd/cohortd/store/clickhouse/chtest"
	"github.com/cohortd/cohortd/store/gen"
)

// benchUsersFlag sizes the benchmarks' populations, e.g.
//
//	go test ./store/clickhouse -run '^$' -bench . -benchtime 1x -ch.bench.users 10000000
var benchUsersFlag = flag.String("ch.bench.users", "100000", "comma-separated population sizes of the ClickHouse benchmarks")

// benchTableFlag names an existing table (loaded with `cohortd load` from
// the root cohorts.yaml's catalog) that BenchmarkReadIndex reads instead of
// generating and loading one, e.g. for the 10M figure:
//
//	cohortd gen --out /tmp/d10m --users 10000000
//	cohortd load --data /tmp/d10m --clickhouse 127.0.0.1:9000 --table users10m
//	go test ./store/clickhouse -run '^$' -bench ReadIndex -benchtime 1x -ch.bench.table users10m
var benchTableFlag = flag.String("ch.bench.table", "", "an existing table of the default database for BenchmarkReadIndex (with -ch.bench.users ignored)")

func benchSizes(b *testing.B) []int {
	var out []int
	for _, s := range strings.Split(*benchUsersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			b.Fatalf("bad -ch.bench.users %q", *benchUsersFlag)
		}
		out = append(out, n)
	}
	return out
}

var benchNow = time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)

// benchTable generates n users with store/gen, loads them into a fresh
// database with Load (reporting its rate) and returns the bound table and
// the root cohorts.yaml compiled.
func benchTable(b *testing.B, n int) (*clickhouse.Table, *compiler.Set) {
	b.Helper()
	c := testDB(b)
	ctx := context.Background()
	set, err := compiler.Load(filepath.Join("..", "..", "cohorts.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := gen.Generate(ctx, gen.Config{Users: n, Seed: 1, Now: benchNow}, dir, nil); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	st, err := c.Load(ctx, dir, "users", set.Key(), set.Schema(), clickhouse.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("Load: %d users in %v (%.0f users/s)", st.Rows, time.Since(start).Round(time.Millisecond), float64(st.Rows)/time.Since(start).Seconds())
	os.RemoveAll(dir)
	// Merge the parts, as a long-lived table would be (FINAL reads less).
	if err := c.Exec(ctx, "OPTIMIZE TABLE "+c.QualifiedName("users")+" FINAL"); err != nil {
		b.Fatal(err)
	}
	tb, err := c.Table(ctx, "users", set.Key(), set.Schema())
	if err != nil {
		b.Fatal(err)
	}
	return tb, set
}

// BenchmarkReadIndex reads every user of a ClickHouse table into a new
// index (what serve does at start-up and on a full refresh).
func BenchmarkReadIndex(b *testing.B) {
	if *benchTableFlag != "" {
		benchReadExisting(b, *benchTableFlag)
		return
	}
	for _, n := range benchSizes(b) {
		b.Run(fmt.Sprintf("users_%d", n), func(b *testing.B) {
			tb, _ := benchTable(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				ix, _, err := tb.ReadIndex(context.Background(), clickhouse.ReadOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if ix.Len() != n {
					b.Fatalf("read %d users, want %d", ix.Len(), n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
		})
	}
}

// BenchmarkCohortCount times each cohort of the root cohorts.yaml counted
// by the pushed-down SQL in ClickHouse (pushdown) beside the bitmap plan
// over the index read from the same table (bitmap).
func BenchmarkCohortCount(b *testing.B) {
	for _, n := range benchSizes(b) {
		tb, set := benchTable(b, n)
		ix, _, err := tb.ReadIndex(context.Background(), clickhouse.ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for _, co := range set.Cohorts() {
			if co.Query == nil {
				continue
			}
			where, err := co.Query.SQL(benchNow)
			if err != nil {
				b.Fatal(err)
			}
			want, err := compiler.NewEvaluator(set, ix).Count(context.Background(), co.Query, benchNow)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("users_%d/%s/pushdown", n, co.Name), func(b *testing.B) {
				for range b.N {
					got, err := tb.Count(context.Background(), where)
					if err != nil {
						b.Fatal(err)
					}
					if got != want {
						b.Fatalf("pushdown counted %d, bitmap plan %d", got, want)
					}
				}
			})
			b.Run(fmt.Sprintf("users_%d/%s/bitmap", n, co.Name), func(b *testing.B) {
				for range b.N {
					// A new evaluator each time: no cached cohort bitmaps.
					if _, err := compiler.NewEvaluator(set, ix).Count(context.Background(), co.Query, benchNow); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// benchReadExisting reads the existing table name (of the database
// COHORTD_TEST_CLICKHOUSE's server calls default) into an index.
func benchReadExisting(b *testing.B, name string) {
	c, err := clickhouse.Open(clickhouse.Config{Addr: chtest.Addr(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	set, err := compiler.Load(filepath.Join("..", "..", "cohorts.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	tb, err := c.Table(ctx, name, set.Key(), set.Schema())
	if err != nil {
		b.Fatal(err)
	}
	n, err := tb.CountRows(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Run(fmt.Sprintf("table_%s", name), func(b *testing.B) {
		b.ReportAllocs()
		var ix *bitmaps.Index
		for b.Loop() {
			ix = nil
			runtime.GC()
			if ix, _, err = tb.ReadIndex(ctx, clickhouse.ReadOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		if int64(ix.Len()) != n {
			b.Fatalf("read %d users, want %d", ix.Len(), n)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/read")
	})
}
