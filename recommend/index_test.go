package recommend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// lowRank makes n unit vectors of dim dimensions lying near a rank-r
// subspace, like the embeddings of a real model (the hard case for
// quantisation bounds is dense vectors, and for HNSW high intrinsic
// dimension).
func lowRank(n, dim, rank int, seed uint64) []Item {
	basis := rand.New(rand.NewPCG(99, 1))
	a := make([][]float64, dim)
	for i := range a {
		a[i] = make([]float64, rank)
		for j := range a[i] {
			a[i][j] = basis.NormFloat64()
		}
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	base := fixtureNow.Add(-400 * day)
	items := make([]Item, n)
	for i := range items {
		z := make([]float64, rank)
		for j := range z {
			z[j] = rng.NormFloat64()
		}
		v := make([]float64, dim)
		for r := range v {
			for j := range z {
				v[r] += a[r][j] * z[j]
			}
			v[r] += 0.1 * rng.NormFloat64()
		}
		items[i] = Item{ID: fmt.Sprintf("x%05d", i), Vector: unit(v), PublishedAt: base.Add(time.Duration(rng.IntN(400*24)) * time.Hour)}
	}
	return items
}

// bruteForce is the reference top k.
func bruteForce(items []Item, q []float32, k int, f Filter) []Hit {
	ex := map[string]bool{}
	for _, id := range f.Exclude {
		ex[id] = true
	}
	var hits []Hit
	for _, it := range items {
		if ex[it.ID] || !f.PublishedAfter.IsZero() && it.PublishedAt.Before(f.PublishedAfter) ||
			!f.PublishedBefore.IsZero() && it.PublishedAt.After(f.PublishedBefore) {
			continue
		}
		var s float64
		for i := range q {
			s += float64(q[i]) * float64(it.Vector[i])
		}
		hits = append(hits, Hit{ID: it.ID, Score: float32(s)})
	}
	sortHits(hits)
	return hits[:min(k, len(hits))]
}

// sameTopK compares by score (ties may order differently).
func sameTopK(t *testing.T, got, want []Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d hits, want %d", len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i].Score-want[i].Score)) > 1e-5 {
			t.Fatalf("hit %d: %s %.6f, want %s %.6f", i, got[i].ID, got[i].Score, want[i].ID, want[i].Score)
		}
	}
}

func lexicalItems(n int) []Item {
	w := newWorld(11, n, 0, 0)
	e := NewLexicalEmbedder(LexicalDim, nil)
	items := make([]Item, len(w.arts))
	for i, a := range w.arts {
		items[i] = Item{ID: a.ID, Vector: e.EmbedOne(Document{Title: a.Title, Topics: a.Topics}), PublishedAt: a.PublishedAt}
	}
	return items
}

func TestExactIndexIsExact(t *testing.T) {
	ctx := context.Background()
	defer func(n int) { rowsPerWorker = n }(rowsPerWorker)
	rowsPerWorker = 1000 // exercise the parallel scan and its merge
	for _, tc := range []struct {
		name  string
		items []Item
		dim   int
	}{
		{name: "dense low-rank 768", items: lowRank(5000, 768, 32, 1), dim: 768},
		{name: "lexical (sparse, many ties)", items: lexicalItems(8000), dim: LexicalDim},
		{name: "odd dimension", items: lowRank(500, 13, 4, 2), dim: 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := NewExactIndex(tc.dim)
			if err := x.Upsert(ctx, tc.items...); err != nil {
				t.Fatal(err)
			}
			mid := fixtureNow.Add(-200 * day)
			filters := []Filter{
				{},
				{Exclude: []string{tc.items[0].ID, tc.items[5].ID, "nope"}},
				{PublishedAfter: mid, PublishedBefore: mid.Add(30 * day)},
			}
			for qi := range 8 {
				q := tc.items[(qi*977)%len(tc.items)].Vector
				for _, f := range filters {
					for _, k := range []int{1, 10, 100} {
						got, err := x.Search(ctx, q, k, f)
						if err != nil {
							t.Fatal(err)
						}
						sameTopK(t, got, bruteForce(tc.items, q, k, f))
						for _, h := range got {
							if slices.Contains(f.Exclude, h.ID) {
								t.Fatalf("excluded %s returned", h.ID)
							}
						}
					}
				}
			}
		})
	}
}

func TestExactIndexUpsertDelete(t *testing.T) {
	ctx := context.Background()
	items := lowRank(1000, 32, 8, 3)
	x := NewExactIndex(32)
	if err := x.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	// Replace x00007 with x00500's vector, delete a third, re-add one.
	items[7].Vector = items[500].Vector
	if err := x.Upsert(ctx, items[7]); err != nil {
		t.Fatal(err)
	}
	var gone []string
	var live []Item
	for i, it := range items {
		if i%3 == 0 {
			gone = append(gone, it.ID)
		} else {
			live = append(live, it)
		}
	}
	if err := x.Delete(ctx, append(gone, "never-there")...); err != nil {
		t.Fatal(err)
	}
	if x.Len() != len(live) {
		t.Fatalf("Len = %d, want %d", x.Len(), len(live))
	}
	for qi := range 20 {
		q := live[qi*13].Vector
		got, err := x.Search(ctx, q, 10, Filter{PublishedAfter: fixtureNow.Add(-300 * day)})
		if err != nil {
			t.Fatal(err)
		}
		sameTopK(t, got, bruteForce(live, q, 10, Filter{PublishedAfter: fixtureNow.Add(-300 * day)}))
	}
	if v, ok := x.Vector("x00007"); !ok || &v[0] != &items[500].Vector[0] {
		t.Error("Vector(x00007) is not the replaced vector")
	}
}

