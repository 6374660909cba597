package bitmaps

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentReadersAndWriter runs readers against a writer (use -race).
// The writer keeps an invariant inside each write: vip is true exactly when
// tier is "champion". A reader that saw half a write would find a champion
// without vip (or the reverse); a count and its Eval must also agree.
func TestConcurrentReadersAndWriter(t *testing.T) {
	for _, dense := range []bool{false, true} {
		t.Run(fmt.Sprintf("dense=%v", dense), func(t *testing.T) {
			if dense {
				// Dense structures, the dense evaluator and the sorted
				// boundary buckets, read concurrently with the writes.
				setDenseMin(t, 1)
				setMinBucket(t, 8)
			}
			concurrentReadersAndWriter(t)
		})
	}
}

func concurrentReadersAndWriter(t *testing.T) {
	schema := Schema{{"tier", KindString}, {"vip", KindBool}, {"n", KindInt}}
	b := NewBuilder(schema)
	row := func(i int) Row {
		if i%3 == 0 {
			return Row{"champion", true, int64(i)}
		}
		return Row{"loyal", false, int64(i)}
	}
	for i := range 1000 {
		if err := b.Add(fmt.Sprintf("u%05d", i), row(i)); err != nil {
			t.Fatal(err)
		}
	}
	ix := b.Build()
	broken := &Or{Terms: []Node{
		&And{Terms: []Node{&Eq{Field: "tier", Value: "champion"}, &Not{X: &Eq{Field: "vip", Value: true}}}},
		&And{Terms: []Node{&Eq{Field: "vip", Value: true}, &Not{X: &Eq{Field: "tier", Value: "champion"}}}},
	}}
	ranged := &And{Terms: []Node{&Eq{Field: "tier", Value: "loyal"}, &Range{Field: "n", Lo: int64(100), Hi: int64(5000), LoIncl: true}}}

	var stop atomic.Bool
	var writer, readers sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		for i := 0; !stop.Load(); i++ {
			u := fmt.Sprintf("u%05d", (i*7)%1500)
			switch i % 5 {
			case 0:
				ix.Delete(u)
			default:
				if _, err := ix.Upsert(u, row(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for r := range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for range 60 {
				if c := ix.Count(broken); c != 0 {
					t.Errorf("reader %d saw a half-applied write: %d users", r, c)
					return
				}
				e := ix.Eval(ranged)
				if !e.IsEmpty() {
					id := e.Minimum()
					if row, ok := ix.Row(id); ok && row[0] == "champion" {
						// The user may have been rewritten since; that is fine,
						// but a row must always be self-consistent.
						if row[1] != true {
							t.Errorf("inconsistent row %v", row)
							return
						}
					}
				}
				prev := ""
				ix.Iterate(e, "", func(_ uint32, u string) bool {
					if u <= prev {
						t.Errorf("Iterate out of order: %q after %q", u, prev)
					}
					prev = u
					return true
				})
				if n := ix.Count(ranged); n > 1500 {
					t.Errorf("Count(ranged) = %d", n)
				}
				_ = ix.TopValues("tier", e, 2)
				_, _ = ix.Sum("n", e)
				_ = ix.Estimate(ranged)
				_ = ix.Stats()
			}
		}()
	}
	readers.Wait()
	stop.Store(true)
	writer.Wait()
}
