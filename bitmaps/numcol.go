package bitmaps

import (
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// numCol stores KindInt, KindFloat and KindTime as order-preserving uint64
// keys (see keys.go) plus an equal-depth bucket index: bucket i holds the ids
// whose key is in [lows[i], lows[i+1]) (the last one up to MaxUint64). A
// range is the union of the buckets it covers plus a scan of at most two
// boundary buckets; when it covers more than half the values the complement
// is computed instead, so a range costs at most about half the non-NULL ids
// in bitmap work (no per-bit-slice passes, unlike a BSI whose CompareValue
// tests each row one bit at a time). A frequent value gets a bucket of its
// own, so Eq on it is a stored bitmap. Buckets that outgrow twice the target
// size split at their median; there are about 256 of them.
type numCol struct {
	kind      Kind
	keys      packed
	ex        *roaring.Bitmap
	lows      []uint64
	bms       []*roaring.Bitmap
	nextSplit []uint64 // do not try to split bucket i again below this size
	cards     []uint64 // cardinality of bms[i] (roaring counts container by container)
	n         uint64   // cardinality of ex
	minBucket uint64
	// Dense structures (see rangeplan.go), in indexes of denseMinIDs ids
	// or more: checkpoints (cumulative bitsets, ascending) and a mirror of
	// ex.
	cps []checkpoint
	exD dense
	// Boundary buckets sorted by key, by bucket low bound (rangeplan.go).
	sortedMu sync.Mutex
	sorted   map[uint64]*sortedBucket
}

const (
	targetBuckets = 256
	sampleSize    = 1 << 16
)

// minBucket is the smallest target bucket size; tests lower it to exercise
// many buckets on small data.
var minBucket uint64 = 2048

func newNumCol(k Kind) *numCol {
	return &numCol{kind: k, minBucket: minBucket, ex: roaring.New(), lows: []uint64{0}, bms: []*roaring.Bitmap{roaring.New()}, nextSplit: []uint64{0}, cards: []uint64{0}}
}

func (c *numCol) grow(n int) {
	c.keys.grow(n)
	c.growDense(n)
}

func (c *numCol) key(v any) uint64 {
	if c.kind == KindFloat {
		return floatKey(v.(float64))
	}
	return intKey(v.(int64))
}

func (c *numCol) decode(k uint64) any {
	if c.kind == KindFloat {
		return keyFloat(k)
	}
	return keyInt(k)
}

// number decodes a key as float64 (for Sum).
func (c *numCol) number(k uint64) float64 {
	if c.kind == KindFloat {
		return keyFloat(k)
	}
	return float64(keyInt(k))
}

func (c *numCol) get(id uint32) any {
	if int(id) >= c.keys.len() || !c.ex.Contains(id) {
		return nil
	}
	return c.decode(c.keys.get(int(id)))
}

func (c *numCol) set(id uint32, v any) {
	had := c.ex.Contains(id)
	switch {
	case v == nil:
		if had {
			c.clear(id)
		}
	case had:
		c.replace(id, c.key(v))
	default:
		c.add(id, c.key(v))
	}
}

// clear makes id, which has a value, NULL.
func (c *numCol) clear(id uint32) {
	c.ex.Remove(id)
	b := c.bucketOf(c.keys.get(int(id)))
	c.bms[b].Remove(id)
	c.cards[b]--
	c.n--
	c.cpRemove(id, b)
	c.dropSorted(b)
}

// add gives id, which is NULL, the key k.
func (c *numCol) add(id uint32, k uint64) {
	c.keys.set(int(id), k)
	c.ex.Add(id)
	c.n++
	b := c.bucketOf(k)
	c.bms[b].Add(id)
	c.cards[b]++
	c.cpAdd(id, b)
	c.dropSorted(b)
	c.maybeSplit(b)
}

// replace changes the key of id, which has a value, to k. The non-NULL
// set, its dense mirror and the count stay as they are; only a change of
// bucket moves id between bucket bitmaps and checkpoints. This is the
// real-time path (a timestamp moving forward), so it does the least work.
func (c *numCol) replace(id uint32, k uint64) {
	from := c.bucketOf(c.keys.get(int(id)))
	c.keys.set(int(id), k)
	c.dropSorted(from) // its keys changed
	to := c.bucketOf(k)
	if to == from {
		return
	}
	c.bms[from].Remove(id)
	c.cards[from]--
	c.bms[to].Add(id)
	c.cards[to]++
	c.cpMove(id, from, to)
	c.dropSorted(to)
	c.maybeSplit(to)
}

func (c *numCol) present() (*roaring.Bitmap, bool) { return c.ex, false }

func (c *numCol) optimize() {
	c.ex.RunOptimize()
	for _, b := range c.bms {
		b.RunOptimize()
	}
}

func (c *numCol) size() (int, int) {
	bm := int(c.ex.GetSizeInBytes())
	for _, b := range c.bms {
		bm += int(b.GetSizeInBytes())
	}
	bm += c.denseBytes()
	return bm, c.keys.bytes() + 24*len(c.lows)
}

// bucketOf returns the bucket holding key k.
func (c *numCol) bucketOf(k uint64) int {
	i, found := slices.BinarySearch(c.lows, k)
	if found {
		return i
	}
	return i - 1 // lows[0] == 0, so i >= 1 here
}

// hiOf is the largest key of bucket i.
func (c *numCol) hiOf(i int) uint64 {
	if i+1 < len(c.lows) {
		return c.lows[i+1] - 1
	}
	return math.MaxUint64
}

func (c *numCol) target() uint64 { return max(c.minBucket, c.n/targetBuckets) }

func (c *numCol) maybeSplit(i int) {
	n := c.cards[i]
	if n <= 2*c.target() || n < c.nextSplit[i] {
		return
	}
	// One pass over the keys (random reads into the column, the cost of a
	// split): ids and keys in id order, then a sorted copy of the keys.
	ids := c.bms[i].ToArray()
	ks := make([]uint64, len(ids))
	for j, id := range ids {
		ks[j] = c.keys.get(int(id))
	}
	sorted := slices.Clone(ks)
	slices.Sort(sorted)
	cuts := chooseBounds(sorted, 2, c.lows[i], c.hiOf(i))
	if len(cuts) == 0 {
		c.nextSplit[i] = 2 * n // one value: nothing to split
		return
	}
	parts := make([][]uint32, len(cuts)+1)
	for j, id := range ids {
		k := ks[j]
		p := sort.Search(len(cuts), func(j int) bool { return cuts[j] > k }) // cuts <= k
		parts[p] = append(parts[p], id)
	}
	bms := make([]*roaring.Bitmap, len(parts))
	cards := make([]uint64, len(parts))
	for j, p := range parts {
		bms[j] = roaring.BitmapOf(p...)
		bms[j].RunOptimize()
		cards[j] = uint64(len(p))
	}
	c.bms = slices.Replace(c.bms, i, i+1, bms...)
	c.cards = slices.Replace(c.cards, i, i+1, cards...)
	c.lows = slices.Insert(c.lows, i+1, cuts...)
	c.nextSplit = slices.Replace(c.nextSplit, i, i+1, make([]uint64, len(parts))...)
	c.cpSplit(i, len(cuts))
}

// chooseBounds picks up to nb-1 bucket boundaries in (lo, hi] from sorted
// keys: the quantiles, and around every value at least 1/nb of the keys
// (boundaries v and v+1) so that a frequent value has a bucket of its own.
func chooseBounds(sorted []uint64, nb int, lo, hi uint64) []uint64 {
	if len(sorted) == 0 || nb < 2 {
		return nil
	}
	var cuts []uint64
	add := func(v uint64) {
		if v > lo && v <= hi {
			cuts = append(cuts, v)
		}
	}
	for j := 1; j < nb; j++ {
		add(sorted[j*len(sorted)/nb])
	}
	heavy := max(1, len(sorted)/nb)
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		if j-i >= heavy {
			add(sorted[i])
			if sorted[i] < math.MaxUint64 {
				add(sorted[i] + 1)
			}
		}
		i = j
	}
	slices.Sort(cuts)
	return slices.Compact(cuts)
}

