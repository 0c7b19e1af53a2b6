package minhash

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/zeebo/xxh3"
)

// Scheme names a signature scheme.
type Scheme string

// Signature schemes. Both give K = NumPerm uint32 values per document, so LSH
// band keys, signature files and stores are the same for both.
const (
	// SchemeNeMo is NeMo Curator's scheme: NumPerm affine permutations of a
	// MurmurHash3 of each shingle, bit-compatible with its signatures. It is
	// the default (the empty Scheme means SchemeNeMo).
	SchemeNeMo Scheme = "nemo"
	// SchemeOPH is one-permutation hashing with optimal densification
	// (Shrivastava, ICML 2017): one 64-bit XXH3 hash per shingle picks a bin
	// and a value, each of the NumPerm bins keeps its minimum, and empty bins
	// borrow from non-empty ones along a fixed random probe sequence. It is
	// several times faster than SchemeNeMo, with the same LSH behaviour, but
	// its signatures are not comparable with NeMo Curator's.
	SchemeOPH Scheme = "oph"
)

// ParseScheme returns the scheme named s ("" is SchemeNeMo).
func ParseScheme(s string) (Scheme, error) {
	switch Scheme(s) {
	case "", SchemeNeMo:
		return SchemeNeMo, nil
	case SchemeOPH:
		return SchemeOPH, nil
	}
	return "", fmt.Errorf("scheme %q: want %s or %s", s, SchemeNeMo, SchemeOPH)
}

// OPH constants (docs/fuzzy-dedup.md, "OPH scheme").
const (
	// ophEmpty marks a bin no shingle fell into; no value equals it, since
	// values are in [1, 2³¹].
	ophEmpty = math.MaxUint32
	// ophTableMax is the largest NumPerm for which the Hasher precomputes
	// the densification table (NumPerm² uint16s, 512 KiB at 512).
	ophTableMax = 512
	// ophDensSalt is mixed into the seed to key the densification probes
	// apart from the shingle hash.
	ophDensSalt = 0x6f70682d64656e73 // "oph-dens"

	xxhPrime64_1 = 0x9E3779B185EBCA87
	xxhAvalanche = 0x165667919E3779F9
)

// xxhSecret are the first four little-endian words of XXH3's default secret
// (kSecret), the only ones XXH3_64 reads for inputs of 17 to 32 bytes.
var xxhSecret = [4]uint64{0xbe4ba423396cfeb8, 0x1cad21f72c81017c, 0xdb979083e96dd4de, 0x1f67b3b7a4a44072}

// ophTables is the immutable part of an OPH Hasher, shared by clones.
type ophTables struct {
	k     int
	width int
	seed  uint64
	// key holds XXH3's first four secret words with the seed applied, as
	// its path for 17–32 bytes uses them: secret[0]+seed, secret[1]−seed,
	// secret[2]+seed, secret[3]−seed.
	key   [4]uint64
	dseed uint64
	// first[i*k+j] is the first attempt t ≥ 1 at which bin i's probe
	// sequence reaches bin j (nil when k > ophTableMax or an entry did not
	// fit in 16 bits). It evaluates the same densification as probing,
	// faster for documents that fill few bins.
	first []uint16
}

func newOPHTables(p Params) *ophTables {
	o := &ophTables{k: p.NumPerm, width: p.CharNgrams, seed: p.Seed, dseed: splitmix64(p.Seed ^ ophDensSalt)}
	o.key = [4]uint64{xxhSecret[0] + p.Seed, xxhSecret[1] - p.Seed, xxhSecret[2] + p.Seed, xxhSecret[3] - p.Seed}
	if o.k <= ophTableMax {
		o.first = o.firstHits()
	}
	return o
}

// firstHits computes the table ophTables.first, or nil if some entry needs
// more than 16 bits (not expected: it needs a probe sequence to miss a bin
// 65,535 times in a row).
func (o *ophTables) firstHits() []uint16 {
	k := o.k
	first := make([]uint16, k*k)
	for i := range k {
		row := first[i*k : (i+1)*k]
		left := k
		for t := 1; left > 0; t++ {
			if t > math.MaxUint16 {
				return nil
			}
			if j := o.probe(i, t); row[j] == 0 {
				row[j] = uint16(t)
				left--
			}
		}
	}
	return first
}

