// Package nprand reproduces the integer stream of numpy's legacy
// numpy.random.RandomState, bit for bit, for the calls the MinHash scheme
// needs.
//
// NeMo Curator draws its MinHash permutation parameters with
//
//	gen = np.random.RandomState(seed)
//	gen.randint(1, P, dtype=np.uint32)   # or np.uint64
//
// To produce the same signatures in Go, this package implements the two
// pieces numpy combines for that call:
//
//   - MT19937 (the 32-bit Mersenne Twister of Matsumoto and Nishimura),
//     seeded with init_genrand, which is what RandomState(int) does;
//   - numpy's bounded-integer sampling for RandomState: the range is reduced
//     to rng = high-1-low, a draw is masked with the smallest all-ones mask
//     covering rng and rejected while it exceeds rng ("masked rejection
//     sampling"). Ranges that fit in 32 bits use 32-bit draws even for uint64
//     output; wider ranges use 64-bit draws built as hi<<32 | lo from two
//     consecutive 32-bit outputs.
//
// Other RandomState methods (floats, Gaussian, seeding from arrays, the
// new-style Generator API) are deliberately not implemented.
package nprand

import "fmt"

const (
	stateLen  = 624
	shift     = 397
	matrixA   = 0x9908b0df
	upperMask = 0x80000000
	lowerMask = 0x7fffffff
)

// RandomState is a MT19937 generator that yields the same integers as
// numpy.random.RandomState(seed) for the methods it provides.
//
// A RandomState is not safe for concurrent use.
type RandomState struct {
	mt  [stateLen]uint32
	pos int
}

// New returns a generator in the state of numpy.random.RandomState(seed).
// numpy accepts integer seeds in [0, 2³²-1], which is exactly uint32.
func New(seed uint32) *RandomState {
	r := &RandomState{}
	r.mt[0] = seed
	for i := 1; i < stateLen; i++ {
		prev := r.mt[i-1]
		r.mt[i] = 1812433253*(prev^(prev>>30)) + uint32(i)
	}
	r.pos = stateLen
	return r
}

// twist regenerates the 624 words of state.
func (r *RandomState) twist() {
	mt := &r.mt
	for i := 0; i < stateLen; i++ {
		y := mt[i]&upperMask | mt[(i+1)%stateLen]&lowerMask
		v := mt[(i+shift)%stateLen] ^ (y >> 1)
		if y&1 != 0 {
			v ^= matrixA
		}
		mt[i] = v
	}
	r.pos = 0
}

// Uint32 returns the next 32-bit output of the generator (genrand_int32,
// numpy's next_uint32 for the legacy MT19937 bit generator).
func (r *RandomState) Uint32() uint32 {
	if r.pos >= stateLen {
		r.twist()
	}
	y := r.mt[r.pos]
	r.pos++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// Uint64 returns the next 64-bit output as numpy's legacy MT19937 builds it:
// the first 32-bit output is the high half, the second the low half.
func (r *RandomState) Uint64() uint64 {
	hi := uint64(r.Uint32())
	lo := uint64(r.Uint32())
	return hi<<32 | lo
}

// mask returns the smallest value of the form 2^k-1 that is >= v.
func mask(v uint64) uint64 {
	v |= v >> 1
	v |= v >> 2
	v |= v >> 4
	v |= v >> 8
	v |= v >> 16
	v |= v >> 32
	return v
}

// RandintUint32 returns the value of
// RandomState.randint(low, high, dtype=np.uint32) called without size:
// a uniform integer in [low, high). It panics if high <= low, where numpy
// raises ValueError.
func (r *RandomState) RandintUint32(low, high uint32) uint32 {
	if high <= low {
		panic(fmt.Sprintf("nprand: RandintUint32: empty range [%d, %d)", low, high))
	}
	return low + uint32(r.bounded(uint64(high-1-low)))
}

// RandintUint64 returns the value of
// RandomState.randint(low, high, dtype=np.uint64) called without size:
// a uniform integer in [low, high). It panics if high <= low, where numpy
// raises ValueError. (numpy cannot express high = 2⁶⁴ with this call, and
// neither can this method.)
func (r *RandomState) RandintUint64(low, high uint64) uint64 {
	if high <= low {
		panic(fmt.Sprintf("nprand: RandintUint64: empty range [%d, %d)", low, high))
	}
	return low + r.bounded(high-1-low)
}

// bounded returns a uniform value in [0, rng] using numpy's masked rejection
// sampling (random_bounded_uint64_fill / random_bounded_uint32_fill with
// use_masked=true).
func (r *RandomState) bounded(rng uint64) uint64 {
	switch {
	case rng == 0:
		return 0
	case rng == 0xffffffff:
		return uint64(r.Uint32())
	case rng < 0xffffffff:
		m := uint32(mask(rng))
		for {
			if v := r.Uint32() & m; uint64(v) <= rng {
				return uint64(v)
			}
		}
	case rng == ^uint64(0):
		return r.Uint64()
	default:
		m := mask(rng)
		for {
			if v := r.Uint64() & m; v <= rng {
				return v
			}
		}
	}
}
