package bitmaps

import "math"

// Numbers are stored as order-preserving uint64 keys: for any two values of
// one kind, a < b exactly when key(a) < key(b). Int and time values flip the
// sign bit; floats use the IEEE-754 trick (negative values inverted, positive
// values with the sign bit set), so -0 and +0 (normalised to +0) share a key.

const signBit = 1 << 63

func intKey(v int64) uint64 { return uint64(v) ^ signBit }

func keyInt(k uint64) int64 { return int64(k ^ signBit) }

func floatKey(f float64) uint64 {
	if f == 0 {
		f = 0
	}
	b := math.Float64bits(f)
	if b&signBit != 0 {
		return ^b
	}
	return b | signBit
}

func keyFloat(k uint64) float64 {
	if k&signBit != 0 {
		return math.Float64frombits(k &^ signBit)
	}
	return math.Float64frombits(^k)
}

// keyOf maps an Eq value to the key of a numeric field of kind k. ok is false
// when no stored value can equal v (wrong type, NaN, a fraction for an int
// field, an int not exactly representable as a float).
func keyOf(k Kind, v any) (key uint64, ok bool) {
	switch x := v.(type) {
	case int:
		return keyOf(k, int64(x))
	case int32:
		return keyOf(k, int64(x))
	case float32:
		return keyOf(k, float64(x))
	case int64:
		if k == KindFloat {
			f, exact := intAsFloat(x)
			if !exact {
				return 0, false
			}
			return floatKey(f), true
		}
		return intKey(x), true
	case float64:
		if math.IsNaN(x) {
			return 0, false
		}
		if k == KindFloat {
			return floatKey(x), true
		}
		i, exact := floatAsInt(x)
		if !exact {
			return 0, false
		}
		return intKey(i), true
	}
	return 0, false
}

// intAsFloat converts x to float64 and reports whether that is exact.
func intAsFloat(x int64) (float64, bool) {
	f := float64(x)
	return f, cmpIntFloat(x, f) == 0
}

// floatAsInt converts an integral f in the int64 range.
func floatAsInt(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// cmpIntFloat compares an int64 with a non-NaN float64 exactly (-1, 0, +1).
func cmpIntFloat(x int64, f float64) int {
	switch {
	case f >= 1<<63:
		return -1
	case f < -(1 << 63):
		return 1
	}
	// f is now in [-2^63, 2^63): its integer part fits an int64 exactly.
	t := math.Trunc(f)
	i := int64(t)
	switch {
	case x < i:
		return -1
	case x > i:
		return 1
	case f > t: // x == trunc(f) < f
		return -1
	case f < t:
		return 1
	}
	return 0
}

// keyRange converts Range bounds to an inclusive key interval [lo, hi]. ok is
// false when the interval is empty or a bound has an unusable type (which,
// like NULL, matches nothing).
func keyRange(k Kind, r *Range) (lo, hi uint64, ok bool) {
	lo, hi = 0, math.MaxUint64
	if r.Lo != nil {
		if lo, ok = lowerKey(k, r.Lo, r.LoIncl); !ok {
			return 0, 0, false
		}
	}
	if r.Hi != nil {
		if hi, ok = upperKey(k, r.Hi, r.HiIncl); !ok {
			return 0, 0, false
		}
	}
	return lo, hi, lo <= hi
}

// lowerKey is the smallest key whose value is >= b (incl) or > b.
func lowerKey(k Kind, b any, incl bool) (uint64, bool) {
	switch x := b.(type) {
	case int:
		return lowerKey(k, int64(x), incl)
	case int32:
		return lowerKey(k, int64(x), incl)
	case float32:
		return lowerKey(k, float64(x), incl)
	case int64:
		if k != KindFloat {
			if !incl {
				if x == math.MaxInt64 {
					return 0, false
				}
				x++
			}
			return intKey(x), true
		}
		f := float64(x)
		switch c := cmpIntFloat(x, f); {
		case c == 0 && !incl:
			return floatKey(f) + 1, true
		case c > 0: // f < x: the next float up is the smallest >= x
			f = math.Nextafter(f, math.Inf(1))
		}
		return floatKey(f), true
	case float64:
		if math.IsNaN(x) {
			return 0, false
		}
		if k == KindFloat {
			key := floatKey(x)
			if !incl {
				if key == math.MaxUint64 {
					return 0, false
				}
				key++
			}
			return key, true
		}
		// Integer field: smallest integer >= x (or > x).
		if x == math.Trunc(x) { // integral or ±Inf
			i, inRange := floatAsInt(x)
			switch {
			case !inRange && x > 0:
				return 0, false
			case !inRange:
				return 0, true
			case incl:
				return intKey(i), true
			case i == math.MaxInt64:
				return 0, false
			}
			return intKey(i + 1), true
		}
		c := math.Ceil(x)
		switch {
		case c >= 1<<63:
			return 0, false
		case c < -(1 << 63):
			return 0, true
		}
		return intKey(int64(c)), true
	}
	return 0, false
}

// upperKey is the largest key whose value is <= b (incl) or < b.
func upperKey(k Kind, b any, incl bool) (uint64, bool) {
	switch x := b.(type) {
	case int:
		return upperKey(k, int64(x), incl)
	case int32:
		return upperKey(k, int64(x), incl)
	case float32:
		return upperKey(k, float64(x), incl)
	case int64:
		if k != KindFloat {
			if !incl {
				if x == math.MinInt64 {
					return 0, false
				}
				x--
			}
			return intKey(x), true
		}
		f := float64(x)
		switch c := cmpIntFloat(x, f); {
		case c == 0 && !incl:
			return floatKey(f) - 1, true
		case c < 0: // f > x: the next float down is the largest <= x
			f = math.Nextafter(f, math.Inf(-1))
		}
		return floatKey(f), true
	case float64:
		if math.IsNaN(x) {
			return 0, false
		}
		if k == KindFloat {
			key := floatKey(x)
			if !incl {
				if key == 0 {
					return 0, false
				}
				key--
			}
			return key, true
		}
		// Integer field: largest integer <= x (or < x).
		if x == math.Trunc(x) {
			i, inRange := floatAsInt(x)
			switch {
			case !inRange && x < 0:
				return 0, false
			case !inRange:
				return math.MaxUint64, true
			case incl:
				return intKey(i), true
			case i == math.MinInt64:
				return 0, false
			}
			return intKey(i - 1), true
		}
		c := math.Floor(x)
		switch {
		case c < -(1 << 63):
			return 0, false
		case c >= 1<<63:
			return math.MaxUint64, true
		}
		return intKey(int64(c)), true
	}
	return 0, false
}
