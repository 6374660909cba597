//go:build !amd64

package kernel

func dots(out []int32, q, rows []int8, stride int) { dotsGo(out, q, rows, stride) }
