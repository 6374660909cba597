package bitmaps

import (
	"encoding/binary"
	"math/bits"
	"runtime"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// dense is a flat bitset over ids: bit id%64 of word id/64. Large unions are
// built in it (setting a bit costs about a nanosecond, where roaring's
// FastOr of many sparse bitmaps merges array containers pair by pair), and
// the dense evaluator (densevm.go) runs whole plans in such bitsets with
// word-parallel AND/OR/ANDNOT and popcounts. It becomes a roaring bitmap
// with FromDense.
type dense []uint64

func newDense(ids int) dense { return make(dense, wordsFor(ids)) }

func wordsFor(ids int) int { return (ids + 63) / 64 }

// worthDense reports whether a union touching n ids out of ids is better
// built densely (the bitset costs ids/64 words to clear and convert).
func worthDense(n uint64, ids int) bool { return n*128 > uint64(ids) }

func (d dense) set(id uint32)      { d[id>>6] |= 1 << (id & 63) }
func (d dense) clear(id uint32)    { d[id>>6] &^= 1 << (id & 63) }
func (d dense) has(id uint32) bool { return d[id>>6]&(1<<(id&63)) != 0 }

// or sets the ids of b (one at a time: for sparse b).
func (d dense) or(b *roaring.Bitmap) {
	var buf [512]uint32
	it := b.ManyIterator()
	for n := it.NextMany(buf[:]); n > 0; n = it.NextMany(buf[:]) {
		for _, id := range buf[:n] {
			d[id>>6] |= 1 << (id & 63)
		}
	}
}

// andNot clears the ids of b (one at a time: for sparse b).
func (d dense) andNot(b *roaring.Bitmap) {
	var buf [512]uint32
	it := b.ManyIterator()
	for n := it.NextMany(buf[:]); n > 0; n = it.NextMany(buf[:]) {
		for _, id := range buf[:n] {
			d[id>>6] &^= 1 << (id & 63)
		}
	}
}

// viaWords reports whether a roaring bitmap of card ids is better applied to
// a dense bitset of ids ids through a scratch bitset (clear, WriteDenseTo,
// one word loop) than one id at a time: roaring hands out the ids of a
// bitmap container a few nanoseconds each.
func viaWords(card uint64, ids int) bool { return card*128 >= uint64(ids) }

// orBitmap sets the card ids of b in dst, through scratch (nil: a new one
// when needed) when b is dense.
func orBitmap(dst dense, b *roaring.Bitmap, card uint64, scratch *dense) {
	if !viaWords(card, len(dst)*64) || int(b.Maximum()) >= len(dst)*64 {
		dst.or(b)
		return
	}
	s := scratchFor(scratch, len(dst))
	b.WriteDenseTo(s)
	orWords(dst, s)
}

// andNotBitmap clears the card ids of b in dst (see orBitmap).
func andNotBitmap(dst dense, b *roaring.Bitmap, card uint64, scratch *dense) {
	if !viaWords(card, len(dst)*64) || int(b.Maximum()) >= len(dst)*64 {
		dst.andNot(b)
		return
	}
	s := scratchFor(scratch, len(dst))
	b.WriteDenseTo(s)
	andNotWords(dst, s)
}

// scratchFor returns scratch (or a new bitset) cleared, with words words.
func scratchFor(scratch *dense, words int) dense {
	if scratch == nil {
		return make(dense, words)
	}
	if cap(*scratch) < words {
		*scratch = make(dense, words)
	}
	*scratch = (*scratch)[:words]
	clear(*scratch)
	return *scratch
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

// containerWords is the number of words of one roaring container (65,536
// ids).
const containerWords = 1 << 10

// parallelFromDenseWords is the size from which toRoaring works on all
// CPUs.
var parallelFromDenseWords = 32 * containerWords

// toRoaring converts d into a new roaring bitmap (d is not retained).
// roaring's FromDense extracts the ids of sparse containers with a popcount
// per id, which without GOAMD64=v2 is a function call per id and dominated
// materialising a 5% cohort at 10M ids. Here sparse containers are
// extracted with TrailingZeros into a buffer in roaring's portable format,
// which roaring reads without copying (FromBuffer), dense containers are
// copied by FromDense, and both halves of the work run on all CPUs.
func toRoaring(d dense) *roaring.Bitmap {
	nc := (len(d) + containerWords - 1) / containerWords
	chunk := func(k int) dense { return d[k*containerWords : min((k+1)*containerWords, len(d))] }
	cards := make([]int, nc)
	onCPUs(nc, len(d) >= parallelFromDenseWords, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			cards[k] = int(popcount(chunk(k)))
		}
	})
	const maxArray = 4096 // roaring's largest array container
	var nArr, nBitmap, arrBytes int
	for _, c := range cards {
		switch {
		case c > maxArray:
			nBitmap++
		case c > 0:
			nArr++
			arrBytes += 2 * c
		}
	}
	var arrays *roaring.Bitmap
	if nArr > 0 {
		// Portable format without runs: cookie, count, (key, card-1) pairs,
		// data offsets, then each container's ids as little-endian uint16s.
		hdr := 8 + 8*nArr
		buf := make([]byte, hdr+arrBytes)
		binary.LittleEndian.PutUint32(buf, 12346)
		binary.LittleEndian.PutUint32(buf[4:], uint32(nArr))
		offs := make([]int, nc)
		pos, i := hdr, 0
		for k, c := range cards {
			if c == 0 || c > maxArray {
				continue
			}
			binary.LittleEndian.PutUint16(buf[8+4*i:], uint16(k))
			binary.LittleEndian.PutUint16(buf[8+4*i+2:], uint16(c-1))
			binary.LittleEndian.PutUint32(buf[8+4*nArr+4*i:], uint32(pos))
			offs[k] = pos
			pos += 2 * c
			i++
		}
		onCPUs(nc, len(d) >= parallelFromDenseWords, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				if c := cards[k]; c > 0 && c <= maxArray {
					out := buf[offs[k] : offs[k]+2*c : offs[k]+2*c]
					j := 0
					for wi, w := range chunk(k) {
						for w != 0 {
							binary.LittleEndian.PutUint16(out[j:], uint16(wi*64+bits.TrailingZeros64(w)))
							j += 2
							w &= w - 1
						}
					}
				}
			}
		})
		arrays = roaring.New()
		if _, err := arrays.FromBuffer(buf); err != nil {
			return roaring.FromDense(d, true) // cannot happen: the buffer is well formed
		}
	}
	if nBitmap == 0 {
		if arrays == nil {
			return roaring.New()
		}
		return arrays
	}
	p := getDense(len(d))
	defer putDense(p)
	s := *p
	clear(s)
	for k, c := range cards {
		if c > maxArray {
			copy(s[k*containerWords:], chunk(k))
		}
	}
	res := roaring.FromDense(s, true)
	if arrays != nil {
		res.Or(arrays)
	}
	return res
}

