//go:build amd64 && !purego

package minhash

import "golang.org/x/sys/cpu"

// simdAvailable reports whether minUpdate32SIMD can run on this CPU: the
// assembly kernel needs AVX2 (and an OS that saves the YMM registers, which
// cpu.X86.HasAVX2 includes).
func simdAvailable() bool { return cpu.X86.HasAVX2 }

// minUpdate32SIMD is minUpdate32Scalar in AVX2 assembly
// (kernel_asm_amd64.s): eight permutations per vector (VPMULLD, VPADDD,
// VPMINUD), register-blocked 24 at a time (three vectors each of a, b and
// running minimums), so that the loop over the hashes touches memory only
// to broadcast the next hash. The default 260 permutations pad to
// 264 = 11·24. Build with -tags purego to use the pure-Go kernel instead.
//
// len(acc) must be a multiple of 8, and a and b at least as long.
func minUpdate32SIMD(acc, a, b, hs []uint32) {
	if len(acc)%8 != 0 || len(a) < len(acc) || len(b) < len(acc) {
		panic("minhash: minUpdate32SIMD: acc not a multiple of 8 or a, b too short")
	}
	minUpdate32AVX2(acc, a, b, hs)
}

//go:noescape
func minUpdate32AVX2(acc, a, b, hs []uint32)

// hashASCII32 computes, with AVX2 assembly (kernel_asm_amd64.s), the
// MurmurHash3_x86_32 hashes (0 mapped to 1) of the 32 windows
// text[p+j : p+j+width], j = 0..31, in the order of the portable version:
// window p+g+4i at out[8g+i]. The caller guarantees that those bytes are
// ASCII and that len(text) >= p+width+35 (the loads read up to 35 bytes
// past the start of the last block); Hasher only enables the vector path
// when simdAvailable.
//
// Window p+g+4i starts at byte p+g+4i, so for the eight windows of group g
// murmur block k is the eight consecutive little-endian words at
// text[p+g+4k:]: one unaligned 32-byte load serves eight windows.
func hashASCII32(text []byte, p, width int, seed uint32, out []uint32) {
	if p < 0 || width < 1 || len(text) < p+width+35 || len(out) < 32 {
		panic("minhash: hashASCII32: text too short for the vector loads, or out too small")
	}
	hashASCII32AVX2(&text[p], width, seed, &out[0])
}

//go:noescape
func hashASCII32AVX2(text *byte, width int, seed uint32, out *uint32)
