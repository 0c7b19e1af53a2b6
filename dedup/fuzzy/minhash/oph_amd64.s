//go:build amd64 && !purego

#include "textflag.h"

// Byte indexes for VPERMB: qword lane i of the result is bytes
// [i+off, i+off+8) of the 32 loaded bytes, for off = 0, 8 and 16 (the three
// words of the 24-byte window starting at byte i).
DATA ophPermA<>+0x00(SB)/8, $0x0706050403020100
DATA ophPermA<>+0x08(SB)/8, $0x0807060504030201
DATA ophPermA<>+0x10(SB)/8, $0x0908070605040302
DATA ophPermA<>+0x18(SB)/8, $0x0a09080706050403
DATA ophPermA<>+0x20(SB)/8, $0x0b0a090807060504
DATA ophPermA<>+0x28(SB)/8, $0x0c0b0a0908070605
DATA ophPermA<>+0x30(SB)/8, $0x0d0c0b0a09080706
DATA ophPermA<>+0x38(SB)/8, $0x0e0d0c0b0a090807
GLOBL ophPermA<>(SB), RODATA|NOPTR, $64

DATA ophPermB<>+0x00(SB)/8, $0x0f0e0d0c0b0a0908
DATA ophPermB<>+0x08(SB)/8, $0x100f0e0d0c0b0a09
DATA ophPermB<>+0x10(SB)/8, $0x11100f0e0d0c0b0a
DATA ophPermB<>+0x18(SB)/8, $0x1211100f0e0d0c0b
DATA ophPermB<>+0x20(SB)/8, $0x131211100f0e0d0c
DATA ophPermB<>+0x28(SB)/8, $0x14131211100f0e0d
DATA ophPermB<>+0x30(SB)/8, $0x1514131211100f0e
DATA ophPermB<>+0x38(SB)/8, $0x161514131211100f
GLOBL ophPermB<>(SB), RODATA|NOPTR, $64

DATA ophPermC<>+0x00(SB)/8, $0x1716151413121110
DATA ophPermC<>+0x08(SB)/8, $0x1817161514131211
DATA ophPermC<>+0x10(SB)/8, $0x1918171615141312
DATA ophPermC<>+0x18(SB)/8, $0x1a19181716151413
DATA ophPermC<>+0x20(SB)/8, $0x1b1a191817161514
DATA ophPermC<>+0x28(SB)/8, $0x1c1b1a1918171615
DATA ophPermC<>+0x30(SB)/8, $0x1d1c1b1a19181716
DATA ophPermC<>+0x38(SB)/8, $0x1e1d1c1b1a191817
GLOBL ophPermC<>(SB), RODATA|NOPTR, $64

// MULFOLD sets r = hi64(x·y) XOR lo64(x·y) in each 64-bit lane (XXH3's
// mul128_fold64) from four 32×32→64-bit products: AVX-512 has no
// 64×64→128-bit multiply. Z30 holds 0x00000000ffffffff in every lane. x and
// y are left unchanged; t1–t5 are clobbered.
//
//	ll = xl·yl, lh = xl·yh, hl = xh·yl, hh = xh·yh
//	mid = (ll >> 32) + lo32(lh) + lo32(hl)              (< 3·2³², no overflow)
//	lo  = mid << 32 | lo32(ll)
//	hi  = hh + (lh >> 32) + (hl >> 32) + (mid >> 32)
//	r   = lo XOR hi  (VPTERNLOGQ 0x56: (r | t2) ^ t1)
#define MULFOLD(x, y, r, t1, t2, t3, t4, t5) \
	VPSRLQ     $32, x, t1; \
	VPSRLQ     $32, y, t2; \
	VPMULUDQ   y, x, r; \
	VPMULUDQ   t2, x, t3; \
	VPMULUDQ   y, t1, t4; \
	VPMULUDQ   t2, t1, t1; \
	VPSRLQ     $32, r, t2; \
	VPANDQ     Z30, t3, t5; \
	VPADDQ     t5, t2, t2; \
	VPANDQ     Z30, t4, t5; \
	VPADDQ     t5, t2, t2; \
	VPSRLQ     $32, t3, t3; \
	VPADDQ     t3, t1, t1; \
	VPSRLQ     $32, t4, t4; \
	VPADDQ     t4, t1, t1; \
	VPSRLQ     $32, t2, t5; \
	VPADDQ     t5, t1, t1; \
	VPSLLQ     $32, t2, t2; \
	VPANDQ     Z30, r, r; \
	VPTERNLOGQ $0x56, t1, t2, r

