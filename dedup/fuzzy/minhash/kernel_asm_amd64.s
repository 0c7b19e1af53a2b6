//go:build amd64 && !purego

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

DATA murmurc<>+0(SB)/4, $0xcc9e2d51
DATA murmurc<>+4(SB)/4, $0x1b873593
DATA murmurc<>+8(SB)/4, $0xe6546b64
DATA murmurc<>+12(SB)/4, $0x85ebca6b
DATA murmurc<>+16(SB)/4, $0xc2b2ae35
DATA murmurc<>+20(SB)/4, $1
GLOBL murmurc<>(SB), RODATA|NOPTR, $24

// MIXK turns the block words in K into murmur's k (k *= c1; k = rotl(k, 15);
// k *= c2), using T as scratch. Y4 = c1, Y5 = c2.
#define MIXK(K, T) \
	VPMULLD Y4, K, K; \
	VPSLLD  $15, K, T; \
	VPSRLD  $17, K, K; \
	VPOR    T, K, K; \
	VPMULLD Y5, K, K

// MIXH folds k (K) into h (H): h ^= k; h = rotl(h, 13); h = h*5 + 0xe6546b64,
// with T as scratch. Y6 = 0xe6546b64.
#define MIXH(H, K, T) \
	VPXOR   K, H, H; \
	VPSLLD  $13, H, T; \
	VPSRLD  $19, H, H; \
	VPOR    T, H, H; \
	VPSLLD  $2, H, T; \
	VPADDD  T, H, H; \
	VPADDD  Y6, H, H

// FMIX finalizes H: h ^= len; h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13;
// h *= 0xc2b2ae35; h ^= h >> 16; h = max(h, 1). Y7 = len, Y12/Y13 the
// multipliers, Y14 = 1; T scratch.
#define FMIX(H, T) \
	VPXOR   Y7, H, H; \
	VPSRLD  $16, H, T; \
	VPXOR   T, H, H; \
	VPMULLD Y12, H, H; \
	VPSRLD  $13, H, T; \
	VPXOR   T, H, H; \
	VPMULLD Y13, H, H; \
	VPSRLD  $16, H, T; \
	VPXOR   T, H, H; \
	VPMAXUD Y14, H, H

// func hashASCII32AVX2(text *byte, width int, seed uint32, out *uint32)
//
// Window j = g+4i (group g = 0..3, lane i = 0..7) starts at text+j, so the
// k-th murmur block of the eight windows of group g is the eight
// little-endian words at text+g+4k: one unaligned 32-byte load.
//
// Registers: SI text, CX width, DI out, R8 blocks left, R9 block offset,
// Y0-Y3 the hashes of groups 0-3, Y4-Y6 murmur constants, Y8-Y11 scratch.
TEXT ·hashASCII32AVX2(SB), NOSPLIT, $0-32
	MOVQ         text+0(FP), SI
	MOVQ         width+8(FP), CX
	MOVL         seed+16(FP), AX
	VMOVD        AX, X0
	VPBROADCASTD X0, Y0
	MOVQ         out+24(FP), DI
	VMOVDQA      Y0, Y1
	VMOVDQA      Y0, Y2
	VMOVDQA      Y0, Y3
	VPBROADCASTD murmurc<>+0(SB), Y4
	VPBROADCASTD murmurc<>+4(SB), Y5
	VPBROADCASTD murmurc<>+8(SB), Y6
	MOVQ         CX, R8
	SHRQ         $2, R8
	XORQ         R9, R9

blocks:
	TESTQ   R8, R8
	JZ      tail
	VMOVDQU (SI)(R9*1), Y8
	VMOVDQU 1(SI)(R9*1), Y9
	VMOVDQU 2(SI)(R9*1), Y10
	VMOVDQU 3(SI)(R9*1), Y11
	MIXK(Y8, Y7)
	MIXK(Y9, Y7)
	MIXK(Y10, Y7)
	MIXK(Y11, Y7)
	MIXH(Y0, Y8, Y7)
	MIXH(Y1, Y9, Y7)
	MIXH(Y2, Y10, Y7)
	MIXH(Y3, Y11, Y7)
	ADDQ    $4, R9
	DECQ    R8
	JMP     blocks

tail:
	// 1-3 trailing bytes: the low width&3 bytes of the next word.
	MOVQ    CX, R10
	ANDQ    $3, R10
	JZ      final
	SHLQ    $3, R10
	MOVL    $1, R11
	MOVQ    R10, CX
	SHLL    CX, R11
	DECL    R11
	MOVQ    width+8(FP), CX
	VMOVD   R11, X15
	VPBROADCASTD X15, Y15
	VMOVDQU (SI)(R9*1), Y8
	VMOVDQU 1(SI)(R9*1), Y9
	VMOVDQU 2(SI)(R9*1), Y10
	VMOVDQU 3(SI)(R9*1), Y11
	VPAND   Y15, Y8, Y8
	VPAND   Y15, Y9, Y9
	VPAND   Y15, Y10, Y10
	VPAND   Y15, Y11, Y11
	MIXK(Y8, Y7)
	MIXK(Y9, Y7)
	MIXK(Y10, Y7)
	MIXK(Y11, Y7)
	VPXOR   Y8, Y0, Y0
	VPXOR   Y9, Y1, Y1
	VPXOR   Y10, Y2, Y2
	VPXOR   Y11, Y3, Y3

final:
	VMOVD        CX, X7
	VPBROADCASTD X7, Y7
	VPBROADCASTD murmurc<>+12(SB), Y12
	VPBROADCASTD murmurc<>+16(SB), Y13
	VPBROADCASTD murmurc<>+20(SB), Y14
	FMIX(Y0, Y8)
	FMIX(Y1, Y8)
	FMIX(Y2, Y8)
	FMIX(Y3, Y8)
	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	VZEROUPPER
	RET
