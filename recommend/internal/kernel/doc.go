// Package kernel holds the inner loops of recommend's embedded vector index:
// int8 dot products of one query against many rows (AVX2 assembly on amd64
// when the CPU has it, portable Go elsewhere) and int8 quantisation of
// float32 vectors.
//
// kernel imports only the standard library and golang.org/x/sys/cpu. Its
// functions are pure and safe for concurrent use.
package kernel