// UPDATE folds the packed (value << 32 | bin) at off(SP) into the bins at
// DI: acc[bin] = min(acc[bin], value).
#define UPDATE(off) \
	MOVQ    off(SP), R8; \
	MOVL    R8, R9; \
	SHRQ    $32, R8; \
	MOVL    (DI)(R9*4), R10; \
	CMPL    R8, R10; \
	CMOVLCS R8, R10; \
	MOVL    R10, (DI)(R9*4)

// func ascii24AVX512(src *byte, groups int, key *[4]uint64, acc *uint32, k uint64)
//
// For each group g < groups, the eight 24-byte windows starting at
// src+8g … src+8g+7 (the caller guarantees 32 readable bytes from src+8g):
// x = XXH3_64(window) with the seeded secret words key (ophTables.key),
// bin = lo32(x)·k >> 32, value = (x >> 33) + 1, acc[bin] = min(acc[bin], value),
// in window order. The hashes are computed eight at a time in 64-bit lanes;
// the bin updates are scalar, so two windows of a group in one bin are
// handled as in the pure-Go loop.
//
// Registers: SI src, CX groups left, DI acc; Z20–Z22 VPERMB indexes, Z23–Z26
// key words, Z27 24·PRIME64_1, Z28 the avalanche multiplier, Z29 k,
// Z30 the low-32-bit mask, Z31 2³² (the value's +1, shifted).
TEXT ·ascii24AVX512(SB), NOSPLIT, $64-40
	MOVQ src+0(FP), SI
	MOVQ groups+8(FP), CX
	MOVQ key+16(FP), DX
	MOVQ acc+24(FP), DI
	MOVQ k+32(FP), AX
	VMOVDQU64    ophPermA<>(SB), Z20
	VMOVDQU64    ophPermB<>(SB), Z21
	VMOVDQU64    ophPermC<>(SB), Z22
	VPBROADCASTQ 0(DX), Z23
	VPBROADCASTQ 8(DX), Z24
	VPBROADCASTQ 16(DX), Z25
	VPBROADCASTQ 24(DX), Z26
	MOVQ         $0xd53368a48e1afca8, BX // 24·PRIME64_1 mod 2⁶⁴
	VPBROADCASTQ BX, Z27
	MOVQ         $0x165667919e3779f9, BX
	VPBROADCASTQ BX, Z28
	VPBROADCASTQ AX, Z29
	MOVQ         $0xffffffff, BX
	VPBROADCASTQ BX, Z30
	MOVQ         $0x100000000, BX
	VPBROADCASTQ BX, Z31

loop:
	TESTQ CX, CX
	JZ    done
	VMOVDQU (SI), Y0
	VPERMB  Z0, Z20, Z1
	VPERMB  Z0, Z21, Z2
	VPERMB  Z0, Z22, Z3
	VPXORQ  Z23, Z1, Z1
	VPXORQ  Z24, Z2, Z4
	VPXORQ  Z25, Z2, Z5
	VPXORQ  Z26, Z3, Z6
	MULFOLD(Z1, Z4, Z7, Z10, Z11, Z12, Z13, Z14)
	MULFOLD(Z5, Z6, Z8, Z15, Z16, Z17, Z18, Z19)
	VPADDQ    Z7, Z8, Z9
	VPADDQ    Z27, Z9, Z9
	VPSRLQ    $37, Z9, Z10
	VPXORQ    Z10, Z9, Z9
	VPMULLQ   Z28, Z9, Z9
	VPSRLQ    $32, Z9, Z10
	VPXORQ    Z10, Z9, Z9
	VPMULUDQ  Z29, Z9, Z10
	VPSRLQ    $32, Z10, Z10
	VPSRLQ    $33, Z9, Z11
	VPSLLQ    $32, Z11, Z11
	VPADDQ    Z31, Z11, Z11
	VPORQ     Z10, Z11, Z11
	VMOVDQU64 Z11, 0(SP)
	UPDATE(0)
	UPDATE(8)
	UPDATE(16)
	UPDATE(24)
	UPDATE(32)
	UPDATE(40)
	UPDATE(48)
	UPDATE(56)
	ADDQ $8, SI
	DECQ CX
	JMP  loop

done:
	VZEROUPPER
	RET
