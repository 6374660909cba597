package bitmaps

import (
	"fmt"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// checkInvariants verifies the index's internal structure: every bitmap
// agrees with the raw columns, holds only live ids, and cached counts match.
func checkInvariants(t *testing.T, ix *Index) {
	t.Helper()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	live := ix.live
	sub := func(what string, b *roaring.Bitmap) {
		if !roaring.AndNot(b, live).IsEmpty() {
			t.Fatalf("%s holds dead ids", what)
		}
	}
	for fi, col := range ix.cols {
		name := ix.schema[fi].Name
		switch c := col.(type) {
		case *strCol:
			sub(name+" present", c.ex)
			union := roaring.New()
			for code, b := range c.bms {
				sub(name+" value", b)
				for _, id := range b.ToArray() {
					if got := c.codes.get(int(id)); got != uint64(code+1) {
						t.Fatalf("%s: id %d in bitmap of code %d but has code %d", name, id, code+1, got)
					}
				}
				union.Or(b)
			}
			if !union.Equals(c.ex) {
				t.Fatalf("%s: present != union of values", name)
			}
			checkMirrors(t, name, &c.mir, c.bms)
		case *listCol:
			sub(name+" present", c.ex)
			union := roaring.New()
			for _, b := range c.bms {
				sub(name+" value", b)
				union.Or(b)
			}
			if !union.Equals(c.ex) {
				t.Fatalf("%s: present != union of values", name)
			}
			checkMirrors(t, name, &c.mir, c.bms)
			live.Iterate(func(id uint32) bool {
				codes := c.codesOf(id, nil)
				if (len(codes) > 0) != c.ex.Contains(id) {
					t.Fatalf("%s: id %d present mismatch", name, id)
				}
				for _, code := range codes {
					if !c.bms[code-1].Contains(id) {
						t.Fatalf("%s: id %d missing from value bitmap", name, id)
					}
				}
				return true
			})
		case *numCol:
			sub(name+" present", c.ex)
			if c.n != c.ex.GetCardinality() || len(c.cards) != len(c.bms) || len(c.lows) != len(c.bms) || c.lows[0] != 0 {
				t.Fatalf("%s: bucket bookkeeping broken", name)
			}
			union := roaring.New()
			for i, b := range c.bms {
				sub(name+" bucket", b)
				if c.cards[i] != b.GetCardinality() {
					t.Fatalf("%s: cached card %d != %d", name, c.cards[i], b.GetCardinality())
				}
				if i > 0 && c.lows[i] <= c.lows[i-1] {
					t.Fatalf("%s: bucket bounds not increasing", name)
				}
				for _, id := range b.ToArray() {
					if k := c.keys.get(int(id)); k < c.lows[i] || k > c.hiOf(i) {
						t.Fatalf("%s: id %d key %x outside bucket %d", name, id, k, i)
					}
				}
				union.Or(b)
			}
			if !union.Equals(c.ex) {
				t.Fatalf("%s: present != union of buckets", name)
			}
			for j, cp := range c.cps {
				if cp.at <= 0 || cp.at >= len(c.bms) || c.lows[cp.at] != cp.key || (j > 0 && cp.at <= c.cps[j-1].at) {
					t.Fatalf("%s: checkpoint %d at bucket %d (key %x) out of place", name, j, cp.at, cp.key)
				}
				want := roaring.FastOr(c.bms[:cp.at]...)
				if got := roaring.FromDense(cp.d, true); !got.Equals(want) || cp.card != want.GetCardinality() {
					t.Fatalf("%s: checkpoint %d (%d ids, card %d) != union of buckets below %d (%d ids)",
						name, j, got.GetCardinality(), cp.card, cp.at, want.GetCardinality())
				}
			}
			if ix.denseOn != (c.exD != nil) {
				t.Fatalf("%s: dense mirror of the present ids: %v, index dense: %v", name, c.exD != nil, ix.denseOn)
			}
			checkMirror(t, name+" present", c.exD, c.ex)
			for low, sb := range c.sorted {
				i := c.bucketOf(low)
				if c.lows[i] != low || len(sb.ids) != int(c.cards[i]) || !slices.IsSorted(sb.keys) {
					t.Fatalf("%s: cached sorted bucket %x is stale", name, low)
				}
				for j, id := range sb.ids {
					if !c.bms[i].Contains(id) || c.keys.get(int(id)) != sb.keys[j] {
						t.Fatalf("%s: cached sorted bucket %x is stale at id %d", name, low, id)
					}
				}
			}
		case *boolCol:
			sub(name+" true", c.t)
			sub(name+" false", c.f)
			if c.t.Intersects(c.f) {
				t.Fatalf("%s: true and false overlap", name)
			}
			checkMirrors(t, name, &c.mir, []*roaring.Bitmap{c.f, c.t})
		}
	}
	if ix.users.live != int(live.GetCardinality()) {
		t.Fatalf("user dict has %d live, bitmap %d", ix.users.live, live.GetCardinality())
	}
	n := 0
	for _, ch := range ix.side.chunks {
		for _, id := range ch {
			if id < ix.baseN || !live.Contains(id) {
				t.Fatalf("side list holds id %d", id)
			}
			n++
		}
	}
	if n != ix.side.n || uint64(n) != live.GetCardinality()-live.CardinalityInRange(0, uint64(ix.baseN)) {
		t.Fatalf("side list has %d ids (n=%d)", n, ix.side.n)
	}
}

// checkMirrors verifies that every dense mirror holds exactly its bitmap.
func checkMirrors(t *testing.T, name string, ms *mirrors, bms []*roaring.Bitmap) {
	t.Helper()
	for i, d := range ms.m {
		if i < len(bms) {
			checkMirror(t, fmt.Sprintf("%s value %d", name, i), d, bms[i])
		}
	}
}

func checkMirror(t *testing.T, name string, d dense, b *roaring.Bitmap) {
	t.Helper()
	if d == nil {
		return
	}
	if got := roaring.FromDense(d, true); !got.Equals(b) {
		t.Fatalf("%s: dense mirror has %d ids, bitmap %d", name, got.GetCardinality(), b.GetCardinality())
	}
}