// splitmix64 is the output function of Vigna's SplitMix64 generator for
// state x (the value next() returns after the state became x + γ is
// splitmix64(x)).
func splitmix64(x uint64) uint64 {
	z := x + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// probe returns the bin that an empty bin i looks at on attempt t ≥ 1:
// the low 32 bits of splitmix64(dseed ⊕ (i·2³² + t)), mapped to [0, k) by
// multiply-shift. The sequence depends on the seed only, not on the text,
// so two documents with the same filled bins borrow from the same place.
func (o *ophTables) probe(i, t int) int {
	x := splitmix64(o.dseed ^ (uint64(i)<<32 | uint64(uint32(t))))
	return int(uint64(uint32(x)) * uint64(o.k) >> 32)
}

// ophBin and ophValue split a shingle's 64-bit hash: the low 32 bits pick
// the bin, the high 31 bits plus one are its value, in [1, 2³¹], so that no
// value is 0 (an all-zero signature means an empty text) or ophEmpty.
func ophBin(h uint64, k uint64) uint64 { return uint64(uint32(h)) * k >> 32 }
func ophValue(h uint64) uint32         { return uint32(h>>33) + 1 }

// xxh3Avalanche is XXH3's final mix for inputs of 4 to 240 bytes.
func xxh3Avalanche(h uint64) uint64 {
	h ^= h >> 37
	h *= xxhAvalanche
	return h ^ h>>32
}

// ophSignature computes the OPH signature of text into dst (len k). With
// keep it also appends each shingle's verification hash (the high 32 bits
// of its XXH3 hash) to shingles.
func (h *Hasher) ophSignature(text []byte, dst, shingles []uint32, keep bool) []uint32 {
	o := h.oph
	if len(text) == 0 {
		clear(dst)
		return shingles
	}
	acc := h.acc32[:o.k]
	for i := range acc {
		acc[i] = ophEmpty
	}
	shingles = o.accumulate(text, acc, shingles, keep, h.opt, h.vec)
	o.densify(acc, dst, h.filled)
	return shingles
}

// accumulate folds every shingle of text (not empty) into the bins acc.
// Windows are walked as in the NeMo scheme (windows type); runs of
// windows of pure ASCII are hashed by the inlined XXH3 loops when the width
// is 17–32 bytes and opt is set, and by the vector kernel where vec is set
// and the width is 24.
func (o *ophTables) accumulate(text []byte, acc, shingles []uint32, keep, opt, vec bool) []uint32 {
	n, width := len(text), o.width
	k := uint64(o.k)
	fast := opt && width >= 17 && width <= 32
	w := newWindows(text, width)
	p, q := w.p, w.q
	// lastNA is the offset of the last byte ≥ 0x80 in text[:q]: the window
	// [p, q) is pure ASCII when p > lastNA.
	lastNA := lastNonASCII(text[:q])
	for {
		if fast && p > lastNA && q-p == width {
			var done bool
			if p, q, shingles, done = o.asciiRun(text, p, q, acc, shingles, keep, vec); done {
				return shingles
			}
			lastNA = q - 1
		}
		x := o.windowHash(text[p:q], opt)
		if v, b := ophValue(x), ophBin(x, k); v < acc[b] {
			acc[b] = v
		}
		if keep {
			shingles = append(shingles, uint32(x>>32))
		}
		if q >= n {
			return shingles
		}
		p++
		for text[p]&0xc0 == 0x80 { // p < q < n
			p++
		}
		q = nextStart(text, q)
		if text[q-1] >= 0x80 { // the character added is not ASCII
			lastNA = q - 1
		}
	}
}

// asciiRun folds the pure-ASCII windows that start at p (whose window
// [p, q) is pure ASCII, width bytes) into acc: the windows starting at
// p … e−width, where e ends the run of ASCII bytes. It returns the next
// window, which holds the non-ASCII character at e, or done at the end of
// the text.
func (o *ophTables) asciiRun(text []byte, p, q int, acc, shingles []uint32, keep, vec bool) (np, nq int, _ []uint32, done bool) {
	n, width := len(text), o.width
	e := q + asciiPrefix(text[q:])
	if e < n && text[e]&0xc0 == 0x80 {
		// Invalid UTF-8: a stray continuation byte belongs to the
		// character before it (e > q: q is a character start).
		e--
	}
	if keep {
		shingles = o.asciiKeep(text, p, e-width+1, acc, shingles)
	} else {
		o.ascii(text, p, e-width+1, acc, vec)
	}
	if e == n {
		return 0, 0, shingles, true
	}
	return e - width + 1, nextStart(text, e), shingles, false
}

// windowHash is XXH3_64(w, seed): inlined for 17–32 bytes when opt is set
// (e.g. Latin text with accents), otherwise the library's.
func (o *ophTables) windowHash(w []byte, opt bool) uint64 {
	if l := len(w); opt && l >= 17 && l <= 32 {
		return xxh3Window(w, &o.key)
	}
	return xxh3.HashSeed(w, o.seed)
}

// asciiPrefix returns the length of the longest prefix of b without a byte
// ≥ 0x80.
func asciiPrefix(b []byte) int {
	if i := firstNonASCII(b); i >= 0 {
		return i
	}
	return len(b)
}

// lastNonASCII returns the index of the last byte ≥ 0x80 in b, or -1.
func lastNonASCII(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] >= 0x80 {
			return i
		}
	}
	return -1
}

