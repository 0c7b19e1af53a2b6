package minhash

import (
	"errors"
	"fmt"
	"math"

	"github.com/sluice-data/sluice/dedup/fuzzy/minhash/nprand"
)

// NeMo Curator's defaults.
const (
	DefaultNumPerm    = 260
	DefaultCharNgrams = 24
	DefaultSeed       = 42
	DefaultHashBits   = 32
)

// Limits accepted by [Params.Validate].
const (
	// MaxNumPerm bounds the signature length; it keeps scratch space small
	// and is far above any useful LSH configuration.
	MaxNumPerm = 1 << 16
	// MaxCharNgrams bounds the shingle width in characters.
	MaxCharNgrams = 1 << 16
)

// Mersenne primes used as the exclusive upper bounds of the permutation
// parameters (and, for 64-bit signatures, as the final modulus).
const (
	mersenne31 = 1<<31 - 1
	mersenne61 = 1<<61 - 1
)

// Params selects a MinHash scheme. The zero value is not valid; start from
// [DefaultParams] and override fields.
type Params struct {
	// NumPerm is the number of permutations, i.e. the signature length.
	NumPerm int
	// CharNgrams is the shingle width in characters (Unicode code points).
	CharNgrams int
	// Seed seeds the numpy-compatible generator that draws the permutation
	// parameters. numpy accepts seeds in [0, 2³²−1], and so does Validate.
	Seed uint64
	// HashBits is 32 (MurmurHash3_x86_32, uint32 signatures) or 64
	// (MurmurHash3_x64_128 first half, uint64 signatures). SchemeOPH needs 32.
	HashBits int
	// Scheme is SchemeNeMo (also when empty) or SchemeOPH. With SchemeOPH,
	// NumPerm is the number of bins and Seed seeds the shingle hash.
	Scheme Scheme
}

// DefaultParams returns NeMo Curator's defaults: 260 permutations,
// 24-character shingles, seed 42, 32-bit hashes, NeMo's scheme.
func DefaultParams() Params {
	return Params{
		NumPerm:    DefaultNumPerm,
		CharNgrams: DefaultCharNgrams,
		Seed:       DefaultSeed,
		HashBits:   DefaultHashBits,
		Scheme:     SchemeNeMo,
	}
}

// Validate reports whether p describes a scheme this package can compute.
func (p Params) Validate() error {
	var errs []error
	if p.NumPerm < 1 || p.NumPerm > MaxNumPerm {
		errs = append(errs, fmt.Errorf("NumPerm %d out of range [1, %d]", p.NumPerm, MaxNumPerm))
	}
	if p.CharNgrams < 1 || p.CharNgrams > MaxCharNgrams {
		errs = append(errs, fmt.Errorf("CharNgrams %d out of range [1, %d]", p.CharNgrams, MaxCharNgrams))
	}
	if p.Seed > math.MaxUint32 {
		errs = append(errs, fmt.Errorf("seed %d exceeds 2^32-1 (numpy RandomState seed range)", p.Seed))
	}
	if p.HashBits != 32 && p.HashBits != 64 {
		errs = append(errs, fmt.Errorf("HashBits %d is not 32 or 64", p.HashBits))
	}
	if s, err := ParseScheme(string(p.Scheme)); err != nil {
		errs = append(errs, err)
	} else if s == SchemeOPH && p.HashBits != 32 {
		errs = append(errs, fmt.Errorf("scheme %s computes 32-bit signatures; HashBits %d is not supported", s, p.HashBits))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("minhash: invalid params: %w", err)
	}
	return nil
}

// lanes is the SIMD width in 32-bit permutations; coefficient and
// accumulator slices are padded to a multiple of it.
const lanes = 8

// blockLen is the number of shingle hashes computed before they are folded
// into the signature in one pass over the permutations.
const blockLen = 256

