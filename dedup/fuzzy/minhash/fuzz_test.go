package minhash

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSignature32 checks, for arbitrary input bytes and window widths, that
// the SIMD and scalar paths agree and never panic, and that valid UTF-8
// matches the naive reference implementation.
func FuzzSignature32(f *testing.F) {
	f.Add([]byte(""), uint8(24))
	f.Add([]byte("d"), uint8(4))
	f.Add([]byte(strings.Repeat("the quick brown fox ", 10)), uint8(24))
	f.Add([]byte("héllo wörld, 你好 🙂 "+strings.Repeat("ascii run ", 8)+"é"), uint8(5))
	f.Add([]byte{0xff, 0x80, 'a', 0xe4, 0xb8}, uint8(2))
	f.Fuzz(func(t *testing.T, text []byte, w uint8) {
		p := DefaultParams()
		p.NumPerm = 20
		p.CharNgrams = 1 + int(w%40)
		h, err := NewHasher(p)
		if err != nil {
			t.Fatal(err)
		}
		scalar := h.Clone()
		scalar.simd = false
		got := h.Signature32(text, nil)
		want := scalar.Signature32(text, nil)
		if Jaccard32(got, want) != 1 {
			t.Fatalf("simd %v != scalar %v", got, want)
		}
		if utf8.Valid(text) {
			a, b, seed := h.Coefficients32()
			if ref := reference32(text, p.CharNgrams, seed, a, b); Jaccard32(ref, got) != 1 {
				t.Fatalf("signature %v != reference %v", got, ref)
			}
		}
	})
}

// FuzzOPH checks, for arbitrary bytes, widths and bin counts, that every
// evaluation path of the OPH scheme (vector, pure Go, generic per-window,
// probing densification) agrees with the naive reference, without panics.
func FuzzOPH(f *testing.F) {
	f.Add([]byte(""), uint8(24), uint16(260))
	f.Add([]byte("d"), uint8(24), uint16(3))
	f.Add([]byte(strings.Repeat("the quick brown fox ", 10)), uint8(24), uint16(260))
	f.Add([]byte("héllo wörld, 你好 🙂 "+strings.Repeat("ascii run ", 8)+"é"), uint8(20), uint16(37))
	f.Add([]byte{0xff, 0x80, 'a', 0xe4, 0xb8}, uint8(2), uint16(600))
	f.Add(append([]byte(strings.Repeat("abcdefghij", 5)), 0x80, 'x', 'y'), uint8(24), uint16(9))
	f.Fuzz(func(t *testing.T, text []byte, w uint8, k uint16) {
		width, bins := 1+int(w%40), 1+int(k%700)
		want := referenceOPH(text, width, 7, bins)
		for name, h := range ophVariants(newOPH(t, bins, width, 7)) {
			if got := h.Signature32(text, nil); !slices.Equal(got, want) {
				t.Fatalf("%s: %v != reference %v", name, got, want)
			}
		}
	})
}
