package bitmaps

import (
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// The dense evaluator runs a whole plan in flat bitsets of the id space
// (ids/64 words each): AND, OR and ANDNOT are word loops, a count is a
// popcount, value bitmaps of some density have dense mirrors, numeric
// ranges come from checkpoints (rangeplan.go). Its cost is a few passes of
// ids/64 words per operator whatever the sets' sizes, where the roaring
// evaluator's cost follows the operands' cardinalities and container
// types (an AND of a 6% array-container set with a 25% range merges
// hundreds of thousands of array entries). The index uses it, from
// denseMinIDs ids on, for plans with operators whose smallest AND term is
// not selective; selective ANDs, lone leaves and scans stay with roaring.

// denseWorth reports whether n is better evaluated densely.
func (ix *Index) denseWorth(n Node) bool {
	if !ix.denseOn || !denseSupported(n) {
		return false
	}
	switch n := n.(type) {
	case *And:
		if len(n.Terms) < 2 {
			return false
		}
		// A selective term: the roaring evaluator touches only its ids.
		ids := uint64(ix.users.n())
		for _, t := range n.Terms {
			if ix.estimate(t)*64 < ids {
				return false
			}
		}
		return true
	case *Or:
		return len(n.Terms) >= 2
	case *Not, *Range:
		return true
	}
	return false
}

// denseSupported reports whether every node of n has a dense evaluation
// (scans do not).
func denseSupported(n Node) bool {
	switch n := n.(type) {
	case *Scan:
		return false
	case *And:
		for _, t := range n.Terms {
			if !denseSupported(t) {
				return false
			}
		}
	case *Or:
		for _, t := range n.Terms {
			if !denseSupported(t) {
				return false
			}
		}
	case *Not:
		return denseSupported(n.X)
	}
	return true
}

// dvm is one dense evaluation: scratch bitsets come from densePool.
type dvm struct {
	ix      *Index
	words   int
	allLive bool // every id < words*64 that exists is live: live is [0, ids)
	ids     int
	sc      rangeScratch
}

// Evaluators are recycled with their scratch memory through a free list
// (see getDense for why not a sync.Pool).
var (
	dvmMu   sync.Mutex
	dvmFree []*dvm
)

func (ix *Index) newDVM() *dvm {
	dvmMu.Lock()
	var v *dvm
	if k := len(dvmFree); k > 0 {
		v, dvmFree = dvmFree[k-1], dvmFree[:k-1]
	}
	dvmMu.Unlock()
	if v == nil {
		v = new(dvm)
	}
	n := ix.users.n()
	v.ix, v.words, v.ids, v.allLive = ix, wordsFor(n), n, ix.live.GetCardinality() == uint64(n)
	return v
}

func (v *dvm) release() {
	v.ix = nil
	dvmMu.Lock()
	if len(dvmFree) < maxScratch/2 {
		dvmFree = append(dvmFree, v)
	}
	dvmMu.Unlock()
}

func (v *dvm) get() *dense { return getDense(v.words) }

// denseEval returns the members of n as a new roaring bitmap.
func (ix *Index) denseEval(n Node) *roaring.Bitmap {
	v := ix.newDVM()
	defer v.release()
	p := v.get()
	defer putDense(p)
	v.into(n, *p)
	return toRoaring(*p)
}

// denseCount returns the number of members of n.
func (ix *Index) denseCount(n Node) uint64 {
	v := ix.newDVM()
	defer v.release()
	p := v.get()
	defer putDense(p)
	dst := *p
	if a, ok := n.(*And); ok && len(a.Terms) >= 2 {
		// A range term is counted within the other terms' members without
		// being materialised (numCol.rangeCountIn).
		for i := len(a.Terms) - 1; i >= 0; i-- {
			r, ok := a.Terms[i].(*Range)
			if !ok {
				continue
			}
			c, ok := v.ix.numeric(r.Field)
			if !ok {
				return 0
			}
			lo, hi, ok := keyRange(c.kind, r)
			if !ok {
				return 0
			}
			rest := make([]Node, 0, len(a.Terms)-1)
			rest = append(append(rest, a.Terms[:i]...), a.Terms[i+1:]...)
			m := dst
			if len(rest) == 1 {
				m = v.direct(rest[0])
			}
			if m == nil || len(rest) > 1 {
				m = dst
				v.into(&And{Terms: rest}, dst)
			}
			return c.rangeCountIn(lo, hi, m, &v.sc)
		}
		// Else it ends with a popcount of the last term's intersection,
		// unmade.
		last := a.Terms[len(a.Terms)-1]
		if d := v.direct(last); d != nil {
			v.into(&And{Terms: a.Terms[:len(a.Terms)-1]}, dst)
			return popcountAnd(dst, d)
		}
	}
	v.into(n, dst)
	return popcount(dst)
}

// denseOrCount counts a OR b in one popcount pass when both are stored
// dense sets (a weekend reader: Saturday or Sunday in peak_days).
func (ix *Index) denseOrCount(a, b Node) (uint64, bool) {
	v := ix.newDVM()
	defer v.release()
	da, db := v.direct(a), v.direct(b)
	if da == nil || db == nil {
		return 0, false
	}
	return popcountOr(da, db), true
}

// unionCount counts a leaf that is a union of overlapping sets (In on a
// list field, HAS ANY) without building the union: one popcount pass when
// they all have dense mirrors, roaring's OrCardinality for two bitmaps.
// ok is false when neither applies (or the sets are disjoint, which
// countIn sums).
func (ix *Index) unionCount(n Node) (uint64, bool) {
	if _, ok := n.(*In); ok {
		if _, isList := ix.listColumn(n.(*In).Field); !isList {
			return 0, false
		}
	}
	ds, bs, all := ix.sources(n)
	switch {
	case all:
		return 0, false
	case len(ds)+len(bs) == 0:
		return 0, true
	case len(ds)+len(bs) == 1:
		return 0, false // a stored bitmap: its cardinality is at hand
	case len(bs) == 0 && len(ds) == 2:
		return popcountOr(ds[0], ds[1]), true
	case len(bs) == 0:
		v := ix.newDVM()
		defer v.release()
		p := v.get()
		defer putDense(p)
		v.combine(*p, ds, nil, false)
		return popcount(*p), true
	case len(ds) == 0 && len(bs) == 2:
		return bs[0].OrCardinality(bs[1]), true
	}
	return 0, false
}

// into overwrites dst with the members of n.
func (v *dvm) into(n Node, dst dense) {
	switch n := n.(type) {
	case All:
		v.live(dst)
	case *Not:
		v.into(n.X, dst)
		v.complement(dst)
	case *And:
		if len(n.Terms) == 0 {
			v.live(dst)
			return
		}
		v.into(n.Terms[0], dst)
		for _, t := range n.Terms[1:] {
			v.and(t, dst)
		}
	case *Or:
		if len(n.Terms) == 0 {
			clear(dst)
			return
		}
		v.into(n.Terms[0], dst)
		for _, t := range n.Terms[1:] {
			v.or(t, dst)
		}
	case *Range:
		c, ok := v.ix.numeric(n.Field)
		if !ok {
			clear(dst)
			return
		}
		lo, hi, ok := keyRange(c.kind, n)
		if !ok {
			clear(dst)
			return
		}
		c.rangeDense(lo, hi, dst, &v.sc)
	case *Const:
		clear(dst)
		if n.B == nil {
			return
		}
		v.loadRoaring(dst, n.B)
		if v.allLive {
			maskIDs(dst, v.ids) // a Const may name ids the index never assigned
		} else {
			v.andLive(dst)
		}
	case *Eq, *In, *ListHas, *StrPred, *Exists:
		ds, bs, all := v.ix.sources(n)
		v.combine(dst, ds, bs, all)
	default: // None, and nodes the evaluator does not know
		clear(dst)
	}
}

// and intersects dst with the members of t.
func (v *dvm) and(t Node, dst dense) {
	if n, ok := t.(*Not); ok {
		if d := v.direct(n.X); d != nil {
			andNotWords(dst, d)
			return
		}
		p := v.get()
		defer putDense(p)
		v.into(n.X, *p)
		andNotWords(dst, *p)
		return
	}
	if d := v.direct(t); d != nil {
		andWords(dst, d)
		return
	}
	if r, ok := t.(*Range); ok {
		c, ok := v.ix.numeric(r.Field)
		if !ok {
			clear(dst)
			return
		}
		lo, hi, ok := keyRange(c.kind, r)
		if !ok {
			clear(dst)
			return
		}
		c.andRange(lo, hi, dst, &v.sc)
		return
	}
	p := v.get()
	defer putDense(p)
	v.into(t, *p)
	andWords(dst, *p)
}

// or adds the members of t to dst.
func (v *dvm) or(t Node, dst dense) {
	switch t.(type) {
	case *Eq, *In, *ListHas, *StrPred, *Exists:
		ds, bs, all := v.ix.sources(t)
		if !all {
			for _, d := range ds {
				orWords(dst, d)
			}
			for _, b := range bs {
				v.orRoaring(dst, b)
			}
			return
		}
	}
	p := v.get()
	defer putDense(p)
	v.into(t, *p)
	orWords(dst, *p)
}

// direct returns the stored dense bitset that is exactly the members of t,
// if there is one.
func (v *dvm) direct(t Node) dense {
	switch t.(type) {
	case *Eq, *In, *ListHas, *StrPred, *Exists:
		ds, bs, _ := v.ix.sources(t)
		if len(ds) == 1 && len(bs) == 0 {
			return ds[0]
		}
	}
	return nil
}

// combine overwrites dst with the union (or, all: the intersection) of the
// dense sets ds and the roaring bitmaps bs.
func (v *dvm) combine(dst dense, ds []dense, bs []*roaring.Bitmap, all bool) {
	if len(ds) == 0 && len(bs) == 0 {
		clear(dst)
		return
	}
	first := true
	for _, d := range ds {
		switch {
		case first:
			copyWords(dst, d)
		case all:
			andWords(dst, d)
		default:
			orWords(dst, d)
		}
		first = false
	}
	for _, b := range bs {
		switch {
		case first:
			clear(dst)
			v.loadRoaring(dst, b)
		case all:
			p := v.get()
			clear(*p)
			v.loadRoaring(*p, b)
			andWords(dst, *p)
			putDense(p)
		default:
			v.orRoaring(dst, b)
		}
		first = false
	}
}

// loadRoaring ORs b into dst, which must be clear where b has bitmap
// containers (roaring's WriteDenseTo copies those). Ids beyond dst are
// dropped.
func (v *dvm) loadRoaring(dst dense, b *roaring.Bitmap) {
	if b.IsEmpty() {
		return
	}
	if int(b.Maximum()) < len(dst)*64 {
		b.WriteDenseTo(dst)
		return
	}
	var buf [512]uint32
	it := b.ManyIterator()
	for n := it.NextMany(buf[:]); n > 0; n = it.NextMany(buf[:]) {
		for _, id := range buf[:n] {
			if int(id>>6) < len(dst) {
				dst.set(id)
			}
		}
	}
}

// orRoaring ORs b into dst: id by id when b is sparse, else through a
// scratch bitset.
func (v *dvm) orRoaring(dst dense, b *roaring.Bitmap) {
	if b.GetCardinality()*64 < uint64(v.ids) {
		v.loadRoaringSparse(dst, b)
		return
	}
	p := v.get()
	defer putDense(p)
	clear(*p)
	v.loadRoaring(*p, b)
	orWords(dst, *p)
}

func (v *dvm) loadRoaringSparse(dst dense, b *roaring.Bitmap) {
	var buf [512]uint32
	it := b.ManyIterator()
	for n := it.NextMany(buf[:]); n > 0; n = it.NextMany(buf[:]) {
		for _, id := range buf[:n] {
			if int(id>>6) < len(dst) {
				dst.set(id)
			}
		}
	}
}

// live overwrites dst with the live ids.
func (v *dvm) live(dst dense) {
	if v.allLive {
		fillIDs(dst, v.ids)
		return
	}
	clear(dst)
	v.loadRoaring(dst, v.ix.live)
}

// fillIDs sets ids [0, n) and clears the rest of d.
func fillIDs(d dense, n int) {
	full := n / 64
	for i := range d[:full] {
		d[i] = ^uint64(0)
	}
	if full < len(d) {
		d[full] = 1<<(uint(n)%64) - 1
		clear(d[full+1:])
	}
}

// maskIDs clears the bits of ids n and above.
func maskIDs(d dense, n int) {
	full := n / 64
	if full < len(d) {
		d[full] &= 1<<(uint(n)%64) - 1
		clear(d[full+1:])
	}
}

// complement replaces dst by the live ids not in it.
func (v *dvm) complement(dst dense) {
	if v.allLive {
		for i := range dst {
			dst[i] = ^dst[i]
		}
		maskIDs(dst, v.ids)
		return
	}
	p := v.get()
	defer putDense(p)
	v.live(*p)
	l := (*p)[:len(dst):len(dst)]
	for i := range dst {
		dst[i] = l[i] &^ dst[i]
	}
}

// andLive drops dead ids from dst.
func (v *dvm) andLive(dst dense) {
	p := v.get()
	defer putDense(p)
	v.live(*p)
	andWords(dst, *p)
}

// sources returns the sets whose union (all: intersection) is the leaf n:
// dense mirrors where the column has them, roaring bitmaps otherwise.
func (ix *Index) sources(n Node) (ds []dense, bs []*roaring.Bitmap, all bool) {
	switch n := n.(type) {
	case *Eq:
		ds, bs = ix.valueSources(n.Field, []any{n.Value})
	case *In:
		ds, bs = ix.valueSources(n.Field, n.Values)
	case *ListHas:
		lc, ok := ix.listColumn(n.Field)
		if !ok {
			return nil, nil, false
		}
		if n.All && len(n.Values) == 0 {
			return nil, []*roaring.Bitmap{lc.ex}, false // vacuously true, never on NULL
		}
		seen := map[uint32]bool{}
		for _, v := range n.Values {
			code, ok := lc.index[v]
			if !ok {
				if n.All {
					return nil, nil, false // a value nobody has: empty
				}
				continue
			}
			if seen[code] {
				continue
			}
			seen[code] = true
			if d := lc.mir.get(int(code - 1)); d != nil {
				ds = append(ds, d)
			} else {
				bs = append(bs, lc.bms[code-1])
			}
		}
		return ds, bs, n.All
	case *StrPred:
		c, ok := ix.column(n.Field)
		sc, isStr := c.(*strCol)
		if !ok || !isStr || n.Fn == nil {
			return nil, nil, false
		}
		for i, b := range sc.bms {
			if !b.IsEmpty() && n.Fn(sc.vals[i]) {
				if d := sc.mir.get(i); d != nil {
					ds = append(ds, d)
				} else {
					bs = append(bs, b)
				}
			}
		}
	case *Exists:
		c, ok := ix.column(n.Field)
		if !ok {
			return nil, nil, false
		}
		if nc, ok := c.(*numCol); ok && nc.exD != nil {
			return []dense{nc.exD}, nil, false
		}
		b, _ := c.present()
		bs = []*roaring.Bitmap{b}
	}
	return ds, bs, false
}

func (ix *Index) listColumn(field string) (*listCol, bool) {
	c, ok := ix.column(field)
	if !ok {
		return nil, false
	}
	lc, ok := c.(*listCol)
	return lc, ok
}

// valueSources is sources for "field is one of vals".
func (ix *Index) valueSources(field string, vals []any) (ds []dense, bs []*roaring.Bitmap) {
	c, ok := ix.column(field)
	if !ok {
		return nil, nil
	}
	dictSources := func(d *dict, m *mirrors) {
		var seen []uint32
		for _, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue
			}
			code, ok := d.index[s]
			if !ok || containsCode(seen, code) {
				continue
			}
			seen = append(seen, code)
			if md := m.get(int(code - 1)); md != nil {
				ds = append(ds, md)
			} else {
				bs = append(bs, d.bms[code-1])
			}
		}
	}
	switch c := c.(type) {
	case *strCol:
		dictSources(&c.dict, &c.mir)
	case *listCol:
		dictSources(&c.dict, &c.mir)
	case *boolCol:
		var t, f bool
		for _, v := range vals {
			if b, ok := v.(bool); ok {
				t, f = t || b, f || !b
			}
		}
		for i, want := range []bool{f, t} {
			if !want {
				continue
			}
			if md := c.mir.get(i); md != nil {
				ds = append(ds, md)
			} else {
				bs = append(bs, c.of(i == 1))
			}
		}
	case *numCol:
		for _, k := range distinctKeys(c.kind, vals) {
			b, _ := c.eqBitmap(k)
			bs = append(bs, b)
		}
	}
	return ds, bs
}

func containsCode(codes []uint32, c uint32) bool {
	for _, x := range codes {
		if x == c {
			return true
		}
	}
	return false
}
