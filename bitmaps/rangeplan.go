package bitmaps

import (
	"cmp"
	"slices"
	"sort"

	"github.com/RoaringBitmap/roaring/v2"
)

// Range evaluation over a numeric column's buckets.
//
// A range [lo, hi] covers a run of whole buckets [a, b) plus at most two
// partly covered boundary buckets. The whole buckets are P(b) \ P(a), where
// P(k) is the union of buckets 0..k-1 (P(0) is empty, P(B) the non-NULL
// ids).
//
// In indexes of at least denseMinIDs ids, every cpStep-th bucket boundary
// keeps P(k) as a dense bitset (a checkpoint: range-encoded bitmaps), and
// the non-NULL ids have a dense mirror too. Any P(k) is then a checkpoint,
// the empty set or the non-NULL ids, adjusted by the few buckets between,
// so the dense evaluator computes a range over millions of users with two
// word-parallel passes and a handful of bucket-sized ones, whatever its
// width. Checkpoints cost ids/8 bytes each: with ~256 buckets and cpStep 8,
// 31 of them, about 4 bytes per id and numeric field.
//
// A boundary bucket's ids are tested against the range one by one. Their
// keys lie all over the column (ids follow user_id order, not value
// order), so reading them costs a cache miss each; instead, a boundary
// bucket's (key, id) pairs are sorted once and cached (a few buckets per
// column, dropped when one of their users changes), and the part inside
// the range is found by binary search.

// cpEvery is the number of ids between checkpoints, as a fraction of the
// non-NULL ids: a checkpoint closes the first bucket boundary after
// n/cpEvery ids (every 8 buckets of ~256 equal-depth ones; at every
// boundary between heavy single-value buckets).
const cpEvery = 32

// checkpoint is P(at) as a dense bitset: the ids whose key is below key,
// the low bound of bucket at.
type checkpoint struct {
	key  uint64
	at   int
	d    dense
	card uint64
}

// buildDense (re)computes the checkpoints and the mirror of the non-NULL
// ids.
func (c *numCol) buildDense(ids int) {
	c.cps, c.exD = nil, nil
	if !wantDense(ids) {
		return
	}
	c.exD = newDense(ids)
	c.ex.WriteDenseTo(c.exD)
	nb := len(c.bms)
	if nb < 4 {
		return
	}
	step := max(1, c.n/cpEvery)
	d := newDense(ids)
	var scratch dense
	var card, since uint64
	for i := range nb {
		if i > 0 && since >= step && c.n-card >= step/2 {
			c.cps = append(c.cps, checkpoint{key: c.lows[i], at: i, d: slices.Clone(d), card: card})
			since = 0
		}
		orBitmap(d, c.bms[i], c.cards[i], &scratch)
		card += c.cards[i]
		since += c.cards[i]
	}
}

func (c *numCol) denseBytes() int {
	n := c.exD.bytes()
	for _, cp := range c.cps {
		n += cp.d.bytes()
	}
	return n
}

func (c *numCol) growDense(ids int) {
	if c.exD != nil {
		c.exD = c.exD.grown(ids)
	}
	for i := range c.cps {
		c.cps[i].d = c.cps[i].d.grown(ids)
	}
}

// cpRemove takes id, which was in bucket b, out of the dense structures.
func (c *numCol) cpRemove(id uint32, b int) {
	if c.exD != nil {
		c.exD.clear(id)
	}
	for i := range c.cps {
		if cp := &c.cps[i]; b < cp.at {
			cp.d.clear(id)
			cp.card--
		}
	}
}

// cpAdd puts id, now in bucket b, into the dense structures.
func (c *numCol) cpAdd(id uint32, b int) {
	if c.exD != nil {
		c.exD.set(id)
	}
	for i := range c.cps {
		if cp := &c.cps[i]; b < cp.at {
			cp.d.set(id)
			cp.card++
		}
	}
}

// cpSplit shifts the checkpoints' bucket indexes after bucket i was split
// into 1+extra buckets, and rebuilds them when splits have left too many
// buckets between two checkpoints.
func (c *numCol) cpSplit(i, extra int) {
	if c.exD == nil {
		return // no dense structures in this index
	}
	for j := range c.cps {
		if c.cps[j].at > i {
			c.cps[j].at += extra
		}
	}
	// Splits only add buckets; rebuild when some run of buckets between two
	// checkpoints holds several times the ids it should.
	prev := 0
	for _, cp := range append(c.cps, checkpoint{at: len(c.bms)}) {
		if c.cardsOf(prev, cp.at) > 4*max(1, c.n/cpEvery) && cp.at-prev > 1 {
			c.buildDense(len(c.exD) * 64)
			return
		}
		prev = cp.at
	}
}