// Hasher computes MinHash signatures for one [Params]. Its coefficient
// tables are immutable; its scratch buffers are not, so a Hasher must not be
// used by several goroutines at once. Use [Hasher.Clone] to get one per
// goroutine.
type Hasher struct {
	p Params

	// 32-bit scheme. a32/b32/acc32 have len padded to a multiple of lanes;
	// padding lanes hold a=b=0 and are never copied out.
	seed32 uint32
	a32    []uint32
	b32    []uint32
	acc32  []uint32
	hs32   []uint32

	// 64-bit scheme.
	seed64 uint64
	a64    []uint64
	b64    []uint64
	hs64   []uint64

	// simd and simd64 select the vector kernels; they are false when the
	// build or the CPU lacks them, and tests clear them to exercise the
	// scalar kernels.
	simd, simd64 bool

	// OPH scheme (nil for NeMo's): immutable tables, scratch for
	// densification, and opt, which selects the inlined ASCII loops (tests
	// clear it to compare them with the generic per-window path).
	oph    *ophTables
	filled []uint16
	opt    bool
	// vec selects OPH's AVX-512 window kernel (false when the build or
	// the CPU lacks it; tests clear it to compare with the pure-Go loop).
	vec bool
}

// NewHasher draws the permutation parameters for p and returns a Hasher.
func NewHasher(p Params) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	h := &Hasher{p: p}
	if p.Scheme == SchemeOPH {
		h.oph = newOPHTables(p)
		h.acc32 = make([]uint32, p.NumPerm)
		h.filled = make([]uint16, p.NumPerm)
		h.opt = true
		h.vec = ophVectorAvailable()
		return h, nil
	}
	rs := nprand.New(uint32(p.Seed))
	switch p.HashBits {
	case 32:
		padded := (p.NumPerm + lanes - 1) / lanes * lanes
		h.a32 = make([]uint32, padded)
		h.b32 = make([]uint32, padded)
		for i := range p.NumPerm {
			// Interleaved per permutation, as NeMo's generate_seeds.
			h.a32[i] = rs.RandintUint32(1, mersenne31)
			h.b32[i] = rs.RandintUint32(0, mersenne31)
		}
		h.seed32 = h.a32[0]
		h.acc32 = make([]uint32, padded)
		h.hs32 = make([]uint32, blockLen)
		h.simd = simdAvailable()
	case 64:
		h.a64 = make([]uint64, p.NumPerm)
		h.b64 = make([]uint64, p.NumPerm)
		for i := range p.NumPerm {
			h.a64[i] = rs.RandintUint64(1, mersenne61)
			h.b64[i] = rs.RandintUint64(0, mersenne61)
		}
		h.seed64 = h.a64[0]
		h.hs64 = make([]uint64, blockLen)
		h.simd64 = simd64Available()
	}
	return h, nil
}

// Clone returns a Hasher with the same parameters that shares the immutable
// coefficient tables but has its own scratch buffers, for use by another
// goroutine.
func (h *Hasher) Clone() *Hasher {
	c := *h
	if h.acc32 != nil {
		c.acc32 = make([]uint32, len(h.acc32))
		c.hs32 = make([]uint32, blockLen)
	}
	if h.filled != nil {
		c.filled = make([]uint16, len(h.filled))
	}
	if h.hs64 != nil {
		c.hs64 = make([]uint64, blockLen)
	}
	return &c
}

// Params returns the parameters h was built with.
func (h *Hasher) Params() Params { return h.p }

// Coefficients32 returns copies of the 32-bit permutation parameters (a, b)
// and the MurmurHash3 seed (a[0]). It panics unless HashBits is 32 and the
// scheme is NeMo's.
func (h *Hasher) Coefficients32() (a, b []uint32, murmurSeed uint32) {
	h.mustBits(32)
	if h.oph != nil {
		panic("minhash: Coefficients32 of an OPH Hasher (OPH has no permutations)")
	}
	n := h.p.NumPerm
	return append([]uint32(nil), h.a32[:n]...), append([]uint32(nil), h.b32[:n]...), h.seed32
}