func TestIndexesRejectBadVectors(t *testing.T) {
	ctx := context.Background()
	for _, x := range []VectorIndex{NewExactIndex(4), NewHNSWIndex(4, HNSWOptions{})} {
		if err := x.Upsert(ctx, Item{ID: "a", Vector: []float32{1, 2, 3}}); !errors.Is(err, ErrDimension) {
			t.Errorf("%T: short vector: err = %v", x, err)
		}
		if err := x.Upsert(ctx, Item{ID: "a", Vector: []float32{1, float32(math.NaN()), 0, 0}}); !errors.Is(err, ErrInvalidVector) {
			t.Errorf("%T: NaN vector: err = %v", x, err)
		}
		if _, err := x.Search(ctx, []float32{1, 0}, 3, Filter{}); !errors.Is(err, ErrDimension) {
			t.Errorf("%T: short query: err = %v", x, err)
		}
		if hits, err := x.Search(ctx, []float32{1, 0, 0, 0}, 3, Filter{}); err != nil || len(hits) != 0 {
			t.Errorf("%T: empty index: %v, %v", x, hits, err)
		}
	}
}

func TestExactIndexConcurrentUse(t *testing.T) {
	ctx := context.Background()
	items := lowRank(3000, 64, 8, 4)
	x := NewExactIndex(64)
	if err := x.Upsert(ctx, items[:2000]...); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if _, err := x.Search(ctx, items[(w*50+i)%3000].Vector, 5, Filter{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := 2000; i < 3000; i += 10 {
			if err := x.Upsert(ctx, items[i:i+10]...); err != nil {
				t.Error(err)
			}
			if err := x.Delete(ctx, items[i-2000].ID); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if x.Len() != 2900 {
		t.Fatalf("Len = %d, want 2900", x.Len())
	}
}

func recallAt10(t *testing.T, x VectorIndex, items []Item, queries []Item, f Filter) float64 {
	t.Helper()
	ctx := context.Background()
	var sum float64
	for _, q := range queries {
		want := bruteForce(items, q.Vector, 10, f)
		got, err := x.Search(ctx, q.Vector, 10, f)
		if err != nil {
			t.Fatal(err)
		}
		kth := want[len(want)-1].Score
		n := 0
		for _, g := range got {
			if g.Score >= kth-1e-6 { // ties with the 10th count
				n++
			}
		}
		sum += float64(min(n, 10)) / 10
	}
	return sum / float64(len(queries))
}

func TestHNSWRecall(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		items []Item
		dim   int
	}{
		{name: "dense low-rank 768", items: lowRank(2000, 768, 16, 5), dim: 768},
		{name: "lexical 768", items: lexicalItems(2000), dim: LexicalDim},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHNSWIndex(tc.dim, HNSWOptions{M: 12, EfConstruction: 100})
			if err := h.Upsert(ctx, tc.items...); err != nil {
				t.Fatal(err)
			}
			var queries []Item
			for i := 0; i < len(tc.items); i += 30 {
				queries = append(queries, tc.items[i])
			}
			if r := recallAt10(t, h, tc.items, queries, Filter{}); r < 0.95 {
				t.Errorf("recall@10 = %.3f, want ≥ 0.95", r)
			}
			f := Filter{Exclude: []string{tc.items[0].ID, tc.items[30].ID}, PublishedAfter: fixtureNow.Add(-200 * day)}
			if r := recallAt10(t, h, tc.items, queries, f); r < 0.95 {
				t.Errorf("filtered recall@10 = %.3f, want ≥ 0.95", r)
			}
		})
	}
}

func TestHNSWDeleteAndCompact(t *testing.T) {
	ctx := context.Background()
	items := lowRank(600, 32, 8, 6)
	h := NewHNSWIndex(32, HNSWOptions{})
	if err := h.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	var live []Item
	for i, it := range items {
		if i%4 != 0 {
			live = append(live, it)
			continue
		}
		if err := h.Delete(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Replacing most of the rest triggers a rebuild from the live nodes.
	for i := range live[:300] {
		live[i].Vector = items[(i*7)%600].Vector
	}
	if err := h.Upsert(ctx, live[:300]...); err != nil {
		t.Fatal(err)
	}
	if h.Len() != len(live) {
		t.Fatalf("Len = %d, want %d", h.Len(), len(live))
	}
	if len(h.ids) >= 2*len(live) {
		t.Errorf("graph holds %d nodes for %d live items: not compacted", len(h.ids), len(live))
	}
	if r := recallAt10(t, h, live, live[:40], Filter{}); r < 0.95 {
		t.Errorf("recall@10 after deletes = %.3f", r)
	}
	for _, q := range items[:40:40] {
		hits, _ := h.Search(ctx, q.Vector, 10, Filter{})
		for _, hit := range hits {
			if n, _ := fmt.Sscanf(hit.ID, "x%05d", new(int)); n == 1 {
				var i int
				fmt.Sscanf(hit.ID, "x%05d", &i)
				if i%4 == 0 {
					t.Fatalf("deleted %s returned", hit.ID)
				}
			}
		}
	}
}

func TestNewEmbeddedIndexChoosesByCatalogSize(t *testing.T) {
	if _, ok := NewEmbeddedIndex(8, IndexOptions{Expected: 1000}).(*ExactIndex); !ok {
		t.Error("a small catalog did not get the exact index")
	}
	if _, ok := NewEmbeddedIndex(8, IndexOptions{Expected: 1000, HNSWAbove: 500}).(*HNSWIndex); !ok {
		t.Error("a catalog above HNSWAbove did not get HNSW")
	}
	if _, ok := NewEmbeddedIndex(8, IndexOptions{Expected: 1 << 30, HNSWAbove: -1}).(*ExactIndex); !ok {
		t.Error("HNSWAbove < 0 should never switch")
	}
}