// xxh3Window returns XXH3_64(w, seed) for 17 ≤ len(w) ≤ 32, with key the
// seeded secret words (ophTables.key): XXH3's 17–128 byte path, which for
// these lengths mixes the first and the last 16 bytes.
func xxh3Window(w []byte, key *[4]uint64) uint64 {
	n := len(w)
	a, b := binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:])
	c, d := binary.LittleEndian.Uint64(w[n-16:]), binary.LittleEndian.Uint64(w[n-8:])
	h1, l1 := bits.Mul64(a^key[0], b^key[1])
	h2, l2 := bits.Mul64(c^key[2], d^key[3])
	return xxh3Avalanche(uint64(n)*xxhPrime64_1 + (h1 ^ l1) + (h2 ^ l2))
}

// ascii folds the windows text[j : j+width], from ≤ j < to, into acc; the
// caller guarantees they are in bounds. This loop is most of the OPH
// scheme's time.
func (o *ophTables) ascii(text []byte, from, to int, acc []uint32, vec bool) {
	if from >= to {
		return
	}
	if o.width == 24 {
		_ = text[to+23-1] // the last window's last byte
		src, n, dst, k := unsafe.Pointer(&text[from]), to-from, unsafe.Pointer(&acc[0]), uint64(len(acc))
		if vec {
			done := ascii24Vector(src, n, &o.key, dst, k)
			src, n = unsafe.Add(src, done), n-done
		}
		ascii24(src, n, &o.key, dst, k)
		return
	}
	k := uint64(o.k)
	for j := from; j < to; j++ {
		x := xxh3Window(text[j:j+o.width], &o.key)
		bin := ophBin(x, k)
		acc[bin] = min(acc[bin], ophValue(x))
	}
}

// ascii24 is the 24-byte window loop: the n windows starting at src, src+1,
// …, hashed with XXH3_64 (inlined: its 17–128 byte path mixes bytes 0–15
// and 8–23) and folded into the k bins at acc. Pointer arithmetic keeps the
// loop free of bounds checks and spills; ophBin is below k by construction.
func ascii24(src unsafe.Pointer, n int, key *[4]uint64, acc unsafe.Pointer, k uint64) {
	k0, k1, k2, k3 := key[0], key[1], key[2], key[3]
	nn, p1 := uint64(24), uint64(xxhPrime64_1)
	base := nn * p1 // wraps mod 2⁶⁴, as in XXH3
	for range n {
		a, b, c := *(*uint64)(src), *(*uint64)(unsafe.Add(src, 8)), *(*uint64)(unsafe.Add(src, 16))
		h1, l1 := bits.Mul64(a^k0, b^k1)
		h2, l2 := bits.Mul64(b^k2, c^k3)
		x := xxh3Avalanche(base + (h1 ^ l1) + (h2 ^ l2))
		// Branch-free: about a quarter of the windows lower their bin's
		// minimum, unpredictably.
		slot := (*uint32)(unsafe.Add(acc, ophBin(x, k)*4))
		*slot = min(*slot, ophValue(x))
		src = unsafe.Add(src, 1)
	}
}

