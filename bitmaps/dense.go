package bitmaps

import "github.com/RoaringBitmap/roaring/v2"

// dense is a flat bitset over ids for building large unions: setting bits
// costs about a nanosecond per id, where roaring's FastOr of many sparse
// bitmaps merges array containers pair by pair (quadratic until they turn
// into bitmap containers). It becomes a roaring bitmap with FromDense.
type dense []uint64

func newDense(ids int) dense { return make(dense, (ids+63)/64) }

// worthDense reports whether a union touching n ids out of ids is better
// built densely (the bitset costs ids/64 words to clear and convert).
func worthDense(n uint64, ids int) bool { return n*128 > uint64(ids) }

func (d dense) or(b *roaring.Bitmap) {
	var buf [512]uint32
	it := b.ManyIterator()
	for n := it.NextMany(buf[:]); n > 0; n = it.NextMany(buf[:]) {
		for _, id := range buf[:n] {
			d[id>>6] |= 1 << (id & 63)
		}
	}
}

func (d dense) andNot(b *roaring.Bitmap) {
	var buf [512]uint32
	it := b.ManyIterator()
	for n := it.NextMany(buf[:]); n > 0; n = it.NextMany(buf[:]) {
		for _, id := range buf[:n] {
			d[id>>6] &^= 1 << (id & 63)
		}
	}
}

func (d dense) add(ids []uint32) {
	for _, id := range ids {
		d[id>>6] |= 1 << (id & 63)
	}
}

func (d dense) remove(ids []uint32) {
	for _, id := range ids {
		d[id>>6] &^= 1 << (id & 63)
	}
}

func (d dense) bitmap() *roaring.Bitmap { return roaring.FromDense(d, false) }
