package bitmaps

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestKeysPreserveOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ints := []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, math.MaxInt64 - 1, math.MaxInt64}
	floats := []float64{math.Inf(-1), -math.MaxFloat64, -1, -5e-324, negZero, 0, 5e-324, 2.2250738585072014e-308, 1, math.MaxFloat64, math.Inf(1)}
	for range 2000 {
		ints = append(ints, int64(r.Uint64()))
		floats = append(floats, math.Float64frombits(r.Uint64()), math.Float64frombits(r.Uint64()&^(0x7ff<<52)), r.NormFloat64()*1e10)
	}
	for i, a := range ints {
		if keyInt(intKey(a)) != a {
			t.Fatalf("int %d does not round-trip", a)
		}
		b := ints[(i*7+3)%len(ints)]
		if (a < b) != (intKey(a) < intKey(b)) {
			t.Fatalf("intKey order: %d vs %d", a, b)
		}
	}
	for i, a := range floats {
		if math.IsNaN(a) {
			continue
		}
		if got := keyFloat(floatKey(a)); got != a {
			t.Fatalf("float %v round-trips to %v", a, got)
		}
		b := floats[(i*7+3)%len(floats)]
		if math.IsNaN(b) {
			continue
		}
		if (a < b) != (floatKey(a) < floatKey(b)) || (a == b) != (floatKey(a) == floatKey(b)) {
			t.Fatalf("floatKey order: %v vs %v", a, b)
		}
	}
}

func TestCmpIntFloat(t *testing.T) {
	tests := []struct {
		x    int64
		f    float64
		want int
	}{
		{x: 0, f: 0, want: 0},
		{x: 0, f: negZero, want: 0},
		{x: 1, f: 0.5, want: 1},
		{x: 0, f: 0.5, want: -1},
		{x: -1, f: -0.5, want: -1},
		{x: 0, f: -0.5, want: 1},
		{x: math.MaxInt64, f: 9223372036854775807.0, want: -1}, // the float is 2^63
		{x: math.MinInt64, f: -9223372036854775808.0, want: 0},
		{x: 1<<53 + 1, f: 1 << 53, want: 1},
		{x: math.MinInt64, f: math.Inf(-1), want: 1},
		{x: math.MaxInt64, f: math.Inf(1), want: -1},
		{x: math.MinInt64, f: -1e19, want: 1},
	}
	for _, tc := range tests {
		if got := cmpIntFloat(tc.x, tc.f); got != tc.want {
			t.Errorf("cmpIntFloat(%d, %v) = %d, want %d", tc.x, tc.f, got, tc.want)
		}
		want := new(big.Float).SetInt64(tc.x).Cmp(new(big.Float).SetFloat64(tc.f))
		if want != tc.want {
			t.Errorf("table entry (%d, %v) is wrong: big says %d", tc.x, tc.f, want)
		}
	}
}

// TestBoundsExact checks Range bounds of either number type against exact
// arithmetic on values next to them.
func TestBoundsExact(t *testing.T) {
	bounds := []any{
		int64(0), int64(-1), int64(1), int64(math.MinInt64), int64(math.MaxInt64), int64(1<<53 + 1), int64(-(1<<53 + 1)),
		0.0, negZero, 0.5, -0.5, 1.5, -1.5, 1e19, -1e19, 9007199254740992.0, 4503599627370496.5, 4503599627370497.0,
		9223372036854775807.0, -9223372036854775808.0, math.Inf(1), math.Inf(-1), 5e-324, -5e-324, math.MaxFloat64,
	}
	intVals := []int64{math.MinInt64, math.MinInt64 + 1, -(1<<53 + 2), -(1<<53 + 1), -1 << 53, -2, -1, 0, 1, 2, 4503599627370496, 4503599627370497, 4503599627370498, 1 << 53, 1<<53 + 1, math.MaxInt64 - 1, math.MaxInt64}
	floatVals := []float64{-math.MaxFloat64, -1e19, -9223372036854775808.0, -1.5, -1, -0.5, -5e-324, 0, 5e-324, 0.5, 1, 1.5, 2, 4503599627370496.5, 9007199254740992, 9007199254740994, 9223372036854775807.0, 1e19, math.MaxFloat64}
	check := func(k Kind, v any, key uint64) {
		for _, b := range bounds {
			for _, incl := range []bool{true, false} {
				c := bigOf(v).Cmp(bigOf(b))
				wantLo := c > 0 || (c == 0 && incl)
				wantHi := c < 0 || (c == 0 && incl)
				lo, okLo := lowerKey(k, b, incl)
				hi, okHi := upperKey(k, b, incl)
				if gotLo := okLo && key >= lo; gotLo != wantLo {
					t.Errorf("%s value %v, lower bound %v incl=%v: in=%v, want %v", k, v, b, incl, gotLo, wantLo)
				}
				if gotHi := okHi && key <= hi; gotHi != wantHi {
					t.Errorf("%s value %v, upper bound %v incl=%v: in=%v, want %v", k, v, b, incl, gotHi, wantHi)
				}
			}
		}
	}
	for _, v := range intVals {
		check(KindInt, v, intKey(v))
	}
	for _, v := range floatVals {
		check(KindFloat, v, floatKey(v))
	}
}
