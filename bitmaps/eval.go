package bitmaps

import (
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// Plan execution. Internally a result is a bitmap plus whether the executor
// owns it: leaves return the index's stored bitmaps (owned = false) and are
// never modified; operators allocate. Every result is a subset of the live
// ids. A leaf naming an unknown field, or a value of a type the field cannot
// hold, matches nothing (see Validate to report those).

// filterFactor is how much more a per-id test (column read) costs than adding
// one id to a bitmap union; it decides between scanning the ids of an AND's
// running result and using the bucket index.
const filterFactor = 4

// Eval returns the live users matching n as a new bitmap owned by the caller.
func (ix *Index) Eval(n Node) *roaring.Bitmap {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.denseWorth(n) {
		return ix.denseEval(n)
	}
	b, owned := ix.eval(n)
	if !owned {
		b = b.Clone()
	}
	return b
}

// Count returns the number of live users matching n without materialising
// what it can avoid: leaves are counted from their bitmaps, an AND's last
// step is an AndCardinality (or a counting scan), a NOT is a subtraction.
func (ix *Index) Count(n Node) uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.count(n)
}

func (ix *Index) column(name string) (column, bool) {
	i, ok := ix.byName[name]
	if !ok {
		return nil, false
	}
	return ix.cols[i], true
}

func empty() (*roaring.Bitmap, bool) { return roaring.New(), true }

func (ix *Index) eval(n Node) (*roaring.Bitmap, bool) {
	switch n := n.(type) {
	case All:
		return ix.live, false
	case *And:
		if len(n.Terms) == 0 {
			return ix.live, false
		}
		acc, owned := ix.eval(n.Terms[0])
		for _, t := range n.Terms[1:] {
			if acc.IsEmpty() {
				break
			}
			acc, owned = ix.within(t, acc, owned), true
		}
		return acc, owned
	case *Or:
		return ix.evalOr(n.Terms)
	case *Not:
		x, _ := ix.eval(n.X)
		return roaring.AndNot(ix.live, x), true
	case *Const:
		if n.B == nil {
			return empty()
		}
		return roaring.And(n.B, ix.live), true
	case *Scan:
		return ix.scan(n, ix.live), true
	case *Eq, *In, *Range, *Exists, *ListHas, *StrPred:
		return ix.leaf(n)
	}
	return empty() // None, nil, unknown nodes
}

func (ix *Index) evalOr(terms []Node) (*roaring.Bitmap, bool) {
	switch len(terms) {
	case 0:
		return empty()
	case 1:
		return ix.eval(terms[0])
	}
	parts := make([]*roaring.Bitmap, 0, len(terms))
	for _, t := range terms {
		b, _ := ix.eval(t)
		parts = append(parts, b)
	}
	return roaring.FastOr(parts...), true
}

// leaf evaluates a leaf node against its column.
func (ix *Index) leaf(n Node) (*roaring.Bitmap, bool) {
	switch n := n.(type) {
	case *Eq:
		return ix.leafIn(n.Field, []any{n.Value})
	case *In:
		return ix.leafIn(n.Field, n.Values)
	case *Range:
		c, ok := ix.numeric(n.Field)
		if !ok {
			return empty()
		}
		lo, hi, ok := keyRange(c.kind, n)
		if !ok {
			return empty()
		}
		return c.rangeBitmap(lo, hi, nil)
	case *Exists:
		c, ok := ix.column(n.Field)
		if !ok {
			return empty()
		}
		return c.present()
	case *ListHas:
		return ix.listHas(n)
	case *StrPred:
		return ix.strPred(n)
	}
	return empty()
}

func (ix *Index) numeric(name string) (*numCol, bool) {
	c, ok := ix.column(name)
	if !ok {
		return nil, false
	}
	nc, ok := c.(*numCol)
	return nc, ok
}

// leafBitmaps returns the stored bitmaps whose union is "field is one of
// vals" for a string, bool or list field (for a list: contains one of vals),
// and whether they are pairwise disjoint.
func (ix *Index) leafBitmaps(field string, vals []any) (bms []*roaring.Bitmap, disjoint bool) {
	c, ok := ix.column(field)
	if !ok {
		return nil, true
	}
	switch c := c.(type) {
	case *strCol:
		return dictBitmaps(&c.dict, vals), true
	case *listCol:
		return dictBitmaps(&c.dict, vals), false
	case *boolCol:
		var t, f bool
		for _, v := range vals {
			if b, ok := v.(bool); ok {
				t, f = t || b, f || !b
			}
		}
		if t {
			bms = append(bms, c.t)
		}
		if f {
			bms = append(bms, c.f)
		}
		return bms, true
	}
	return nil, true // numeric columns: see leafIn and countIn
}

