//go:build !amd64 || purego

package minhash

import "github.com/twmb/murmur3"

// hashASCII32 is the portable equivalent of the AVX2 window hasher: the
// hashes (0 mapped to 1) of the 32 windows text[p+j : p+j+width], j = 0..31,
// in the same order (window p+g+4i at out[8g+i]).
func hashASCII32(text []byte, p, width int, seed uint32, out []uint32) {
	out = out[:32]
	for g := range 4 {
		for i := range 8 {
			s := p + g + 4*i
			out[8*g+i] = max(murmur3.SeedSum32(seed, text[s:s+width]), 1)
		}
	}
}