// Coefficients64 returns copies of the 64-bit permutation parameters (a, b)
// and the MurmurHash3 seed (a[0]). It panics unless HashBits is 64.
func (h *Hasher) Coefficients64() (a, b []uint64, murmurSeed uint64) {
	h.mustBits(64)
	return append([]uint64(nil), h.a64...), append([]uint64(nil), h.b64...), h.seed64
}

func (h *Hasher) mustBits(bits int) {
	if h.p.HashBits != bits {
		panic(fmt.Sprintf("minhash: %d-bit operation on a Hasher with HashBits=%d", bits, h.p.HashBits))
	}
}

// grow returns dst resliced to n elements, allocating only if its capacity
// is too small.
func grow[T uint32 | uint64](dst []T, n int) []T {
	if cap(dst) < n {
		return make([]T, n)
	}
	return dst[:n]
}

// Signature32 computes the 32-bit MinHash signature of text (UTF-8) into
// dst, which is grown to NumPerm elements if needed, and returns it. It does
// not allocate when cap(dst) >= NumPerm. An empty text yields all zeros.
//
// It panics if h was built with HashBits 64.
func (h *Hasher) Signature32(text []byte, dst []uint32) []uint32 {
	dst, _ = h.signature32(text, dst, nil, false)
	return dst
}

// Signature32Shingles is Signature32 that also appends the hash of every
// shingle (MurmurHash3_x86_32 with 0 mapped to 1, the values the
// permutations are applied to; in no particular order, repeats included) to
// shingles and returns it; with SchemeOPH the hash is the high 32 bits of
// the shingle's XXH3 hash. Two texts' sets of shingle hashes give their
// exact shingle Jaccard, up to 32-bit hash collisions.
func (h *Hasher) Signature32Shingles(text []byte, dst, shingles []uint32) ([]uint32, []uint32) {
	return h.signature32(text, dst, shingles, true)
}

func (h *Hasher) signature32(text []byte, dst, shingles []uint32, keep bool) ([]uint32, []uint32) {
	h.mustBits(32)
	dst = grow(dst, h.p.NumPerm)
	if h.oph != nil {
		return dst, h.ophSignature(text, dst, shingles, keep)
	}
	if len(text) == 0 {
		clear(dst)
		return dst, shingles
	}
	acc := h.acc32
	for i := range acc {
		acc[i] = math.MaxUint32
	}
	w := newWindows(text, h.p.CharNgrams)
	for {
		k := w.hash32(text, h.hs32, h.seed32, h.simd)
		if k == 0 {
			break
		}
		if keep {
			shingles = append(shingles, h.hs32[:k]...)
		}
		if h.simd {
			minUpdate32SIMD(acc, h.a32, h.b32, h.hs32[:k])
		} else {
			minUpdate32Scalar(acc, h.a32, h.b32, h.hs32[:k])
		}
	}
	copy(dst, acc)
	return dst, shingles
}

// Signature64 computes the 64-bit MinHash signature of text (UTF-8) into
// dst, which is grown to NumPerm elements if needed, and returns it. It does
// not allocate when cap(dst) >= NumPerm. An empty text yields all zeros.
//
// It panics if h was built with HashBits 32.
func (h *Hasher) Signature64(text []byte, dst []uint64) []uint64 {
	h.mustBits(64)
	dst = grow(dst, h.p.NumPerm)
	if len(text) == 0 {
		clear(dst)
		return dst
	}
	// Every permuted value is below 2⁶¹−1, so math.MaxInt64 is as good a
	// start as math.MaxUint64, and the vector kernel's signed minimum
	// needs it.
	for i := range dst {
		dst[i] = math.MaxInt64
	}
	w := newWindows(text, h.p.CharNgrams)
	for {
		k := w.hash64(text, h.hs64, h.seed64)
		if k == 0 {
			break
		}
		if h.simd64 {
			minUpdate64SIMD(dst, h.a64, h.b64, h.hs64[:k])
		} else {
			minUpdate64(dst, h.a64, h.b64, h.hs64[:k])
		}
	}
	return dst
}