// prefix is how P(k) is obtained: from base (-1: the empty set; len(cps):
// the non-NULL ids; else a checkpoint) at bucket from, adding buckets
// [from, k) or removing buckets [k, from).
type prefix struct {
	k, base, from int
	cost          uint64
}

// rangePlan is how [lo, hi] is evaluated: whole buckets [a, b) either
// directly (a union of buckets) or as P(b) \ P(a), plus the partial
// boundary buckets.
type rangePlan struct {
	lo, hi  uint64
	a, b    int
	partial [2]int // boundary buckets, -1 if none
	direct  bool
	pa, pb  prefix
	cost    uint64 // estimated work, in ids touched
}

// plan chooses how to evaluate [lo, hi] (lo <= hi). withDense allows the
// dense structures (checkpoints, the non-NULL mirror) as bases of P(k);
// without it the only bases are the empty set and the non-NULL bitmap.
func (c *numCol) plan(lo, hi uint64, withDense bool) rangePlan {
	bi, bj, partLo, partHi := c.span(lo, hi)
	p := rangePlan{lo: lo, hi: hi, a: bi, b: bj + 1, partial: [2]int{-1, -1}}
	if partLo {
		p.partial[0] = bi
		p.a = bi + 1
	}
	if partHi && (bj != bi || !partLo) {
		p.partial[1] = bj
	}
	if partHi {
		p.b = bj
	}
	for _, i := range p.partial {
		if i >= 0 {
			p.cost += c.cards[i]
		}
	}
	p.direct = true
	if p.a >= p.b {
		p.a, p.b = 0, 0
		return p
	}
	direct := c.cardsOf(p.a, p.b)
	p.pa, p.pb = c.prefixOf(p.a, withDense), c.prefixOf(p.b, withDense)
	if diff := p.pa.cost + p.pb.cost; diff < direct {
		p.direct = false
		p.cost += diff
	} else {
		p.cost += direct
	}
	return p
}

// cardsOf is the number of ids in buckets [i, j).
func (c *numCol) cardsOf(i, j int) uint64 {
	var n uint64
	for _, k := range c.cards[i:j] {
		n += k
	}
	return n
}

// prefixOf returns the cheapest way to obtain P(k).
func (c *numCol) prefixOf(k int, withDense bool) prefix {
	if k == 0 {
		return prefix{base: -1}
	}
	best := prefix{k: k, base: -1, cost: c.cardsOf(0, k)}
	// Whole-bitset operations cost a word per 64 ids; per-id work (bucket
	// adjustments) a few times more than a word.
	baseCost := uint64(c.keys.len())/128 + 1
	try := func(base, at int) {
		if cost := baseCost + c.cardsOf(min(at, k), max(at, k)); cost < best.cost {
			best = prefix{k: k, base: base, from: at, cost: cost}
		}
	}
	try(baseEx, len(c.bms))
	if withDense && c.exD != nil {
		for j, cp := range c.cps {
			try(j, cp.at)
		}
	}
	return best
}

// baseEx marks the non-NULL ids as the base of a prefix.
const baseEx = 1 << 30

// rangeCost estimates the work of rangeBitmap/rangeCount, in ids touched.
func (c *numCol) rangeCost(lo, hi uint64) uint64 { return c.plan(lo, hi, false).cost }

// rangeCount counts the ids in [lo, hi], within acc when acc is not nil
// (the roaring evaluator).
func (c *numCol) rangeCount(lo, hi uint64, acc *roaring.Bitmap) uint64 {
	p := c.plan(lo, hi, false)
	var n uint64
	if acc == nil {
		n = c.cardsOf(p.a, p.b)
		for _, i := range p.partial {
			if i >= 0 {
				n += uint64(len(c.sortedBucket(i).between(lo, hi)))
			}
		}
		return n
	}
	card := func(b *roaring.Bitmap) uint64 { return b.AndCardinality(acc) }
	buckets := func(i, j int) uint64 { // |acc ∩ buckets [i, j)|
		var n uint64
		for k := i; k < j; k++ {
			n += card(c.bms[k])
		}
		return n
	}
	switch {
	case p.a >= p.b:
	case p.direct:
		n = buckets(p.a, p.b)
	default:
		// Only the empty set and the non-NULL ids are bases here.
		f := func(pr prefix) uint64 {
			if pr.base < 0 {
				return buckets(0, pr.k)
			}
			return card(c.ex) - buckets(pr.k, len(c.bms))
		}
		n = f(p.pb) - f(p.pa)
	}
	for _, i := range p.partial {
		if i >= 0 {
			n += c.scanCount(roaring.And(c.bms[i], acc), lo, hi)
		}
	}
	return n
}

