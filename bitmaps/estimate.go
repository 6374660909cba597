package bitmaps

import "math"

// Estimate returns a cheap estimate of Count(n), for ordering AND terms and
// printing plans. Leaves answered by stored bitmaps are exact (ListHas of
// several values assumes them independent); numeric ranges count whole
// buckets and half of each boundary bucket; a StrPred over many distinct
// values tests a sample of them; a Scan is guessed at half the users; AND
// and OR combine their terms assuming independence.
func (ix *Index) Estimate(n Node) uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.estimate(n)
}

const strPredSample = 256

func (ix *Index) estimate(n Node) uint64 {
	total := ix.live.GetCardinality()
	if total == 0 {
		return 0
	}
	frac := func(x uint64) float64 { return float64(min(x, total)) / float64(total) }
	switch n := n.(type) {
	case All:
		return total
	case *Not:
		return total - min(total, ix.estimate(n.X))
	case *And:
		p := 1.0
		for _, t := range n.Terms {
			p *= frac(ix.estimate(t))
		}
		return uint64(math.Round(p * float64(total)))
	case *Or:
		q := 1.0
		for _, t := range n.Terms {
			q *= 1 - frac(ix.estimate(t))
		}
		return uint64(math.Round((1 - q) * float64(total)))
	case *Const:
		if n.B == nil {
			return 0
		}
		return min(total, n.B.GetCardinality())
	case *Scan:
		return total / 2
	case *Range:
		c, ok := ix.numeric(n.Field)
		if !ok {
			return 0
		}
		lo, hi, ok := keyRange(c.kind, n)
		if !ok {
			return 0
		}
		bi, bj, partLo, partHi := c.span(lo, hi)
		var e uint64
		for i := bi; i <= bj; i++ {
			card := c.cards[i]
			if (i == bi && partLo) || (i == bj && partHi) {
				card /= 2
			}
			e += card
		}
		return e
	case *Eq:
		return ix.estimateIn(n.Field, []any{n.Value})
	case *In:
		return ix.estimateIn(n.Field, n.Values)
	case *StrPred:
		c, ok := ix.column(n.Field)
		sc, isStr := c.(*strCol)
		if !ok || !isStr || n.Fn == nil {
			return 0
		}
		if len(sc.vals) <= strPredSample {
			return ix.count(n)
		}
		var matched, seen uint64
		step := len(sc.vals) / strPredSample
		for i := 0; i < len(sc.vals); i += step {
			card := sc.bms[i].GetCardinality()
			seen += card
			if card > 0 && n.Fn(sc.vals[i]) {
				matched += card
			}
		}
		if seen == 0 {
			return 0
		}
		return uint64(float64(matched) / float64(seen) * float64(sc.ex.GetCardinality()))
	case *Exists:
		c, ok := ix.column(n.Field)
		if !ok {
			return 0
		}
		switch c := c.(type) {
		case *numCol:
			return c.n
		case *boolCol:
			return c.t.GetCardinality() + c.f.GetCardinality()
		}
		b, _ := c.present()
		return b.GetCardinality()
	case *ListHas:
		// Independent values: a union or an intersection of their bitmaps.
		lc, ok := ix.listColumn(n.Field)
		if !ok {
			return 0
		}
		if n.All && len(n.Values) == 0 {
			return lc.ex.GetCardinality()
		}
		p := 1.0
		for _, v := range n.Values {
			var card uint64
			if b := lc.dict.bitmap(v); b != nil {
				card = b.GetCardinality()
			}
			if n.All {
				p *= frac(card)
			} else {
				p *= 1 - frac(card)
			}
		}
		if !n.All {
			p = 1 - p
		}
		return uint64(math.Round(p * float64(total)))
	}
	return ix.count(n) // None, unknown: exact and cheap
}

func (ix *Index) estimateIn(field string, vals []any) uint64 {
	c, ok := ix.numeric(field)
	if !ok {
		return ix.countIn(field, vals, nil)
	}
	var e uint64
	for _, k := range distinctKeys(c.kind, vals) {
		b := c.bucketOf(k)
		card := c.cards[b]
		switch {
		case c.singleValued(b) || card == 0:
			e += card
		case c.kind == KindFloat:
			e++
		default: // spread evenly over the bucket's integer span
			span := c.hiOf(b) - c.lows[b]
			if span < math.MaxUint64 {
				span++
			}
			e += max(1, card/span)
		}
	}
	return e
}