// asciiKeep is ascii that also appends every window's verification hash
// (the high 32 bits of its XXH3 hash), in window order.
func (o *ophTables) asciiKeep(text []byte, from, to int, acc, shingles []uint32) []uint32 {
	if from >= to {
		return shingles
	}
	k := uint64(o.k)
	if o.width == 24 {
		_ = text[to+23-1] // the last window's last byte
		n := len(shingles)
		shingles = slices.Grow(shingles, to-from)[:n+to-from]
		ascii24Keep(unsafe.Pointer(&text[from]), &o.key, unsafe.Pointer(&acc[0]), k, shingles[n:])
		return shingles
	}
	for j := from; j < to; j++ {
		x := xxh3Window(text[j:j+o.width], &o.key)
		bin := ophBin(x, k)
		acc[bin] = min(acc[bin], ophValue(x))
		shingles = append(shingles, uint32(x>>32))
	}
	return shingles
}

// ascii24Keep is ascii24 for len(out) windows that also writes each
// window's verification hash to out.
func ascii24Keep(src unsafe.Pointer, key *[4]uint64, acc unsafe.Pointer, k uint64, out []uint32) {
	k0, k1, k2, k3 := key[0], key[1], key[2], key[3]
	nn, p1 := uint64(24), uint64(xxhPrime64_1)
	base := nn * p1
	for i := range out {
		a, b, c := *(*uint64)(src), *(*uint64)(unsafe.Add(src, 8)), *(*uint64)(unsafe.Add(src, 16))
		h1, l1 := bits.Mul64(a^k0, b^k1)
		h2, l2 := bits.Mul64(b^k2, c^k3)
		x := xxh3Avalanche(base + (h1 ^ l1) + (h2 ^ l2))
		slot := (*uint32)(unsafe.Add(acc, ophBin(x, k)*4))
		*slot = min(*slot, ophValue(x))
		out[i] = uint32(x >> 32)
		src = unsafe.Add(src, 1)
	}
}

// densify writes acc to dst, filling each empty bin i with the value of the
// first non-empty bin along its probe sequence probe(i, 1), probe(i, 2), …
// (optimal densification). acc has at least one non-empty bin. filled is
// scratch space of len(acc).
//
// Two evaluations give the same result: probing, about k/f attempts per
// empty bin when f bins are filled, and, for documents that fill few bins,
// the table of first hits, f lookups per empty bin.
func (o *ophTables) densify(acc, dst []uint32, filled []uint16) {
	k := len(acc)
	dst = dst[:k]
	nf := 0
	for i, v := range acc {
		if v != ophEmpty {
			filled[nf] = uint16(i)
			nf++
		}
	}
	copy(dst, acc)
	if nf == k {
		return
	}
	if o.first != nil && nf*nf <= 4*k {
		for i, v := range acc {
			if v != ophEmpty {
				continue
			}
			row := o.first[i*k : (i+1)*k]
			best, bj := uint16(math.MaxUint16), 0
			for _, j := range filled[:nf] {
				if t := row[j]; t < best {
					best, bj = t, int(j)
				}
			}
			dst[i] = acc[bj]
		}
		return
	}
	for i, v := range acc {
		if v != ophEmpty {
			continue
		}
		for t := 1; ; t++ {
			if u := acc[o.probe(i, t)]; u != ophEmpty {
				dst[i] = u
				break
			}
		}
	}
}
