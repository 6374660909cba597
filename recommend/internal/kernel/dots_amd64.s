#include "textflag.h"

// func dotsInt8AVX2(q, rows *int8, stride, n int, out *int32)
// For each of n rows of stride int8 values (stride a positive multiple of
// 32), out[r] = Σ q[i]·rows[r][i]. Products are widened to int16 and summed
// pairwise into int32 lanes (VPMADDWD), so nothing overflows for any stride
// below 2^17.
TEXT ·dotsInt8AVX2(SB), NOSPLIT, $0-40
	MOVQ q+0(FP), SI
	MOVQ rows+8(FP), DI
	MOVQ stride+16(FP), CX
	MOVQ n+24(FP), DX
	MOVQ out+32(FP), R8
	TESTQ DX, DX
	JE   done

row:
	VPXOR Y0, Y0, Y0
	VPXOR Y5, Y5, Y5
	XORQ  AX, AX

inner:
	VPMOVSXBW (SI)(AX*1), Y1
	VPMOVSXBW (DI)(AX*1), Y2
	VPMADDWD  Y1, Y2, Y3
	VPADDD    Y3, Y0, Y0
	VPMOVSXBW 16(SI)(AX*1), Y1
	VPMOVSXBW 16(DI)(AX*1), Y2
	VPMADDWD  Y1, Y2, Y3
	VPADDD    Y3, Y5, Y5
	ADDQ      $32, AX
	CMPQ      AX, CX
	JB        inner

	VPADDD       Y5, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPADDD       X1, X0, X0
	VMOVD        X0, (R8)
	ADDQ         $4, R8
	ADDQ         CX, DI
	DECQ         DX
	JNE          row
	VZEROUPPER

done:
	RET
