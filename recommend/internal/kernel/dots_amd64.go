package kernel

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2

//go:noescape
func dotsInt8AVX2(q, rows *int8, stride, n int, out *int32)

func dots(out []int32, q, rows []int8, stride int) {
	if useAVX2 {
		dotsInt8AVX2(&q[0], &rows[0], stride, len(out), &out[0])
		return
	}
	dotsGo(out, q, rows, stride)
}
