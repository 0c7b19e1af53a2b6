//go:build goexperiment.simd && amd64

package minhash

import "simd/archsimd"

// simdAvailable reports whether minUpdate32SIMD can run on this CPU.
func simdAvailable() bool { return archsimd.X86.AVX2() }

// minUpdate32SIMD is minUpdate32Scalar with AVX2: eight permutations per
// vector (VPMULLD, VPADDD, VPMINUD). Permutations are register-blocked 24 at
// a time (three vectors each of a, b and running minimums: 9 of the 16 YMM
// registers, leaving room for the broadcast hash and temporaries without
// spills), and the whole block of hashes streams past them, so the inner
// loop touches memory only to broadcast the next hash. The default 260
// permutations pad to 264 = 11·24.
//
// len(acc) must be a multiple of 8, and a and b at least as long.
func minUpdate32SIMD(acc, a, b, hs []uint32) {
	n := len(acc)
	a = a[:n]
	b = b[:n]
	i := 0
	for ; i+24 <= n; i += 24 {
		a0 := archsimd.LoadUint32x8Slice(a[i:])
		a1 := archsimd.LoadUint32x8Slice(a[i+8:])
		a2 := archsimd.LoadUint32x8Slice(a[i+16:])
		b0 := archsimd.LoadUint32x8Slice(b[i:])
		b1 := archsimd.LoadUint32x8Slice(b[i+8:])
		b2 := archsimd.LoadUint32x8Slice(b[i+16:])
		m0 := archsimd.LoadUint32x8Slice(acc[i:])
		m1 := archsimd.LoadUint32x8Slice(acc[i+8:])
		m2 := archsimd.LoadUint32x8Slice(acc[i+16:])
		for _, h := range hs {
			hv := archsimd.BroadcastUint32x8(h)
			m0 = m0.Min(a0.Mul(hv).Add(b0))
			m1 = m1.Min(a1.Mul(hv).Add(b1))
			m2 = m2.Min(a2.Mul(hv).Add(b2))
		}
		m0.StoreSlice(acc[i:])
		m1.StoreSlice(acc[i+8:])
		m2.StoreSlice(acc[i+16:])
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

// hashASCII32 computes, with AVX2, the MurmurHash3_x86_32 hashes (0 mapped
// to 1) of the 32 windows text[p+j : p+j+width], j = 0..31, into out in an
// unspecified order (the signature only takes minimums). The caller
// guarantees that those bytes are ASCII, so each window is width characters,
// and that len(text) >= p+width+35, because the vector loads read up to 35
// bytes past the start of the last block.
//
// Window p+j starts at byte p+j, so for the eight windows
// p+g, p+g+4, ..., p+g+28 (one "group" g in 0..3) murmur block k is the
// eight consecutive little-endian words at text[p+g+4k:]: one unaligned
// 32-byte load. Four interleaved groups cover the 32 windows.
func hashASCII32(text []byte, p, width int, seed uint32, out []uint32) {
	out = out[:32]
	nb := width >> 2
	tail := width & 3
	c1 := archsimd.BroadcastUint32x8(m32c1)
	c2 := archsimd.BroadcastUint32x8(m32c2)
	s := archsimd.BroadcastUint32x8(seed)
	add := archsimd.BroadcastUint32x8(0xe6546b64)
	// Right shifts use per-lane counts (VPSRLVD). Go 1.26 compiles
	// ShiftAllRight by a constant to VPSRLD with the count moved into an XMM
	// register by a non-VEX MOVQ; on the development machine (AMD EPYC)
	// that made this function about 25 times slower, presumably an SSE/AVX
	// transition penalty. ShiftAllLeft by a constant uses the immediate form.
	r17 := archsimd.BroadcastUint32x8(17)
	r19 := archsimd.BroadcastUint32x8(19)
	h0, h1, h2, h3 := s, s, s, s
	blk := func(off int) archsimd.Uint32x8 {
		k := archsimd.LoadUint8x32Slice(text[off:]).AsUint32x8()
		k = k.Mul(c1)
		k = k.ShiftAllLeft(15).Or(k.ShiftRight(r17))
		return k.Mul(c2)
	}
	mix := func(h, k archsimd.Uint32x8) archsimd.Uint32x8 {
		h = h.Xor(k)
		h = h.ShiftAllLeft(13).Or(h.ShiftRight(r19))
		return h.ShiftAllLeft(2).Add(h).Add(add) // h*5 + 0xe6546b64
	}
	for k := 0; k < nb; k++ {
		off := p + 4*k
		h0 = mix(h0, blk(off))
		h1 = mix(h1, blk(off+1))
		h2 = mix(h2, blk(off+2))
		h3 = mix(h3, blk(off+3))
	}
	if tail != 0 {
		m := archsimd.BroadcastUint32x8(uint32(1)<<(8*tail) - 1)
		tb := func(off int) archsimd.Uint32x8 {
			k := archsimd.LoadUint8x32Slice(text[off:]).AsUint32x8().And(m)
			k = k.Mul(c1)
			k = k.ShiftAllLeft(15).Or(k.ShiftRight(r17))
			return k.Mul(c2)
		}
		off := p + 4*nb
		h0 = h0.Xor(tb(off))
		h1 = h1.Xor(tb(off + 1))
		h2 = h2.Xor(tb(off + 2))
		h3 = h3.Xor(tb(off + 3))
	}
	n := archsimd.BroadcastUint32x8(uint32(width))
	f1 := archsimd.BroadcastUint32x8(0x85ebca6b)
	f2 := archsimd.BroadcastUint32x8(0xc2b2ae35)
	one := archsimd.BroadcastUint32x8(1)
	r13 := archsimd.BroadcastUint32x8(13)
	r16 := archsimd.BroadcastUint32x8(16)
	fmix := func(h archsimd.Uint32x8) archsimd.Uint32x8 {
		h = h.Xor(n)
		h = h.Xor(h.ShiftRight(r16)).Mul(f1)
		h = h.Xor(h.ShiftRight(r13)).Mul(f2)
		h = h.Xor(h.ShiftRight(r16))
		return h.Max(one)
	}
	fmix(h0).StoreSlice(out[0:])
	fmix(h1).StoreSlice(out[8:])
	fmix(h2).StoreSlice(out[16:])
	fmix(h3).StoreSlice(out[24:])
	archsimd.ClearAVXUpperBits()
}
