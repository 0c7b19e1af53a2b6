package fuzzy

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRadixSort32 checks radixSort32 against slices.Sort on random, small,
// constant-byte and duplicate-heavy inputs, reusing one scratch buffer.
func TestRadixSort32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tmp []uint32
	for _, n := range []int{0, 1, 2, 127, 128, 129, 1000, 5000} {
		for kind := range 4 {
			a := make([]uint32, n)
			for i := range a {
				switch kind {
				case 0:
					a[i] = rng.Uint32()
				case 1:
					a[i] = rng.Uint32N(16) // duplicates
				case 2:
					a[i] = 0xab0000cd | rng.Uint32N(256)<<8 // three constant bytes
				case 3:
					a[i] = uint32(n - i) // descending
				}
			}
			want := slices.Sorted(slices.Values(a))
			tmp = radixSort32(a, tmp)
			if !slices.Equal(a, want) {
				t.Fatalf("n=%d kind=%d: not sorted like slices.Sort", n, kind)
			}
		}
	}
}
