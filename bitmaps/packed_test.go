package bitmaps

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackedAgainstSlice sets random values (small, clustered, huge, below
// the base) and compares every read with a plain slice.
func TestPackedAgainstSlice(t *testing.T) {
	gens := []struct {
		name string
		val  func(r *rand.Rand) uint64
	}{
		{name: "bytes", val: func(r *rand.Rand) uint64 { return uint64(r.IntN(200)) }},
		{name: "timestamps", val: func(r *rand.Rand) uint64 { return intKey(1_700_000_000 + r.Int64N(1<<20)) }},
		{name: "descending", val: func(r *rand.Rand) uint64 { return intKey(-r.Int64N(1 << 40)) }},
		{name: "extremes", val: func(r *rand.Rand) uint64 {
			return []uint64{0, 1, math.MaxUint64, math.MaxUint64 - 1, 1 << 63, r.Uint64()}[r.IntN(6)]
		}},
	}
	for _, g := range gens {
		for _, zero := range []bool{false, true} {
			t.Run(g.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(1, 2))
				var p packed
				if zero {
					p = newCodes()
				}
				var want []uint64
				var set []bool // unset slots are only compared for codes (read as 0)
				for step := range 5000 {
					if r.IntN(10) == 0 || len(want) == 0 {
						n := len(want) + 1 + r.IntN(20)
						p.grow(n)
						for len(want) < n {
							want, set = append(want, 0), append(set, false)
						}
					}
					i, v := r.IntN(len(want)), g.val(r)
					p.set(i, v)
					want[i], set[i] = v, true
					if step%500 == 0 || step == 4999 {
						if p.len() != len(want) {
							t.Fatalf("len = %d, want %d", p.len(), len(want))
						}
						for j, w := range want {
							if (set[j] || zero) && p.get(j) != w {
								t.Fatalf("step %d: get(%d) = %d, want %d (base %d, width %d)", step, j, p.get(j), w, p.base, p.width)
							}
						}
					}
				}
				if g.name == "bytes" && p.width != 1 {
					t.Errorf("small values use width %d", p.width)
				}
				if g.name == "timestamps" && !zero && p.width > 4 {
					t.Errorf("clustered timestamps use width %d", p.width)
				}
			})
		}
	}
}

func TestNewPackedSkipsNulls(t *testing.T) {
	vals := []uint64{intKey(5), 0, intKey(7), math.MaxUint64}
	p := newPacked(vals, func(i int) bool { return i == 1 || i == 3 })
	if p.width != 1 || p.get(0) != intKey(5) || p.get(2) != intKey(7) {
		t.Fatalf("packed = %+v", p)
	}
	p.grow(6)
	p.set(5, intKey(-1))
	if p.get(5) != intKey(-1) || p.get(0) != intKey(5) || p.get(2) != intKey(7) {
		t.Fatalf("after rebase: %d %d %d", p.get(5), p.get(0), p.get(2))
	}
	c := packCodes([]uint32{0, 3, 300, 0})
	if c.width != 2 || c.get(2) != 300 || c.get(3) != 0 {
		t.Fatalf("codes = %+v", c)
	}
	c.grow(5)
	if c.get(4) != 0 {
		t.Fatal("a grown code slot is not NULL")
	}
}