// rangeBitmap returns the ids whose key is in [lo, hi], within acc when acc
// is not nil (then the boundary buckets are scanned only where they meet
// acc, and the result is owned). The roaring evaluator.
func (c *numCol) rangeBitmap(lo, hi uint64, acc *roaring.Bitmap) (*roaring.Bitmap, bool) {
	p := c.plan(lo, hi, false)
	if p.b-p.a == 1 && p.partial == [2]int{-1, -1} && acc == nil {
		return c.bms[p.a], false // one whole bucket
	}
	var res *roaring.Bitmap
	switch {
	case p.a >= p.b:
		res = roaring.New()
	case p.direct:
		res = c.union(p.a, p.b, acc)
	default: // the complement: the non-NULL ids minus the buckets outside
		outside := append(slices.Clone(c.bms[:p.a]), c.bms[p.b:]...)
		if ids := c.keys.len(); worthDense(c.n, ids) {
			d := newDense(ids)
			c.ex.WriteDenseTo(d)
			for _, b := range outside {
				d.andNot(b)
			}
			res = d.bitmap()
		} else {
			res = roaring.AndNot(c.ex, roaring.FastOr(outside...))
		}
		if acc != nil {
			res.And(acc)
		}
	}
	for _, i := range p.partial {
		if i < 0 {
			continue
		}
		b := c.bms[i]
		if acc != nil {
			b = roaring.And(b, acc)
		}
		c.scan(b, lo, hi, true, res.AddMany)
	}
	return res, true
}

// union returns the union of buckets [i, j) (within acc when not nil).
func (c *numCol) union(i, j int, acc *roaring.Bitmap) *roaring.Bitmap {
	var res *roaring.Bitmap
	if ids := c.keys.len(); worthDense(c.cardsOf(i, j), ids) {
		d := newDense(ids)
		for k := i; k < j; k++ {
			d.or(c.bms[k])
		}
		res = d.bitmap()
	} else {
		res = roaring.FastOr(c.bms[i:j]...)
	}
	if acc != nil {
		res.And(acc)
	}
	return res
}

// rangeDense writes the ids whose key is in [lo, hi] into dst (the dense
// evaluator).
func (c *numCol) rangeDense(lo, hi uint64, dst dense, sc *rangeScratch) {
	p := c.plan(lo, hi, true)
	switch {
	case p.a >= p.b:
		clear(dst)
	case p.direct:
		clear(dst)
		for k := p.a; k < p.b; k++ {
			orBitmap(dst, c.bms[k], c.cards[k], &sc.words)
		}
	default:
		c.prefixDense(p.pb, dst, sc)
		c.subtractPrefixDense(p.pa, dst, sc)
	}
	for _, i := range p.partial {
		if i >= 0 {
			dst.add(c.sortedBucket(i).between(lo, hi))
		}
	}
}

// rangeCountIn counts the ids of m (a dense subset of the live ids) whose
// key is in [lo, hi], without materialising the range: |m ∩ P(b)| - |m ∩
// P(a)| from popcounts against the checkpoints, corrected bucket by bucket,
// plus the boundary ids found in m.
func (c *numCol) rangeCountIn(lo, hi uint64, m dense, sc *rangeScratch) uint64 {
	p := c.plan(lo, hi, true)
	var n uint64
	switch {
	case p.a >= p.b:
	case p.direct:
		for k := p.a; k < p.b; k++ {
			n += c.bucketCountIn(k, m, sc)
		}
	default:
		fb, fa := c.prefixCountIn(p.pb, p.pa, m, sc)
		n = fb - fa
	}
	for _, i := range p.partial {
		if i < 0 {
			continue
		}
		for _, id := range c.sortedBucket(i).between(lo, hi) {
			if m.has(id) {
				n++
			}
		}
	}
	return n
}

