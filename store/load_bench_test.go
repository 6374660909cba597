package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store/gen"
)

// benchData holds the populations generated for benchmarks, one temp dir
// per size, shared by the benchmarks of one run and removed by TestMain.
var benchData = struct {
	sync.Mutex
	dirs map[int]string
}{dirs: map[int]string{}}

// benchUsers generates n users with store/gen (once per n and process) and
// returns the users file.
func benchUsers(b *testing.B, n int) string {
	benchData.Lock()
	defer benchData.Unlock()
	if dir, ok := benchData.dirs[n]; ok {
		return filepath.Join(dir, "users.ndjson")
	}
	dir, err := os.MkdirTemp("", "cohortd-bench-")
	if err != nil {
		b.Fatal(err)
	}
	cfg := gen.Config{Users: n, Seed: 1, Now: time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)}
	if err := gen.Generate(context.Background(), cfg, dir, nil); err != nil {
		b.Fatal(err)
	}
	benchData.dirs[n] = dir
	return filepath.Join(dir, "users.ndjson")
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range benchData.dirs {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// BenchmarkReadUsers measures parsing alone (fn does nothing).
func BenchmarkReadUsers(b *testing.B) {
	for _, n := range []int{1e5, 1e6} {
		b.Run(fmt.Sprintf("users_%d", n), func(b *testing.B) {
			path := benchUsers(b, n)
			info, _ := os.Stat(path)
			b.ReportAllocs()
			b.SetBytes(info.Size())
			b.ResetTimer()
			for range b.N {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				st, err := ReadUsers(context.Background(), f, path, gen.Key, gen.Catalog(), Options{},
					func(string, bitmaps.Row) error { return nil })
				f.Close()
				if err != nil || st.Rows != int64(n) {
					b.Fatalf("rows %d, err %v", st.Rows, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
			b.ReportMetric(float64(info.Size())/float64(n), "bytes/user")
		})
	}
}

// BenchmarkLoadUsers measures a full load: parse, stage and build the index.
func BenchmarkLoadUsers(b *testing.B) {
	for _, n := range []int{1e5, 1e6} {
		b.Run(fmt.Sprintf("users_%d", n), func(b *testing.B) {
			path := benchUsers(b, n)
			info, _ := os.Stat(path)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				ix, _, err := LoadUsers(context.Background(), path, gen.Key, gen.Catalog(), Options{})
				if err != nil || ix.Len() != n {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
			b.ReportMetric(float64(info.Size())/float64(n), "bytes/user")
		})
	}
}