// onCPUs runs fn over [0, n) split in one range per CPU (one range when
// !parallel).
func onCPUs(n int, parallel bool, fn func(lo, hi int)) {
	procs := runtime.GOMAXPROCS(0)
	if !parallel || procs < 2 || n < 2 {
		fn(0, n)
		return
	}
	per := (n + procs - 1) / procs
	var wg sync.WaitGroup
	for lo := per; lo < n; lo += per {
		wg.Go(func() { fn(lo, min(lo+per, n)) })
	}
	fn(0, min(per, n))
	wg.Wait()
}

// load overwrites d with b (whose ids must be below len(d)*64).
func (d dense) load(b *roaring.Bitmap) {
	clear(d)
	b.WriteDenseTo(d)
}

// grown returns d extended to hold ids (new bits clear).
func (d dense) grown(ids int) dense {
	if w := wordsFor(ids); w > len(d) {
		d = append(d, make(dense, w-len(d))...)
	}
	return d
}

// Word-parallel operations. dst and src have the same length, except that
// a shorter src (a mirror not yet grown) counts as zero beyond its end.

// The loops are unrolled by four (about 2.5 times faster than one word per
// iteration at 10M ids: fewer bounds checks and loop branches).

func andWords(dst, src dense) {
	n := min(len(dst), len(src))
	d, s := dst[:n:n], src[:n:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		dd, ss := d[i:i+4:i+4], s[i:i+4:i+4]
		dd[0] &= ss[0]
		dd[1] &= ss[1]
		dd[2] &= ss[2]
		dd[3] &= ss[3]
	}
	for ; i < n; i++ {
		d[i] &= s[i]
	}
	clear(dst[n:])
}

