//go:build amd64 && !goexperiment.simd && !purego

#include "textflag.h"

// func minUpdate32AVX2(acc, a, b, hs []uint32)
//
// For i < len(acc) (a multiple of 8) and every h in hs:
//	acc[i] = min(acc[i], a[i]*h + b[i])  (uint32 arithmetic)
//
// Registers: DI acc, SI a, DX b, R8 hs, R9 len(hs), CX len(acc),
// R10 i, R11 elements left, R12 hash index.
// Y0-Y2 a, Y3-Y5 b, Y6-Y8 running minimums, Y9 the broadcast hash,
// Y10-Y12 products.
TEXT ·minUpdate32AVX2(SB), NOSPLIT, $0-96
	MOVQ acc_base+0(FP), DI
	MOVQ acc_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	MOVQ hs_base+72(FP), R8
	MOVQ hs_len+80(FP), R9
	XORQ R10, R10

block24:
	MOVQ CX, R11
	SUBQ R10, R11
	CMPQ R11, $24
	JLT  block8
	VMOVDQU (SI)(R10*4), Y0
	VMOVDQU 32(SI)(R10*4), Y1
	VMOVDQU 64(SI)(R10*4), Y2
	VMOVDQU (DX)(R10*4), Y3
	VMOVDQU 32(DX)(R10*4), Y4
	VMOVDQU 64(DX)(R10*4), Y5
	VMOVDQU (DI)(R10*4), Y6
	VMOVDQU 32(DI)(R10*4), Y7
	VMOVDQU 64(DI)(R10*4), Y8
	XORQ R12, R12

loop24:
	CMPQ R12, R9
	JGE  store24
	VPBROADCASTD (R8)(R12*4), Y9
	VPMULLD Y9, Y0, Y10
	VPMULLD Y9, Y1, Y11
	VPMULLD Y9, Y2, Y12
	VPADDD  Y3, Y10, Y10
	VPADDD  Y4, Y11, Y11
	VPADDD  Y5, Y12, Y12
	VPMINUD Y10, Y6, Y6
	VPMINUD Y11, Y7, Y7
	VPMINUD Y12, Y8, Y8
	INCQ R12
	JMP  loop24

store24:
	VMOVDQU Y6, (DI)(R10*4)
	VMOVDQU Y7, 32(DI)(R10*4)
	VMOVDQU Y8, 64(DI)(R10*4)
	ADDQ $24, R10
	JMP  block24

block8:
	CMPQ R11, $8
	JLT  done
	VMOVDQU (SI)(R10*4), Y0
	VMOVDQU (DX)(R10*4), Y3
	VMOVDQU (DI)(R10*4), Y6
	XORQ R12, R12

loop8:
	CMPQ R12, R9
	JGE  store8
	VPBROADCASTD (R8)(R12*4), Y9
	VPMULLD Y9, Y0, Y10
	VPADDD  Y3, Y10, Y10
	VPMINUD Y10, Y6, Y6
	INCQ R12
	JMP  loop8

store8:
	VMOVDQU Y6, (DI)(R10*4)
	ADDQ $8, R10
	MOVQ CX, R11
	SUBQ R10, R11
	JMP  block8

done:
	VZEROUPPER
	RET