// prefixCountIn returns |m ∩ P(pb.k)| and |m ∩ P(pa.k)|, the two popcounts
// against their bases in one pass.
func (c *numCol) prefixCountIn(pb, pa prefix, m dense, sc *rangeScratch) (fb, fa uint64) {
	switch {
	case pb.base >= 0 && pa.base >= 0:
		fb, fa = popcountAnd2(m, c.baseDense(pb.base), c.baseDense(pa.base))
	case pb.base >= 0:
		fb = popcountAnd(m, c.baseDense(pb.base))
	case pa.base >= 0:
		fa = popcountAnd(m, c.baseDense(pa.base))
	}
	adjust := func(pr prefix, f uint64) uint64 {
		switch {
		case pr.k == 0:
			return 0
		case pr.base < 0:
			for k := 0; k < pr.k; k++ {
				f += c.bucketCountIn(k, m, sc)
			}
		case pr.from <= pr.k:
			for k := pr.from; k < pr.k; k++ {
				f += c.bucketCountIn(k, m, sc)
			}
		default:
			for k := pr.k; k < pr.from; k++ {
				f -= c.bucketCountIn(k, m, sc)
			}
		}
		return f
	}
	return adjust(pb, fb), adjust(pa, fa)
}

// bucketCountIn is |m ∩ bucket k|.
func (c *numCol) bucketCountIn(k int, m dense, sc *rangeScratch) uint64 {
	b := c.bms[k]
	if viaWords(c.cards[k], len(m)*64) && int(b.Maximum()) < len(m)*64 {
		s := scratchFor(&sc.words, len(m))
		b.WriteDenseTo(s)
		return popcountAnd(m, s)
	}
	var n uint64
	var buf [512]uint32
	it := b.ManyIterator()
	for k := it.NextMany(buf[:]); k > 0; k = it.NextMany(buf[:]) {
		for _, id := range buf[:k] {
			if m.has(id) {
				n++
			}
		}
	}
	return n
}

// andRange intersects dst (a subset of the live ids) with [lo, hi] in
// place, without materialising the range: one word pass dst &= Bb &^ Ba over
// the two prefixes' bases, then the buckets where that pass is wrong (those
// between a base and its prefix, and the boundary buckets) are fixed id by
// id, remembering beforehand which of their ids dst held.
func (c *numCol) andRange(lo, hi uint64, dst dense, sc *rangeScratch) {
	p := c.plan(lo, hi, true)
	// The word pass keeps buckets [atA, atB) of dst; the range wants whole
	// buckets [p.a, p.b) plus the in-range ids of the partial ones.
	atOf := func(pr prefix) (int, dense) {
		switch {
		case pr.base < 0 || pr.k == 0:
			return 0, nil
		case pr.base == baseEx:
			return len(c.bms), c.exD
		}
		return c.cps[pr.base].at, c.cps[pr.base].d
	}
	var atA, atB int
	var ba, bb dense
	if p.a < p.b && !p.direct {
		atB, bb = atOf(p.pb)
		atA, ba = atOf(p.pa)
	}
	want := func(k int) bool { return k >= p.a && k < p.b }
	got := func(k int) bool { return k >= atA && k < atB }
	kept := sc.keep[:0]
	var buf [512]uint32
	eachID := func(k int, fn func(id uint32)) {
		it := c.bms[k].ManyIterator()
		for n := it.NextMany(buf[:]); n > 0; n = it.NextMany(buf[:]) {
			for _, id := range buf[:n] {
				fn(id)
			}
		}
	}
	// The buckets to fix lie in [lo, hi) ranges around a, b, atA, atB.
	type span struct{ lo, hi int }
	var fix []span
	add := func(x, y int) {
		if x > y {
			x, y = y, x
		}
		if x < y {
			fix = append(fix, span{x, y})
		}
	}
	add(min(p.a, p.b), atA)
	add(max(p.a, p.b), atB)
	if p.a >= p.b { // no whole bucket: everything the pass keeps is wrong
		add(atA, atB)
	}
	var clearBuckets []int
	done := map[int]bool{}
	for _, f := range fix {
		for k := f.lo; k < f.hi; k++ {
			if done[k] {
				continue
			}
			done[k] = true
			switch w, g := want(k), got(k); {
			case w && !g:
				eachID(k, func(id uint32) {
					if dst.has(id) {
						kept = append(kept, id)
					}
				})
			case !w && g:
				clearBuckets = append(clearBuckets, k)
			}
		}
	}
	for _, i := range p.partial {
		if i < 0 {
			continue
		}
		for _, id := range c.sortedBucket(i).between(lo, hi) {
			if dst.has(id) {
				kept = append(kept, id)
			}
		}
		if got(i) && !done[i] {
			clearBuckets = append(clearBuckets, i)
		}
	}
	switch {
	case bb == nil:
		clear(dst)
	case ba == nil:
		andWords(dst, bb)
	default:
		andAndNotWords(dst, bb, ba)
	}
	for _, k := range clearBuckets {
		andNotBitmap(dst, c.bms[k], c.cards[k], &sc.words)
	}
	dst.add(kept)
	sc.keep = kept
}