func orWords(dst, src dense) {
	n := min(len(dst), len(src))
	d, s := dst[:n:n], src[:n:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		dd, ss := d[i:i+4:i+4], s[i:i+4:i+4]
		dd[0] |= ss[0]
		dd[1] |= ss[1]
		dd[2] |= ss[2]
		dd[3] |= ss[3]
	}
	for ; i < n; i++ {
		d[i] |= s[i]
	}
}

func andNotWords(dst, src dense) {
	n := min(len(dst), len(src))
	d, s := dst[:n:n], src[:n:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		dd, ss := d[i:i+4:i+4], s[i:i+4:i+4]
		dd[0] &^= ss[0]
		dd[1] &^= ss[1]
		dd[2] &^= ss[2]
		dd[3] &^= ss[3]
	}
	for ; i < n; i++ {
		d[i] &^= s[i]
	}
}

// andAndNotWords sets dst &= x &^ y.
func andAndNotWords(dst, x, y dense) {
	n := min(len(dst), len(x), len(y))
	d, a, b := dst[:n:n], x[:n:n], y[:n:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		dd, aa, bb := d[i:i+4:i+4], a[i:i+4:i+4], b[i:i+4:i+4]
		dd[0] &= aa[0] &^ bb[0]
		dd[1] &= aa[1] &^ bb[1]
		dd[2] &= aa[2] &^ bb[2]
		dd[3] &= aa[3] &^ bb[3]
	}
	for ; i < n; i++ {
		d[i] &= a[i] &^ b[i]
	}
	clear(dst[n:])
}

// copyWords overwrites dst with src (zero beyond src's end).
func copyWords(dst, src dense) {
	n := copy(dst, src)
	clear(dst[n:])
}

func popcount(d dense) uint64 {
	var n int
	for _, w := range d {
		n += bits.OnesCount64(w)
	}
	return uint64(n)
}

func popcountAnd(a, b dense) uint64 {
	n := min(len(a), len(b))
	a, b = a[:n:n], b[:n:n]
	var c int
	for i := range a {
		c += bits.OnesCount64(a[i] & b[i])
	}
	return uint64(c)
}

func popcountOr(a, b dense) uint64 {
	n := min(len(a), len(b))
	var c int
	for i := range a[:n] {
		c += bits.OnesCount64(a[i] | b[i])
	}
	for _, w := range a[n:] {
		c += bits.OnesCount64(w)
	}
	for _, w := range b[n:] {
		c += bits.OnesCount64(w)
	}
	return uint64(c)
}

// popcountAnd2 returns |m ∩ x| and |m ∩ y| in one pass.
func popcountAnd2(m, x, y dense) (cx, cy uint64) {
	n := min(len(m), len(x), len(y))
	m, x, y = m[:n:n], x[:n:n], y[:n:n]
	var a, b int
	for i := range m {
		a += bits.OnesCount64(m[i] & x[i])
		b += bits.OnesCount64(m[i] & y[i])
	}
	return uint64(a), uint64(b)
}

func (d dense) bytes() int { return 8 * cap(d) }

// Scratch bitsets of the dense evaluator are recycled through a small free
// list (not a sync.Pool, which every garbage collection empties: a fresh
// bitset of a 10M-id index is 1.25 MB of page faults), so that a warm
// evaluation allocates nothing but its result.
var (
	scratchMu   sync.Mutex
	scratchFree []*dense
)

// maxScratch bounds the bitsets kept for reuse.
const maxScratch = 16

// getDense returns a scratch bitset of words words (contents undefined).
func getDense(words int) *dense {
	scratchMu.Lock()
	for i := len(scratchFree) - 1; i >= 0; i-- {
		p := scratchFree[i]
		if cap(*p) >= words {
			scratchFree = append(scratchFree[:i], scratchFree[i+1:]...)
			scratchMu.Unlock()
			*p = (*p)[:words]
			return p
		}
	}
	scratchMu.Unlock()
	d := make(dense, words)
	return &d
}

