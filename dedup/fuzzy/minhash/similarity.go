package minhash

import (
	"encoding/binary"
	"fmt"

	"github.com/zeebo/xxh3"
)

// Jaccard32 returns the fraction of positions at which a and b agree: the
// MinHash estimate of the Jaccard similarity of the two texts' shingle sets.
// It panics if the lengths differ and returns 0 for empty signatures.
//
// Two empty texts both have all-zero signatures and so estimate 1; callers
// are expected to report empty texts separately.
func Jaccard32(a, b []uint32) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("minhash: Jaccard32 of signatures of lengths %d and %d", len(a), len(b)))
	}
	if len(a) == 0 {
		return 0
	}
	b = b[:len(a)]
	eq := 0
	for i, v := range a {
		if v == b[i] {
			eq++
		}
	}
	return float64(eq) / float64(len(a))
}

// Jaccard64 is [Jaccard32] for 64-bit signatures.
func Jaccard64(a, b []uint64) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("minhash: Jaccard64 of signatures of lengths %d and %d", len(a), len(b)))
	}
	if len(a) == 0 {
		return 0
	}
	b = b[:len(a)]
	eq := 0
	for i, v := range a {
		if v == b[i] {
			eq++
		}
	}
	return float64(eq) / float64(len(a))
}

// bandBufLen is the stack buffer used to serialise a band; larger bands
// (more than 128 32-bit rows) fall back to a heap buffer.
const bandBufLen = 512

// BandKey32 returns a 128-bit key identifying the values of LSH band `band`,
// i.e. sig[band*rows : (band+1)*rows]: the XXH3-128 hash of those values
// serialised as consecutive little-endian uint32s, in XXH3's canonical
// big-endian byte order (high 64 bits first).
//
// The key does not include the band index: two documents are LSH candidates
// when, for some band b, they have equal (b, BandKey32(sig, b, rows)).
// Bucketing code must therefore key on the pair, or process bands
// separately.
//
// It panics if the band lies outside sig or rows < 1. It does not allocate
// for rows <= 128.
func BandKey32(sig []uint32, band, rows int) [16]byte {
	if rows < 1 || band < 0 || (band+1)*rows > len(sig) {
		panic(fmt.Sprintf("minhash: BandKey32 band %d of %d rows outside a signature of length %d", band, rows, len(sig)))
	}
	vals := sig[band*rows : (band+1)*rows]
	var stack [bandBufLen]byte
	var buf []byte
	if n := 4 * len(vals); n <= len(stack) {
		buf = stack[:n]
	} else {
		buf = make([]byte, n)
	}
	for i, v := range vals {
		binary.LittleEndian.PutUint32(buf[4*i:], v)
	}
	return xxh3.Hash128(buf).Bytes()
}

// BandKey64 is [BandKey32] for 64-bit signatures: the values are serialised
// as little-endian uint64s. It does not allocate for rows <= 64.
func BandKey64(sig []uint64, band, rows int) [16]byte {
	if rows < 1 || band < 0 || (band+1)*rows > len(sig) {
		panic(fmt.Sprintf("minhash: BandKey64 band %d of %d rows outside a signature of length %d", band, rows, len(sig)))
	}
	vals := sig[band*rows : (band+1)*rows]
	var stack [bandBufLen]byte
	var buf []byte
	if n := 8 * len(vals); n <= len(stack) {
		buf = stack[:n]
	} else {
		buf = make([]byte, n)
	}
	for i, v := range vals {
		binary.LittleEndian.PutUint64(buf[8*i:], v)
	}
	return xxh3.Hash128(buf).Bytes()
}

// BandKeyLE is [BandKey32] (width 4) or [BandKey64] (width 8) of a
// signature held as its little-endian encoding le, K values of width bytes
// each (the signature stores' record format): it hashes the band's bytes
// where they lie, with no decoding. It panics if the band lies outside le,
// rows < 1 or width is neither 4 nor 8.
func BandKeyLE(le []byte, band, rows, width int) [16]byte {
	if rows < 1 || band < 0 || (width != 4 && width != 8) || (band+1)*rows*width > len(le) {
		panic(fmt.Sprintf("minhash: BandKeyLE band %d of %d rows of width %d outside a %d-byte signature", band, rows, width, len(le)))
	}
	return xxh3.Hash128(le[band*rows*width : (band+1)*rows*width]).Bytes()
}
