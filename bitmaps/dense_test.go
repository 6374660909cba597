package bitmaps

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

func randomDense(r *rand.Rand, words int, density float64) dense {
	d := make(dense, words)
	for i := range words * 64 {
		if r.Float64() < density {
			d.set(uint32(i))
		}
	}
	return d
}

// TestToRoaring compares the parallel conversion with roaring's FromDense
// on bitsets of several sizes and densities (sparse and dense containers,
// parts of unequal length, empty parts).
func TestToRoaring(t *testing.T) {
	old := parallelFromDenseWords
	parallelFromDenseWords = 2 * containerWords
	t.Cleanup(func() { parallelFromDenseWords = old })
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		words   int
		density float64
		mixed   bool
	}{
		{words: 1, density: 0.5},
		{words: 2*containerWords - 1, density: 0.01},
		{words: 3*containerWords + 17, density: 0.02},
		{words: 5 * containerWords, density: 0.3},
		{words: 4*containerWords + 3, density: 0},
		{words: 6*containerWords + 100, density: 0.01, mixed: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("words_%d/density_%g", tt.words, tt.density), func(t *testing.T) {
			d := randomDense(r, tt.words, tt.density)
			if tt.mixed {
				// Every other container dense, the rest sparse.
				for k := 0; k*containerWords < len(d); k += 2 {
					part := d[k*containerWords : min((k+1)*containerWords, len(d))]
					copy(part, randomDense(r, len(part), 0.4))
				}
			}
			want := roaring.FromDense(d, true)
			before := append(dense(nil), d...)
			got := toRoaring(d)
			if !got.Equals(want) {
				t.Fatalf("toRoaring: %d ids, want %d", got.GetCardinality(), want.GetCardinality())
			}
			for i := range d {
				if d[i] != before[i] {
					t.Fatalf("toRoaring modified its input at word %d", i)
				}
			}
			// The result is an ordinary bitmap: it can be changed, and
			// changing it leaves another conversion of d alone.
			other := toRoaring(d)
			got.RunOptimize()
			got.Add(uint32(len(d)*64 + 5))
			wantCard := want.GetCardinality() + 1
			if !want.IsEmpty() {
				got.Remove(want.Minimum())
				wantCard--
			}
			if !other.Equals(want) {
				t.Fatalf("changing one result changed another")
			}
			if got.GetCardinality() != wantCard {
				t.Fatalf("after Add and Remove: %d ids, want %d", got.GetCardinality(), wantCard)
			}
		})
	}
}

// TestDenseWordOps checks the word loops and the roaring appliers against
// roaring's own operations.
func TestDenseWordOps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const words = 3 * containerWords
	for _, density := range []float64{0.001, 0.05, 0.4} {
		a, b, c := randomDense(r, words, 0.3), randomDense(r, words, density), randomDense(r, words, 0.6)
		ra, rb, rc := roaring.FromDense(a, true), roaring.FromDense(b, true), roaring.FromDense(c, true)
		check := func(name string, got dense, want *roaring.Bitmap) {
			t.Helper()
			if g := roaring.FromDense(got, true); !g.Equals(want) {
				t.Errorf("density %g: %s: %d ids, want %d", density, name, g.GetCardinality(), want.GetCardinality())
			}
		}
		x := append(dense(nil), a...)
		andWords(x, b)
		check("andWords", x, roaring.And(ra, rb))
		x = append(dense(nil), a...)
		orWords(x, b)
		check("orWords", x, roaring.Or(ra, rb))
		x = append(dense(nil), a...)
		andNotWords(x, b)
		check("andNotWords", x, roaring.AndNot(ra, rb))
		var scratch dense
		x = append(dense(nil), a...)
		orBitmap(x, rb, rb.GetCardinality(), &scratch)
		check("orBitmap", x, roaring.Or(ra, rb))
		x = append(dense(nil), a...)
		andNotBitmap(x, rb, rb.GetCardinality(), &scratch)
		check("andNotBitmap", x, roaring.AndNot(ra, rb))
		if got, want := popcountAnd(a, b), ra.AndCardinality(rb); got != want {
			t.Errorf("density %g: popcountAnd = %d, want %d", density, got, want)
		}
		if got, want := popcountOr(a, b[:words-3]), ra.OrCardinality(roaring.FromDense(b[:words-3], true)); got != want {
			t.Errorf("density %g: popcountOr = %d, want %d", density, got, want)
		}
		gb, gc := popcountAnd2(a, b, c)
		if gb != ra.AndCardinality(rb) || gc != ra.AndCardinality(rc) {
			t.Errorf("density %g: popcountAnd2 = %d, %d; want %d, %d", density, gb, gc, ra.AndCardinality(rb), ra.AndCardinality(rc))
		}
		x = append(dense(nil), b...)
		copyWords(x[:words-5], a)
		check("copyWords", x[:words-5], roaring.FromDense(a[:words-5], true))
	}
}

// TestMembership: Contains agrees with the bitmap for a flat bitset (a big
// index and a dense set), a sparse set and a small index.
func TestMembership(t *testing.T) {
	schema := Schema{{Name: "n", Kind: KindInt}}
	build := func(users int) *Index {
		b := NewBuilder(schema)
		for i := range users {
			if err := b.Add(fmt.Sprintf("u%06d", i), Row{int64(i % 7)}); err != nil {
				t.Fatal(err)
			}
		}
		return b.Build()
	}
	setDenseMin(t, 1000)
	big, small := build(5000), build(500)
	r := rand.New(rand.NewPCG(5, 6))
	for _, tt := range []struct {
		name    string
		ix      *Index
		density float64
		flat    bool
	}{
		{"big/dense", big, 0.3, true},
		{"big/sparse", big, 0.001, false},
		{"small/dense", small, 0.3, false},
	} {
		b := roaring.New()
		for id := range uint32(tt.ix.Len()) {
			if r.Float64() < tt.density {
				b.Add(id)
			}
		}
		m := tt.ix.Membership(b)
		if (m.words != nil) != tt.flat {
			t.Errorf("%s: flat = %v, want %v", tt.name, m.words != nil, tt.flat)
		}
		for id := range uint32(tt.ix.Len() + 100) {
			if m.Contains(id) != b.Contains(id) {
				t.Fatalf("%s: Contains(%d) = %v, want %v", tt.name, id, m.Contains(id), b.Contains(id))
			}
		}
	}
	if m := big.Membership(nil); m.Contains(0) {
		t.Error("the Membership of nil contains id 0")
	}
}