func putDense(p *dense) {
	scratchMu.Lock()
	defer scratchMu.Unlock()
	if len(scratchFree) < maxScratch {
		scratchFree = append(scratchFree, p)
		return
	}
	// Keep the largest: indexes only grow.
	for i, q := range scratchFree {
		if cap(*q) < cap(*p) {
			scratchFree[i] = p
			return
		}
	}
}

// mirrors keeps dense copies of some of a column's bitmaps (by index; nil
// where there is none), maintained alongside them. They exist only in
// indexes of at least denseMinIDs ids, for bitmaps holding at least 1/64 of
// the ids: a mirror costs ids/8 bytes, as much as roaring's own storage of
// a set of that density, and spares the dense evaluator a conversion.
type mirrors struct{ m []dense }

// denseMinIDs is the index size from which dense structures (mirrors,
// checkpoints) are built and big plans run in the dense evaluator; tests
// lower it.
var denseMinIDs = 1 << 18

func wantDense(ids int) bool { return ids >= denseMinIDs }

func (ms *mirrors) get(i int) dense {
	if i >= 0 && i < len(ms.m) {
		return ms.m[i]
	}
	return nil
}

func (ms *mirrors) add(i int, id uint32) {
	if d := ms.get(i); d != nil {
		d.set(id)
	}
}

func (ms *mirrors) remove(i int, id uint32) {
	if d := ms.get(i); d != nil {
		d.clear(id)
	}
}

func (ms *mirrors) grow(ids int) {
	for i, d := range ms.m {
		if d != nil {
			ms.m[i] = d.grown(ids)
		}
	}
}

// build mirrors the bitmaps dense enough to be worth it.
func (ms *mirrors) build(bms []*roaring.Bitmap, ids int) {
	ms.m = nil
	if !wantDense(ids) {
		return
	}
	ms.m = make([]dense, len(bms))
	for i, b := range bms {
		if b.GetCardinality()*64 >= uint64(ids) {
			d := newDense(ids)
			b.WriteDenseTo(d)
			ms.m[i] = d
		}
	}
}

func (ms *mirrors) bytes() int {
	n := 0
	for _, d := range ms.m {
		n += d.bytes()
	}
	return n
}

// Membership is a read-only set of ids whose Contains costs one memory
// access: a flat bitset over the index's ids when the set is dense enough
// (ids/8 bytes, as much as roaring needs for a set holding 1/64 of the ids
// or more), else the roaring bitmap itself. Answering one user's
// membership across a hundred cohorts of a 10M-user index with roaring's
// Contains chases two pointers per cohort into memory that no cache holds;
// flat bitsets make it a hundred independent loads. Safe for concurrent
// use (it never changes).
type Membership struct {
	words dense
	b     *roaring.Bitmap
}

// Membership returns b (which must not change afterwards) as a
// Membership for this index's ids.
func (ix *Index) Membership(b *roaring.Bitmap) Membership {
	if b == nil {
		return Membership{b: roaring.New()}
	}
	ix.mu.RLock()
	ids, on := ix.users.n(), ix.denseOn
	ix.mu.RUnlock()
	if !on || b.GetCardinality()*64 < uint64(ids) || b.IsEmpty() || int(b.Maximum()) >= ids {
		return Membership{b: b}
	}
	d := newDense(ids)
	b.WriteDenseTo(d)
	return Membership{words: d}
}

// Contains reports whether id is in the set.
func (m Membership) Contains(id uint32) bool { return m.Bit(id) != 0 }

// Bit is 1 if id is in the set, else 0. A loop over many sets that ORs
// their Bits into a mask, rather than branching on each Contains, keeps
// the processor from mispredicting on every unpredictable answer, so the
// loads of all sets are in flight at once.
func (m Membership) Bit(id uint32) uint64 {
	if m.words != nil {
		if w := int(id >> 6); w < len(m.words) {
			return m.words[w] >> (id & 63) & 1
		}
		return 0
	}
	if m.b != nil && m.b.Contains(id) {
		return 1
	}
	return 0
}