// load builds the column from keys (indexed by id) and the non-NULL ids.
func (c *numCol) load(keys []uint64, ex *roaring.Bitmap) {
	dense := ex.ToDense() // one bit test per id, not a container search
	c.keys, c.ex = newPacked(keys, func(i int) bool { w := i / 64; return w >= len(dense) || dense[w]&(1<<(i%64)) == 0 }), ex
	n := ex.GetCardinality()
	step := max(1, n/sampleSize)
	sample := make([]uint64, 0, min(n, sampleSize+1))
	var i uint64
	ex.Iterate(func(id uint32) bool {
		if i%step == 0 {
			sample = append(sample, keys[id])
		}
		i++
		return true
	})
	slices.Sort(sample)
	nb := int(max(1, min(targetBuckets, n/c.minBucket)))
	c.lows = append([]uint64{0}, chooseBounds(sample, nb, 0, math.MaxUint64)...)
	parts := make([][]uint32, len(c.lows))
	ex.Iterate(func(id uint32) bool {
		b := c.bucketOf(keys[id])
		parts[b] = append(parts[b], id)
		return true
	})
	c.bms = make([]*roaring.Bitmap, len(parts))
	c.cards = make([]uint64, len(parts))
	for j, p := range parts {
		c.bms[j] = roaring.BitmapOf(p...)
		c.cards[j] = uint64(len(p))
	}
	c.nextSplit = make([]uint64, len(parts))
	c.n = n
}

