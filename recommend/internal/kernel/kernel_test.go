package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDotsMatchesPortableKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name      string
		dim, rows int
		extremes  bool
	}{
		{name: "one row", dim: 32, rows: 1},
		{name: "768 dims", dim: 768, rows: 37},
		{name: "odd dims padded", dim: 13, rows: 5},
		{name: "all ±127 (overflow check)", dim: 4096, rows: 3, extremes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stride := Stride(tc.dim)
			q := make([]int8, stride)
			rows := make([]int8, stride*tc.rows)
			for i := 0; i < tc.dim; i++ {
				q[i] = int8(r.IntN(255) - 127)
				if tc.extremes {
					q[i] = -127
				}
			}
			for row := 0; row < tc.rows; row++ {
				for i := 0; i < tc.dim; i++ {
					v := int8(r.IntN(255) - 127)
					if tc.extremes {
						v = -127
					}
					rows[row*stride+i] = v
				}
			}
			got := make([]int32, tc.rows)
			want := make([]int32, tc.rows)
			Dots(got, q, rows, stride)
			dotsGo(want, q, rows, stride)
			for i := range got {
				var naive int64
				for j := 0; j < stride; j++ {
					naive += int64(q[j]) * int64(rows[i*stride+j])
				}
				if got[i] != want[i] || int64(got[i]) != naive {
					t.Fatalf("row %d: Dots = %d, portable = %d, naive = %d", i, got[i], want[i], naive)
				}
			}
		})
	}
}

func TestDotsRejectsBadShapes(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Dots accepted a stride that is not a multiple of Align")
		}
	}()
	Dots(make([]int32, 1), make([]int8, 33), make([]int8, 33), 33)
}

func TestQuantizeErrorBound(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 100)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	q := make([]int8, Stride(len(x)))
	scale, errNorm, qNorm := Quantize(q, x)
	var e2, n2 float64
	for i, v := range x {
		d := float64(v) - float64(scale)*float64(q[i])
		e2 += d * d
		n2 += math.Pow(float64(scale)*float64(q[i]), 2)
	}
	if math.Abs(math.Sqrt(e2)-float64(errNorm)) > 1e-5 || math.Abs(math.Sqrt(n2)-float64(qNorm)) > 1e-4 {
		t.Fatalf("errNorm %v (want %v), qNorm %v (want %v)", errNorm, math.Sqrt(e2), qNorm, math.Sqrt(n2))
	}
	if errNorm > scale*float32(math.Sqrt(float64(len(x))))/2+1e-6 {
		t.Fatalf("error %v beyond the half-step bound", errNorm)
	}
	for _, v := range q[len(x):] {
		if v != 0 {
			t.Fatal("padding not zeroed")
		}
	}
	if s, _, _ := Quantize(q, make([]float32, 10)); s != 0 {
		t.Fatalf("zero vector: scale %v", s)
	}
}

func BenchmarkDots(b *testing.B) {
	const dim, n = 768, 10000
	stride := Stride(dim)
	q := make([]int8, stride)
	rows := make([]int8, stride*n)
	for i := range rows {
		rows[i] = int8(i)
	}
	out := make([]int32, n)
	b.SetBytes(int64(len(rows)))
	for b.Loop() {
		Dots(out, q, rows, stride)
	}
}
