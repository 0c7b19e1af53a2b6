//go:build goexperiment.simd && amd64

package minhash

import "simd/archsimd"

// simdAvailable reports whether minUpdate32SIMD can run on this CPU.
func simdAvailable() bool { return archsimd.X86.AVX2() }

// minUpdate32SIMD is minUpdate32Scalar with AVX2: eight permutations per
// vector (VPMULLD, VPADDD, VPMINUD). Permutations are register-blocked 32 at
// a time (4 vectors of a, b and running minimums: 12 of the 16 YMM
// registers), and the whole block of hashes streams past them, so the inner
// loop touches memory only to broadcast the next hash.
//
// len(acc) must be a multiple of 8, and a and b at least as long.
func minUpdate32SIMD(acc, a, b, hs []uint32) {
	n := len(acc)
	a = a[:n]
	b = b[:n]
	i := 0
	for ; i+32 <= n; i += 32 {
		a0 := archsimd.LoadUint32x8Slice(a[i:])
		a1 := archsimd.LoadUint32x8Slice(a[i+8:])
		a2 := archsimd.LoadUint32x8Slice(a[i+16:])
		a3 := archsimd.LoadUint32x8Slice(a[i+24:])
		b0 := archsimd.LoadUint32x8Slice(b[i:])
		b1 := archsimd.LoadUint32x8Slice(b[i+8:])
		b2 := archsimd.LoadUint32x8Slice(b[i+16:])
		b3 := archsimd.LoadUint32x8Slice(b[i+24:])
		m0 := archsimd.LoadUint32x8Slice(acc[i:])
		m1 := archsimd.LoadUint32x8Slice(acc[i+8:])
		m2 := archsimd.LoadUint32x8Slice(acc[i+16:])
		m3 := archsimd.LoadUint32x8Slice(acc[i+24:])
		for _, h := range hs {
			hv := archsimd.BroadcastUint32x8(h)
			m0 = m0.Min(a0.Mul(hv).Add(b0))
			m1 = m1.Min(a1.Mul(hv).Add(b1))
			m2 = m2.Min(a2.Mul(hv).Add(b2))
			m3 = m3.Min(a3.Mul(hv).Add(b3))
		}
		m0.StoreSlice(acc[i:])
		m1.StoreSlice(acc[i+8:])
		m2.StoreSlice(acc[i+16:])
		m3.StoreSlice(acc[i+24:])
	}
	for ; i+8 <= n; i += 8 {
		av := archsimd.LoadUint32x8Slice(a[i:])
		bv := archsimd.LoadUint32x8Slice(b[i:])
		m := archsimd.LoadUint32x8Slice(acc[i:])
		for _, h := range hs {
			m = m.Min(av.Mul(archsimd.BroadcastUint32x8(h)).Add(bv))
		}
		m.StoreSlice(acc[i:])
	}
	archsimd.ClearAVXUpperBits()
}
