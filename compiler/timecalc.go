package compiler

import (
	"math"
	"math/big"
	"time"
)

// Time arithmetic shared by the backends. now is always truncated to the
// second (timestamps have second resolution): nowSec(t) = floor(t in Unix
// seconds). Every bound is computed exactly and clamped, never wrapped.

const secondsPerDay = 86400

// nowSec is now in Unix seconds, rounded down.
func nowSec(t time.Time) int64 { return t.Unix() }

// ibounds is an inclusive integer range; a false has* means open.
type ibounds struct {
	lo, hi       int64
	hasLo, hasHi bool
}

var (
	bigMinInt64 = big.NewInt(math.MinInt64)
	bigMaxInt64 = big.NewInt(math.MaxInt64)
)

// lowerBound sets v >= x (x exact); false when nothing can satisfy it.
func (b *ibounds) lowerBound(x *big.Int) bool {
	switch {
	case x.Cmp(bigMaxInt64) > 0:
		return false
	case x.Cmp(bigMinInt64) <= 0:
		return true // every int64 satisfies it
	}
	v := x.Int64()
	if !b.hasLo || v > b.lo {
		b.lo, b.hasLo = v, true
	}
	return true
}

// upperBound sets v <= x (x exact); false when nothing can satisfy it.
func (b *ibounds) upperBound(x *big.Int) bool {
	switch {
	case x.Cmp(bigMinInt64) < 0:
		return false
	case x.Cmp(bigMaxInt64) >= 0:
		return true
	}
	v := x.Int64()
	if !b.hasHi || v < b.hi {
		b.hi, b.hasHi = v, true
	}
	return true
}

// resolveInt turns a range on an int-like source into inclusive bounds on
// the stored value (for days_since: on the timestamp) at now. ok is false
// when the range is empty.
func resolveInt(r *rangeNode, now int64) (b ibounds, ok bool) {
	n := big.NewInt(now)
	day := big.NewInt(secondsPerDay)
	ok = true
	if r.s.days {
		// days = floor((now - ts) / 86400):
		//   days >= a ⟺ now - ts >= 86400a ⟺ ts <= now - 86400a
		//   days <= z ⟺ now - ts < 86400(z+1) ⟺ ts >= now - 86400(z+1) + 1
		if r.lo != nil {
			x := new(big.Int).Mul(big.NewInt(r.lo.i), day)
			ok = ok && b.upperBound(x.Sub(n, x))
		}
		if r.hi != nil {
			x := new(big.Int).Add(big.NewInt(r.hi.i), big.NewInt(1))
			x.Mul(x, day)
			x.Sub(n, x)
			ok = ok && b.lowerBound(x.Add(x, big.NewInt(1)))
		}
	} else {
		if r.lo != nil {
			x := big.NewInt(r.lo.i)
			if r.lo.rel {
				x.Add(x, n)
				if !r.lo.incl {
					x.Add(x, big.NewInt(1))
				}
			}
			ok = ok && b.lowerBound(x)
		}
		if r.hi != nil {
			x := big.NewInt(r.hi.i)
			if r.hi.rel {
				x.Add(x, n)
				if !r.hi.incl {
					x.Sub(x, big.NewInt(1))
				}
			}
			ok = ok && b.upperBound(x)
		}
	}
	if ok && b.hasLo && b.hasHi && b.lo > b.hi {
		ok = false
	}
	return b, ok
}

// daysSince is floor((now - ts) / 86400), exact for every int64 pair.
func daysSince(now, ts int64) int64 {
	qn, rn := floorDivMod(now, secondsPerDay)
	qt, rt := floorDivMod(ts, secondsPerDay)
	d := qn - qt // |q| < 2^47: no overflow
	if rn < rt {
		d--
	}
	return d
}

func floorDivMod(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

// cmpShift returns the sign of a - (now + off), exactly.
func cmpShift(a, now, off int64) int {
	x := new(big.Int).Add(big.NewInt(now), big.NewInt(off))
	return big.NewInt(a).Cmp(x)
}

// cmpNum compares two numbers (int64 or float64) exactly; ok is false for
// other types or NaN.
func cmpNum(a, b any) (int, bool) {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmpInt64(x, y), true
		case float64:
			c, ok := cmpNum(y, x)
			return -c, ok
		}
	case float64:
		if math.IsNaN(x) {
			return 0, false
		}
		switch y := b.(type) {
		case float64:
			if math.IsNaN(y) {
				return 0, false
			}
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		case int64:
			return new(big.Float).SetFloat64(x).Cmp(new(big.Float).SetInt64(y)), true
		}
	}
	return 0, false
}
