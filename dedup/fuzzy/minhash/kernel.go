package minhash

// minUpdate32Scalar folds the shingle hashes hs into the running minimums
// acc: acc[i] = min(acc[i], a[i]*h + b[i] mod 2³²) for every h in hs. It is
// the portable reference for minUpdate32SIMD, which must give identical
// results. len(a) and len(b) must be at least len(acc).
func minUpdate32Scalar(acc, a, b, hs []uint32) {
	a = a[:len(acc)]
	b = b[:len(acc)]
	i := 0
	// Four permutations at a time: four independent min chains keep the
	// multiplier busy while each chain waits on its compare.
	for ; i+4 <= len(acc); i += 4 {
		a0, a1, a2, a3 := a[i], a[i+1], a[i+2], a[i+3]
		b0, b1, b2, b3 := b[i], b[i+1], b[i+2], b[i+3]
		m0, m1, m2, m3 := acc[i], acc[i+1], acc[i+2], acc[i+3]
		for _, h := range hs {
			m0 = min(m0, a0*h+b0)
			m1 = min(m1, a1*h+b1)
			m2 = min(m2, a2*h+b2)
			m3 = min(m3, a3*h+b3)
		}
		acc[i], acc[i+1], acc[i+2], acc[i+3] = m0, m1, m2, m3
	}
	for ; i < len(acc); i++ {
		ai, bi, m := a[i], b[i], acc[i]
		for _, h := range hs {
			m = min(m, ai*h+bi)
		}
		acc[i] = m
	}
}

// mod61 returns x mod (2⁶¹−1) using the Mersenne identity
// x = hi·2⁶¹ + lo ≡ hi + lo.
func mod61(x uint64) uint64 {
	r := x&mersenne61 + x>>61
	if r >= mersenne61 {
		r -= mersenne61
	}
	return r
}

// minUpdate64 folds the shingle hashes hs into acc with the 64-bit
// permutation ((a[i]*h + b[i]) mod 2⁶⁴) mod (2⁶¹−1), as cuDF's minhash64.
func minUpdate64(acc, a, b, hs []uint64) {
	a = a[:len(acc)]
	b = b[:len(acc)]
	i := 0
	for ; i+2 <= len(acc); i += 2 {
		a0, a1 := a[i], a[i+1]
		b0, b1 := b[i], b[i+1]
		m0, m1 := acc[i], acc[i+1]
		for _, h := range hs {
			m0 = min(m0, mod61(a0*h+b0))
			m1 = min(m1, mod61(a1*h+b1))
		}
		acc[i], acc[i+1] = m0, m1
	}
	for ; i < len(acc); i++ {
		ai, bi, m := a[i], b[i], acc[i]
		for _, h := range hs {
			m = min(m, mod61(ai*h+bi))
		}
		acc[i] = m
	}
}