// singleValued reports whether bucket i can only hold one key.
func (c *numCol) singleValued(i int) bool { return c.lows[i] == c.hiOf(i) }

// scan calls fn with the ids of b (in order) whose key is in [lo, hi]
// (match) or outside it (!match).
func (c *numCol) scan(b *roaring.Bitmap, lo, hi uint64, match bool, fn func(ids []uint32)) {
	var buf [256]uint32
	out := make([]uint32, 0, 256)
	it := b.ManyIterator()
	for n := it.NextMany(buf[:]); n > 0; n = it.NextMany(buf[:]) {
		out = out[:0]
		for _, id := range buf[:n] {
			k := c.keys.get(int(id))
			if (k >= lo && k <= hi) == match {
				out = append(out, id)
			}
		}
		if len(out) > 0 {
			fn(out)
		}
	}
}

func (c *numCol) scanCount(b *roaring.Bitmap, lo, hi uint64) uint64 {
	var n uint64
	c.scan(b, lo, hi, true, func(ids []uint32) { n += uint64(len(ids)) })
	return n
}

// span returns the buckets [bi, bj] that [lo, hi] touches and whether the
// first and last are only partly covered.
func (c *numCol) span(lo, hi uint64) (bi, bj int, partLo, partHi bool) {
	bi, bj = c.bucketOf(lo), c.bucketOf(hi)
	return bi, bj, lo > c.lows[bi], hi < c.hiOf(bj)
}

// rangeFilter returns the ids of acc whose key is in [lo, hi], testing each
// one: cheaper than the buckets when acc is small.
func (c *numCol) rangeFilter(lo, hi uint64, acc *roaring.Bitmap) *roaring.Bitmap {
	res := roaring.New()
	c.scan(roaring.And(acc, c.ex), lo, hi, true, res.AddMany)
	return res
}

// eqBitmap returns the ids whose key is k.
func (c *numCol) eqBitmap(k uint64) (*roaring.Bitmap, bool) {
	b := c.bucketOf(k)
	if c.singleValued(b) {
		return c.bms[b], false
	}
	res := roaring.New()
	c.scan(c.bms[b], k, k, true, res.AddMany)
	return res, true
}

// cpMove moves id from bucket from to bucket to in the checkpoints (a
// checkpoint at a holds the ids of buckets < a); the mirror of the
// non-NULL set does not change.
func (c *numCol) cpMove(id uint32, from, to int) {
	for i := range c.cps {
		cp := &c.cps[i]
		switch in, was := to < cp.at, from < cp.at; {
		case was && !in:
			cp.d.clear(id)
			cp.card--
		case in && !was:
			cp.d.set(id)
			cp.card++
		}
	}
}
