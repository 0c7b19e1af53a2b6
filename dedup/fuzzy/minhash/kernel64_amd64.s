//go:build amd64 && !purego

#include "textflag.h"

DATA mersenne61<>+0(SB)/8, $0x1fffffffffffffff
GLOBL mersenne61<>(SB), RODATA|NOPTR, $8

// One block of four permutations for the hash in Y5 (low halves) and Y6
// (high halves): x = a·h + b mod 2⁶⁴ from three VPMULUDQ, r = x mod 2⁶¹−1
// (r = (x & M) + (x >> 61), then r − M where that is not negative), and
// m = min(m, r) by a signed compare and blend. A, AH, B, M hold a, a >> 32,
// b and the running minimums; T0-T2 are scratch.
#define PERM4(A, AH, B, MIN, T0, T1, T2) \
	VPMULUDQ Y5, A, T0; \
	VPMULUDQ Y5, AH, T1; \
	VPMULUDQ Y6, A, T2; \
	VPADDQ   T2, T1, T1; \
	VPSLLQ   $32, T1, T1; \
	VPADDQ   T1, T0, T0; \
	VPADDQ   B, T0, T0; \
	VPAND    Y4, T0, T1; \
	VPSRLQ   $61, T0, T0; \
	VPADDQ   T1, T0, T0; \
	VPSUBQ   Y4, T0, T1; \
	VBLENDVPD T1, T0, T1, T0; \
	VPCMPGTQ T0, MIN, T1; \
	VBLENDVPD T1, T0, MIN, MIN

// func minUpdate64AVX2(acc, a, b, hs []uint64)
//
// len(acc) is a multiple of 8; a and b are as long. For every i and every
// h in hs: acc[i] = min(acc[i], ((a[i]*h + b[i]) mod 2⁶⁴) mod (2⁶¹−1)).
// Every acc[i] must be at most 2⁶³−1 (the minimum is a signed compare).
//
// Registers: DI acc, SI a, DX b, R8 hs, R9 len(hs), CX len(acc), R10 i,
// R11 hash index. Y0-Y1 a, Y2-Y3 a >> 32, Y7-Y8 b, Y9-Y10 minimums for
// eight permutations; Y4 2⁶¹−1; Y5 h, Y6 h >> 32 (broadcast);
// Y11-Y13 scratch.
TEXT ·minUpdate64AVX2(SB), NOSPLIT, $0-96
	MOVQ acc_base+0(FP), DI
	MOVQ acc_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	MOVQ hs_base+72(FP), R8
	MOVQ hs_len+80(FP), R9
	VPBROADCASTQ mersenne61<>(SB), Y4
	XORQ R10, R10

block:
	CMPQ R10, CX
	JGE  done
	VMOVDQU (SI)(R10*8), Y0
	VMOVDQU 32(SI)(R10*8), Y1
	VPSRLQ  $32, Y0, Y2
	VPSRLQ  $32, Y1, Y3
	VMOVDQU (DX)(R10*8), Y7
	VMOVDQU 32(DX)(R10*8), Y8
	VMOVDQU (DI)(R10*8), Y9
	VMOVDQU 32(DI)(R10*8), Y10
	XORQ R11, R11

loop:
	CMPQ R11, R9
	JGE  store
	VPBROADCASTQ (R8)(R11*8), Y5
	VPSRLQ       $32, Y5, Y6
	PERM4(Y0, Y2, Y7, Y9, Y11, Y12, Y13)
	PERM4(Y1, Y3, Y8, Y10, Y11, Y12, Y13)
	INCQ R11
	JMP  loop

store:
	VMOVDQU Y9, (DI)(R10*8)
	VMOVDQU Y10, 32(DI)(R10*8)
	ADDQ $8, R10
	JMP  block

done:
	VZEROUPPER
	RET