func dictBitmaps(d *dict, vals []any) []*roaring.Bitmap {
	var bms []*roaring.Bitmap
	seen := make(map[uint32]bool, len(vals))
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if code, ok := d.index[s]; ok && !seen[code] {
			seen[code] = true
			bms = append(bms, d.bms[code-1])
		}
	}
	return bms
}

func distinctKeys(k Kind, vals []any) []uint64 {
	keys := make([]uint64, 0, len(vals))
	for _, v := range vals {
		if key, ok := keyOf(k, v); ok {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func (ix *Index) leafIn(field string, vals []any) (*roaring.Bitmap, bool) {
	if c, ok := ix.numeric(field); ok {
		keys := distinctKeys(c.kind, vals)
		switch len(keys) {
		case 0:
			return empty()
		case 1:
			return c.eqBitmap(keys[0])
		}
		parts := make([]*roaring.Bitmap, len(keys))
		for i, k := range keys {
			parts[i], _ = c.eqBitmap(k)
		}
		return roaring.FastOr(parts...), true
	}
	bms, _ := ix.leafBitmaps(field, vals)
	switch len(bms) {
	case 0:
		return empty()
	case 1:
		return bms[0], false
	}
	return roaring.FastOr(bms...), true
}

func (ix *Index) listHas(n *ListHas) (*roaring.Bitmap, bool) {
	c, ok := ix.column(n.Field)
	if !ok {
		return empty()
	}
	lc, ok := c.(*listCol)
	if !ok {
		return empty()
	}
	vals := make([]any, len(n.Values))
	for i, v := range n.Values {
		vals[i] = v
	}
	if !n.All {
		bms := dictBitmaps(&lc.dict, vals)
		switch len(bms) {
		case 0:
			return empty()
		case 1:
			return bms[0], false
		}
		return roaring.FastOr(bms...), true
	}
	if len(n.Values) == 0 {
		return lc.ex, false // vacuously true, but never on NULL
	}
	bms := make([]*roaring.Bitmap, 0, len(n.Values))
	for _, v := range n.Values {
		b := lc.dict.bitmap(v)
		if b == nil {
			return empty()
		}
		bms = append(bms, b)
	}
	slices.SortFunc(bms, func(a, b *roaring.Bitmap) int {
		return cmpU64(a.GetCardinality(), b.GetCardinality())
	})
	bms = slices.Compact(bms)
	if len(bms) == 1 {
		return bms[0], false
	}
	acc := roaring.And(bms[0], bms[1])
	for _, b := range bms[2:] {
		if acc.IsEmpty() {
			break
		}
		acc.And(b)
	}
	return acc, true
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// strMatches returns the bitmaps of the distinct values of a string field
// for which fn is true (each value tested once).
func strMatches(c *strCol, fn func(string) bool) []*roaring.Bitmap {
	var bms []*roaring.Bitmap
	for i, b := range c.bms {
		if !b.IsEmpty() && fn(c.vals[i]) {
			bms = append(bms, b)
		}
	}
	return bms
}

func (ix *Index) strPred(n *StrPred) (*roaring.Bitmap, bool) {
	c, ok := ix.column(n.Field)
	if !ok || n.Fn == nil {
		return empty()
	}
	sc, ok := c.(*strCol)
	if !ok {
		return empty()
	}
	bms := strMatches(sc, n.Fn)
	switch len(bms) {
	case 0:
		return empty()
	case 1:
		return bms[0], false
	}
	return roaring.FastOr(bms...), true
}

// scan runs a Scan node's Fn for every id of set (a subset of the live ids).
func (ix *Index) scan(n *Scan, set *roaring.Bitmap) *roaring.Bitmap {
	res := roaring.New()
	ix.scanEach(n, set, func(ids []uint32) { res.AddMany(ids) })
	return res
}

func (ix *Index) scanCount(n *Scan, set *roaring.Bitmap) uint64 {
	var c uint64
	ix.scanEach(n, set, func(ids []uint32) { c += uint64(len(ids)) })
	return c
}

func (ix *Index) scanEach(n *Scan, set *roaring.Bitmap, emit func([]uint32)) {
	if n.Fn == nil {
		return
	}
	cols := make([]column, len(n.Fields))
	for i, f := range n.Fields {
		cols[i], _ = ix.column(f)
	}
	vals := make([]any, len(n.Fields))
	var buf [256]uint32
	out := make([]uint32, 0, len(buf))
	it := set.ManyIterator()
	for k := it.NextMany(buf[:]); k > 0; k = it.NextMany(buf[:]) {
		out = out[:0]
		for _, id := range buf[:k] {
			for i, c := range cols {
				vals[i] = nil
				if c != nil {
					vals[i] = c.get(id)
				}
			}
			if n.Fn(vals) {
				out = append(out, id)
			}
		}
		if len(out) > 0 {
			emit(out)
		}
	}
}

// cheap reports whether n evaluates without scanning ids, so that
// restricting it to an AND's running result gains nothing.
func (ix *Index) cheap(n Node) bool {
	switch n := n.(type) {
	case All, None, *Const, *Exists, *ListHas, *StrPred:
		return true
	case *Eq:
		_, num := ix.numeric(n.Field)
		return !num
	case *In:
		_, num := ix.numeric(n.Field)
		return !num
	}
	return false
}

// intersect returns acc ∩ b, reusing acc when owned.
func intersect(acc *roaring.Bitmap, owned bool, b *roaring.Bitmap) *roaring.Bitmap {
	if owned {
		acc.And(b)
		return acc
	}
	return roaring.And(acc, b)
}

// within returns acc ∩ n (owned), reusing acc when owned. It restricts work
// to the ids of acc where that is cheaper than evaluating n alone.
func (ix *Index) within(n Node, acc *roaring.Bitmap, owned bool) *roaring.Bitmap {
	switch n := n.(type) {
	case All:
		if owned {
			return acc
		}
		return acc.Clone()
	case *And:
		for _, t := range n.Terms {
			if acc.IsEmpty() {
				break
			}
			acc, owned = ix.within(t, acc, owned), true
		}
		if !owned {
			acc = acc.Clone()
		}
		return acc
	case *Or:
		if len(n.Terms) == 0 {
			return roaring.New()
		}
		// Cheap terms are unioned whole and cut down to acc once; the others
		// are evaluated within acc already.
		parts := make([]*roaring.Bitmap, 0, len(n.Terms))
		anyCheap := false
		for _, t := range n.Terms {
			if ix.cheap(t) {
				b, _ := ix.eval(t)
				parts = append(parts, b)
				anyCheap = true
			} else {
				parts = append(parts, ix.within(t, acc, false))
			}
		}
		var u *roaring.Bitmap
		if len(parts) == 1 {
			u = parts[0]
			if anyCheap {
				return roaring.And(u, acc)
			}
			return u
		}
		u = roaring.FastOr(parts...)
		if anyCheap {
			u.And(acc)
		}
		return u
	case *Not:
		var x *roaring.Bitmap
		if ix.cheap(n.X) {
			x, _ = ix.eval(n.X)
		} else {
			x = ix.within(n.X, acc, false)
		}
		if owned {
			acc.AndNot(x)
			return acc
		}
		return roaring.AndNot(acc, x)
	case *Scan:
		return ix.scan(n, acc)
	case *Range:
		c, ok := ix.numeric(n.Field)
		if !ok {
			return roaring.New()
		}
		lo, hi, ok := keyRange(c.kind, n)
		if !ok {
			return roaring.New()
		}
		if acc.GetCardinality()*filterFactor < c.rangeCost(lo, hi) {
			return c.rangeFilter(lo, hi, acc)
		}
		b, _ := c.rangeBitmap(lo, hi, acc)
		return b
	case *Eq:
		if c, ok := ix.numeric(n.Field); ok {
			k, ok := keyOf(c.kind, n.Value)
			if !ok {
				return roaring.New()
			}
			return c.eqWithin(k, acc)
		}
	case *In:
		if c, ok := ix.numeric(n.Field); ok {
			keys := distinctKeys(c.kind, n.Values)
			parts := make([]*roaring.Bitmap, len(keys))
			for i, k := range keys {
				parts[i] = c.eqWithin(k, acc)
			}
			return roaring.FastOr(parts...)
		}
	}
	b, _ := ix.eval(n)
	return intersect(acc, owned, b)
}

// eqWithin returns the ids of acc whose key is k.
func (c *numCol) eqWithin(k uint64, acc *roaring.Bitmap) *roaring.Bitmap {
	b := c.bucketOf(k)
	in := roaring.And(acc, c.bms[b])
	if c.singleValued(b) {
		return in
	}
	res := roaring.New()
	c.scan(in, k, k, true, res.AddMany)
	return res
}

func (c *numCol) eqCount(k uint64, acc *roaring.Bitmap) uint64 {
	b := c.bucketOf(k)
	bm := c.bms[b]
	if c.singleValued(b) {
		if acc == nil {
			return c.cards[b]
		}
		return bm.AndCardinality(acc)
	}
	if acc != nil {
		bm = roaring.And(acc, bm)
	}
	return c.scanCount(bm, k, k)
}

func (ix *Index) count(n Node) uint64 {
	switch n := n.(type) {
	case All:
		return ix.live.GetCardinality()
	case *Not:
		return ix.live.GetCardinality() - ix.count(n.X)
	case *And:
		switch len(n.Terms) {
		case 0:
			return ix.live.GetCardinality()
		case 1:
			return ix.count(n.Terms[0])
		}
		if ix.denseWorth(n) {
			return ix.denseCount(n)
		}
		acc, owned := ix.eval(n.Terms[0])
		last := len(n.Terms) - 1
		for _, t := range n.Terms[1:last] {
			if acc.IsEmpty() {
				return 0
			}
			acc, owned = ix.within(t, acc, owned), true
		}
		return ix.countWithin(n.Terms[last], acc)
	case *Or:
		if ix.denseOn && len(n.Terms) == 2 {
			if c, ok := ix.denseOrCount(n.Terms[0], n.Terms[1]); ok {
				return c
			}
		}
		if len(n.Terms) == 2 && ix.cheap(n.Terms[0]) && ix.cheap(n.Terms[1]) {
			a, _ := ix.eval(n.Terms[0])
			b, _ := ix.eval(n.Terms[1])
			return a.OrCardinality(b)
		}
		if ix.denseWorth(n) {
			return ix.denseCount(n)
		}
	case *Const:
		if n.B == nil {
			return 0
		}
		return n.B.AndCardinality(ix.live)
	case *Scan:
		return ix.scanCount(n, ix.live)
	case *Range:
		c, ok := ix.numeric(n.Field)
		if !ok {
			return 0
		}
		lo, hi, ok := keyRange(c.kind, n)
		if !ok {
			return 0
		}
		return c.rangeCount(lo, hi, nil)
	case *Eq:
		return ix.countIn(n.Field, []any{n.Value}, nil)
	case *In:
		if c, ok := ix.unionCount(n); ok {
			return c
		}
		return ix.countIn(n.Field, n.Values, nil)
	case *ListHas:
		if c, ok := ix.unionCount(n); ok {
			return c
		}
	}
	b, _ := ix.eval(n)
	return b.GetCardinality()
}

// countIn counts "field is one of vals" (within acc when not nil).
func (ix *Index) countIn(field string, vals []any, acc *roaring.Bitmap) uint64 {
	card := func(b *roaring.Bitmap) uint64 {
		if acc == nil {
			return b.GetCardinality()
		}
		return b.AndCardinality(acc)
	}
	if c, ok := ix.numeric(field); ok {
		var n uint64
		for _, k := range distinctKeys(c.kind, vals) {
			n += c.eqCount(k, acc)
		}
		return n
	}
	bms, disjoint := ix.leafBitmaps(field, vals)
	switch {
	case len(bms) == 0:
		return 0
	case len(bms) == 1:
		return card(bms[0])
	case disjoint:
		var n uint64
		for _, b := range bms {
			n += card(b)
		}
		return n
	case len(bms) == 2 && acc == nil:
		return bms[0].OrCardinality(bms[1])
	}
	return card(roaring.FastOr(bms...))
}

// countWithin returns |acc ∩ n|.
func (ix *Index) countWithin(n Node, acc *roaring.Bitmap) uint64 {
	switch n := n.(type) {
	case All:
		return acc.GetCardinality()
	case *Not:
		return acc.GetCardinality() - ix.countWithin(n.X, acc)
	case *And:
		if len(n.Terms) == 0 {
			return acc.GetCardinality()
		}
		owned := false
		last := len(n.Terms) - 1
		for _, t := range n.Terms[:last] {
			if acc.IsEmpty() {
				return 0
			}
			acc, owned = ix.within(t, acc, owned), true
		}
		return ix.countWithin(n.Terms[last], acc)
	case *Const:
		if n.B == nil {
			return 0
		}
		return acc.AndCardinality(n.B)
	case *Scan:
		return ix.scanCount(n, acc)
	case *Range:
		c, ok := ix.numeric(n.Field)
		if !ok {
			return 0
		}
		lo, hi, ok := keyRange(c.kind, n)
		if !ok {
			return 0
		}
		if acc.GetCardinality()*filterFactor < c.rangeCost(lo, hi) {
			return c.scanCount(roaring.And(acc, c.ex), lo, hi)
		}
		return c.rangeCount(lo, hi, acc)
	case *Eq:
		return ix.countIn(n.Field, []any{n.Value}, acc)
	case *In:
		return ix.countIn(n.Field, n.Values, acc)
	case *Or:
		return ix.within(n, acc, false).GetCardinality()
	}
	b, _ := ix.eval(n)
	return acc.AndCardinality(b)
}
