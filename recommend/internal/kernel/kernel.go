package kernel

import "math"

// Align is the multiple of elements every quantised row is padded to; the
// assembly kernel consumes 32 int8 values per step.
const Align = 32

// Stride returns the padded row length for dim dimensions.
func Stride(dim int) int {
	return (dim + Align - 1) / Align * Align
}

// Quantize writes x scaled to int8 into dst (len(dst) ≥ len(x); the rest of
// dst is zeroed) with the symmetric scale maxabs(x)/127, and returns that
// scale, the L2 norm of the quantisation error ‖x − scale·dst‖ and the norm
// of the dequantised vector ‖scale·dst‖. A zero vector has scale 0.
func Quantize(dst []int8, x []float32) (scale, errNorm, qNorm float32) {
	var maxAbs float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > maxAbs {
			maxAbs = a
		}
	}
	clear(dst)
	if maxAbs == 0 || math.IsNaN(float64(maxAbs)) || math.IsInf(float64(maxAbs), 0) {
		return 0, float32(norm(x)), 0
	}
	s := float64(maxAbs) / 127
	var e2, q2 float64
	for i, v := range x {
		r := math.Round(float64(v) / s)
		r = max(-127, min(127, r))
		dst[i] = int8(r)
		d := float64(v) - r*s
		e2 += d * d
		q2 += r * s * r * s
	}
	return float32(s), float32(math.Sqrt(e2)), float32(math.Sqrt(q2))
}

func norm(x []float32) float64 {
	var s float64
	for _, v := range x {
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			s += float64(v) * float64(v)
		}
	}
	return math.Sqrt(s)
}

// Dots sets out[r] to the dot product of q and row r of rows, for the
// len(out) rows of stride elements each stored one after the other in rows.
// stride must be a positive multiple of Align, len(q) ≥ stride and
// len(rows) ≥ len(out)·stride; Dots panics otherwise (a programming error,
// not an input error).
func Dots(out []int32, q, rows []int8, stride int) {
	n := len(out)
	if stride <= 0 || stride%Align != 0 || len(q) < stride || len(rows) < n*stride {
		panic("kernel.Dots: bad shapes")
	}
	if n == 0 {
		return
	}
	dots(out, q[:stride], rows[:n*stride], stride)
}

// dotsGo is the portable kernel.
func dotsGo(out []int32, q, rows []int8, stride int) {
	for r := range out {
		row := rows[r*stride : (r+1)*stride]
		var s0, s1, s2, s3 int32
		for i := 0; i < stride; i += 4 {
			s0 += int32(q[i]) * int32(row[i])
			s1 += int32(q[i+1]) * int32(row[i+1])
			s2 += int32(q[i+2]) * int32(row[i+2])
			s3 += int32(q[i+3]) * int32(row[i+3])
		}
		out[r] = s0 + s1 + s2 + s3
	}
}
