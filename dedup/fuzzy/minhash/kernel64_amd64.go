//go:build amd64 && !purego

package minhash

import "golang.org/x/sys/cpu"

// simd64Available reports whether minUpdate64SIMD runs the AVX2 kernel.
func simd64Available() bool { return cpu.X86.HasAVX2 }

// minUpdate64SIMD is minUpdate64 with AVX2 (kernel64_amd64.s) for the
// permutations in multiples of eight, and minUpdate64 for the rest. AVX2
// has no 64-bit low multiply and no unsigned 64-bit minimum, so a·h mod 2⁶⁴
// is built from three 32×32→64 multiplies (VPMULUDQ), the reduction modulo
// 2⁶¹−1 ends with a subtraction kept only where it does not go negative,
// and the minimum is a signed compare and blend, exact because every
// reduced value and every running minimum is below 2⁶³: callers must start
// acc at or below math.MaxInt64, never math.MaxUint64.
func minUpdate64SIMD(acc, a, b, hs []uint64) {
	n := len(acc) &^ 7
	if n > 0 && len(hs) > 0 {
		if len(a) < n || len(b) < n {
			panic("minhash: minUpdate64SIMD: a or b shorter than acc")
		}
		minUpdate64AVX2(acc[:n], a[:n], b[:n], hs)
	}
	if n < len(acc) {
		minUpdate64(acc[n:], a[n:], b[n:], hs)
	}
}

//go:noescape
func minUpdate64AVX2(acc, a, b, hs []uint64)
