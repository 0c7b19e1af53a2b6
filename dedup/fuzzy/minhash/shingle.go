package minhash

import (
	"encoding/binary"
	"math/bits"

	"github.com/twmb/murmur3"
)

// windows walks the shingles of a text: byte ranges [p, q) that each hold
// width characters, advancing one character at a time.
//
// A character starts at offset 0 and at every byte that is not a UTF-8
// continuation byte (0b10xxxxxx). For valid UTF-8 this is exactly the code
// point boundaries cuDF uses; for invalid UTF-8 it is a deterministic
// extension (cuDF's behaviour there is undefined, see docs/fuzzy-dedup.md).
type windows struct {
	p, q int
	done bool
	bad  int // offset of a known non-ASCII byte, or -1
}

// newWindows positions w on the first shingle of text, which must not be
// empty. If text has fewer than width characters, the only shingle is the
// whole text.
func newWindows(text []byte, width int) windows {
	q := 0
	for c := 0; c < width && q < len(text); c++ {
		q = nextStart(text, q)
	}
	return windows{p: 0, q: q, bad: -1}
}

// nextStart returns the offset of the character after the one at i (or
// len(text)).
func nextStart(text []byte, i int) int {
	i++
	for i < len(text) && text[i]&0xc0 == 0x80 {
		i++
	}
	return i
}

// hash32 hashes up to len(out) further shingles with MurmurHash3_x86_32 into
// out (0 mapped to 1) and returns how many it wrote; 0 means the walk is over.
// The order of the hashes within out is unspecified.
//
// With vec set, runs of at least 32 windows over pure ASCII are hashed 32 at
// a time by hashASCII32.
func (w *windows) hash32(text []byte, out []uint32, seed uint32, vec bool) int {
	if w.done {
		return 0
	}
	p, q, n := w.p, w.q, len(text)
	k := 0
	for k < len(out) {
		// Vector path: windows p..p+31 are all ASCII (so exactly q-p bytes
		// each) when text[p:q+32] is, and text[q+32] being ASCII makes
		// q+32 the next character start. w.bad remembers a known non-ASCII
		// byte so that mixed text is not rescanned at every window.
		if vec && k+32 <= len(out) && q+35 <= n && w.bad < p {
			if i := firstNonASCII(text[p : q+33]); i < 0 {
				hashASCII32(text, p, q-p, seed, out[k:])
				k += 32
				p += 32
				q += 32
				continue
			} else {
				w.bad = p + i
			}
		}
		h := murmur3.SeedSum32(seed, text[p:q])
		if h == 0 {
			h = 1
		}
		out[k] = h
		k++
		if q >= n {
			w.done = true
			break
		}
		// Slide both ends by one character.
		p++
		for text[p]&0xc0 == 0x80 { // p < q < n, so text[p] is in bounds
			p++
		}
		q = nextStart(text, q)
	}
	w.p, w.q = p, q
	return k
}

// firstNonASCII returns the index of the first byte >= 0x80 in b, or -1.
func firstNonASCII(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if x := binary.LittleEndian.Uint64(b[i:]) & 0x8080808080808080; x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= 0x80 {
			return i
		}
	}
	return -1
}

// hash64 is hash32 for the 64-bit scheme: the first half of
// MurmurHash3_x64_128 with both internal halves seeded by the full 64-bit
// seed (as cuco's implementation, which cuDF uses, does).
func (w *windows) hash64(text []byte, out []uint64, seed uint64) int {
	if w.done {
		return 0
	}
	p, q, n := w.p, w.q, len(text)
	k := 0
	for k < len(out) {
		h, _ := murmur3.SeedSum128(seed, seed, text[p:q])
		if h == 0 {
			h = 1
		}
		out[k] = h
		k++
		if q >= n {
			w.done = true
			break
		}
		p++
		for text[p]&0xc0 == 0x80 {
			p++
		}
		q = nextStart(text, q)
	}
	w.p, w.q = p, q
	return k
}