func (c *numCol) baseDense(base int) dense {
	if base == baseEx {
		return c.exD
	}
	return c.cps[base].d
}

// rangeScratch is reusable memory of dense range evaluations.
type rangeScratch struct {
	words dense
	keep  []uint32
}

// prefixDense overwrites dst with P(pr.k).
func (c *numCol) prefixDense(pr prefix, dst dense, sc *rangeScratch) {
	if pr.base < 0 {
		clear(dst)
		for k := 0; k < pr.k; k++ {
			orBitmap(dst, c.bms[k], c.cards[k], &sc.words)
		}
		return
	}
	copyWords(dst, c.baseDense(pr.base))
	if pr.from <= pr.k {
		for k := pr.from; k < pr.k; k++ {
			orBitmap(dst, c.bms[k], c.cards[k], &sc.words)
		}
	} else {
		for k := pr.k; k < pr.from; k++ {
			andNotBitmap(dst, c.bms[k], c.cards[k], &sc.words)
		}
	}
}

// subtractPrefixDense removes P(pr.k) from dst (a subset of the non-NULL
// ids).
func (c *numCol) subtractPrefixDense(pr prefix, dst dense, sc *rangeScratch) {
	switch {
	case pr.k == 0:
	case pr.base < 0:
		for k := 0; k < pr.k; k++ {
			andNotBitmap(dst, c.bms[k], c.cards[k], &sc.words)
		}
	case pr.from <= pr.k:
		andNotWords(dst, c.baseDense(pr.base))
		for k := pr.from; k < pr.k; k++ {
			andNotBitmap(dst, c.bms[k], c.cards[k], &sc.words)
		}
	default:
		// P(k) = base \ buckets [k, from): dst \ P(k) = (dst \ base) ∪
		// (dst ∩ buckets [k, from)).
		kept := sc.keep[:0]
		var buf [512]uint32
		for k := pr.k; k < pr.from; k++ {
			it := c.bms[k].ManyIterator()
			for n := it.NextMany(buf[:]); n > 0; n = it.NextMany(buf[:]) {
				for _, id := range buf[:n] {
					if dst.has(id) {
						kept = append(kept, id)
					}
				}
			}
		}
		andNotWords(dst, c.baseDense(pr.base))
		dst.add(kept)
		sc.keep = kept
	}
}

// sortedBucket is one bucket's ids sorted by key.
type sortedBucket struct {
	keys []uint64
	ids  []uint32
}

// between returns the ids whose key is in [lo, hi] (in key order).
func (s *sortedBucket) between(lo, hi uint64) []uint32 {
	i := sort.Search(len(s.keys), func(j int) bool { return s.keys[j] >= lo })
	j := sort.Search(len(s.keys), func(j int) bool { return s.keys[j] > hi })
	if i >= j {
		return nil
	}
	return s.ids[i:j]
}

// maxSortedBuckets bounds the sorted buckets cached per column.
const maxSortedBuckets = 16

// sortedBucket returns bucket i sorted by key, from the cache (safe under
// the index's read lock: the cache has its own lock; writers, which hold
// the write lock, drop the entries of the buckets they change).
func (c *numCol) sortedBucket(i int) *sortedBucket {
	low := c.lows[i]
	c.sortedMu.Lock()
	s, ok := c.sorted[low]
	c.sortedMu.Unlock()
	if ok {
		return s
	}
	type pair struct {
		k  uint64
		id uint32
	}
	pairs := make([]pair, 0, c.cards[i])
	var buf [512]uint32
	it := c.bms[i].ManyIterator()
	for n := it.NextMany(buf[:]); n > 0; n = it.NextMany(buf[:]) {
		for _, id := range buf[:n] {
			pairs = append(pairs, pair{c.keys.get(int(id)), id})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int { return cmp.Compare(a.k, b.k) })
	s = &sortedBucket{keys: make([]uint64, len(pairs)), ids: make([]uint32, len(pairs))}
	for j, p := range pairs {
		s.keys[j], s.ids[j] = p.k, p.id
	}
	c.sortedMu.Lock()
	if c.sorted == nil || len(c.sorted) >= maxSortedBuckets {
		c.sorted = map[uint64]*sortedBucket{}
	}
	c.sorted[low] = s
	c.sortedMu.Unlock()
	return s
}

// dropSorted forgets the cached sorted copy of bucket i (caller holds the
// index's write lock).
func (c *numCol) dropSorted(i int) {
	c.sortedMu.Lock()
	delete(c.sorted, c.lows[i])
	c.sortedMu.Unlock()
}
