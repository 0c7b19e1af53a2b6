package minhash

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/twmb/murmur3"
	"github.com/zeebo/xxh3"
)

// vectorsPath is the reference file written by testdata/minhash/gen_vectors.py
// (numpy + an independent pure-Python MurmurHash3).
var vectorsPath = filepath.Join("..", "..", "..", "testdata", "minhash", "vectors.json")

type vectorConfig struct {
	Name       string              `json:"name"`
	Seed       uint64              `json:"seed"`
	CharNgrams int                 `json:"char_ngrams"`
	HashBits   int                 `json:"hash_bits"`
	NumPerm    int                 `json:"num_perm"`
	MurmurSeed uint64              `json:"murmur_seed"`
	A          []uint64            `json:"a"`
	B          []uint64            `json:"b"`
	Signatures map[string][]uint64 `json:"signatures"`
}

type vectorFile struct {
	Texts   map[string]string `json:"texts"`
	Configs []vectorConfig    `json:"configs"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var v vectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode vectors: %v", err)
	}
	if len(v.Configs) == 0 || len(v.Texts) == 0 {
		t.Fatal("vectors file is empty")
	}
	return v
}

// kernels lists the 32-bit kernels to exercise: always the scalar one, and
// the SIMD one when this build and CPU have it.
func kernels(t *testing.T) []bool {
	t.Helper()
	if simdAvailable() {
		return []bool{false, true}
	}
	t.Log("SIMD kernel unavailable in this build/CPU; testing the scalar kernel only")
	return []bool{false}
}

func kernelName(simd bool) string {
	if simd {
		return "simd"
	}
	return "scalar"
}

func TestVectors(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Configs {
		t.Run(c.Name, func(t *testing.T) {
			p := Params{NumPerm: c.NumPerm, CharNgrams: c.CharNgrams, Seed: c.Seed, HashBits: c.HashBits}
			h, err := NewHasher(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Signatures) != len(v.Texts) {
				t.Fatalf("config has %d signatures for %d texts", len(c.Signatures), len(v.Texts))
			}
			switch c.HashBits {
			case 32:
				a, b, seed := h.Coefficients32()
				if uint64(seed) != c.MurmurSeed {
					t.Fatalf("murmur seed %d, want %d", seed, c.MurmurSeed)
				}
				for i := range c.A {
					if uint64(a[i]) != c.A[i] || uint64(b[i]) != c.B[i] {
						t.Fatalf("perm %d: (a,b) = (%d,%d), want (%d,%d)", i, a[i], b[i], c.A[i], c.B[i])
					}
				}
				for _, simd := range kernels(t) {
					h.simd = simd
					for name, want := range c.Signatures {
						got := h.Signature32([]byte(v.Texts[name]), nil)
						for i := range want {
							if uint64(got[i]) != want[i] {
								t.Fatalf("%s text %q: sig[%d] = %d, want %d", kernelName(simd), name, i, got[i], want[i])
							}
						}
					}
				}
			case 64:
				a, b, seed := h.Coefficients64()
				if seed != c.MurmurSeed {
					t.Fatalf("murmur seed %d, want %d", seed, c.MurmurSeed)
				}
				for i := range c.A {
					if a[i] != c.A[i] || b[i] != c.B[i] {
						t.Fatalf("perm %d: (a,b) = (%d,%d), want (%d,%d)", i, a[i], b[i], c.A[i], c.B[i])
					}
				}
				for name, want := range c.Signatures {
					got := h.Signature64([]byte(v.Texts[name]), nil)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("text %q: sig[%d] = %d, want %d", name, i, got[i], want[i])
						}
					}
				}
			}
		})
	}
}

// newTestHasher builds a Hasher with explicit coefficients, bypassing the
// numpy-compatible draw, as cuDF's own unit tests do.
func newTestHasher(t *testing.T, width, bits int, seed uint64, a, b []uint64) *Hasher {
	t.Helper()
	h, err := NewHasher(Params{NumPerm: len(a), CharNgrams: width, Seed: 0, HashBits: bits})
	if err != nil {
		t.Fatal(err)
	}
	if bits == 32 {
		for i := range a {
			h.a32[i], h.b32[i] = uint32(a[i]), uint32(b[i])
		}
		h.seed32 = uint32(seed)
	} else {
		copy(h.a64, a)
		copy(h.b64, b)
		h.seed64 = seed
	}
	return h
}

// TestCuDFUnitTest reproduces the expected values of cuDF's C++ test
// MinHashTest.Permuted and MinHashTest.PermutedWide
// (rapidsai/cudf cpp/tests/text/minhash_tests.cpp): width 4, murmur seed 0,
// a = b = {10, 11, 12} (and {20, 21, 22} for the wide strings). These numbers
// were produced by cuDF on a GPU; matching them pins our shingling, hashing,
// max(h, 1) and both permutation formulas to the reference.
func TestCuDFUnitTest(t *testing.T) {
	docs := []string{
		"doc 1", "this is doc 2", "doc 3", "d",
		"The quick brown fox jumpéd over the lazy brown dog.",
		"line six", "line seven", "line eight", "line nine", "line ten",
	}
	want32 := [][]uint64{
		{1392101586, 394869177, 811528444},
		{211415830, 187088503, 130291444},
		{2098117052, 394869177, 799753544},
		{2264583304, 2920538364, 3576493424},
		{253327882, 41747273, 302030804},
		{2109809594, 1017470651, 326988172},
		{1303819864, 850676747, 147107852},
		{736021564, 720812292, 1405158760},
		{902780242, 134064807, 1613944636},
		{547084870, 1748895564, 656501844},
	}
	want64 := [][]uint64{
		{827364888116975697, 1601854279692781452, 70500662054893256},
		{18312093741021833, 133793446674258329, 21974512489226198},
		{22474244732520567, 1638811775655358395, 949306297364502264},
		{1332357434996402861, 2157346081260151330, 676491718310205848},
		{65816830624808020, 43323600380520789, 63511816333816345},
		{629657184954525200, 49741036507643002, 97466271004074331},
		{301611977846331113, 101188874709594830, 97466271004074331},
		{121498891461700668, 171065800427907402, 97466271004074331},
		{54617739511834072, 231454301607238929, 97466271004074331},
		{576418665851990314, 231454301607238929, 97466271004074331},
	}
	p := []uint64{10, 11, 12}
	wide := []uint64{20, 21, 22}
	wideDocs := []string{strings.Repeat("x", 2<<10), strings.Repeat("y", 2<<19)}
	wideWant32 := [][]uint64{{1731998032, 315359380, 3193688024}, {1293098788, 2860992281, 133918478}}
	wideWant64 := [][]uint64{
		{1818322427062143853, 641024893347719371, 1769570368846988848},
		{1389920339306667795, 421787002125838902, 1759496674158703968},
	}

	check32 := func(h *Hasher, doc string, want []uint64) {
		t.Helper()
		got := h.Signature32([]byte(doc), nil)
		for i := range want {
			if uint64(got[i]) != want[i] {
				t.Fatalf("%s 32-bit %.20q: got %v, want %v", kernelName(h.simd), doc, got, want)
			}
		}
	}
	check64 := func(h *Hasher, doc string, want []uint64) {
		t.Helper()
		got := h.Signature64([]byte(doc), nil)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("64-bit %.20q: got %v, want %v", doc, got, want)
			}
		}
	}
	for _, simd := range kernels(t) {
		h := newTestHasher(t, 4, 32, 0, p, p)
		h.simd = simd
		for i, d := range docs {
			check32(h, d, want32[i])
		}
		h = newTestHasher(t, 4, 32, 0, wide, wide)
		h.simd = simd
		for i, d := range wideDocs {
			check32(h, d, wideWant32[i])
		}
	}
	h := newTestHasher(t, 4, 64, 0, p, p)
	for i, d := range docs {
		check64(h, d, want64[i])
	}
	h = newTestHasher(t, 4, 64, 0, wide, wide)
	for i, d := range wideDocs {
		check64(h, d, wideWant64[i])
	}
}

// TestHandCheck works one case through by hand.
//
// The text "d" is shorter than the 4-character window, so its only shingle is
// "d" itself: one byte, 0x64, so MurmurHash3_x86_32 with seed 0 has no body
// and a one-byte tail:
//
//	k = 0x64 · 0xcc9e2d51        = 0xedc9b3a4   (mod 2³²)
//	k = rotl32(k, 15)            = 0xd9d276e4
//	k = k · 0x1b873593           = 0x64b378ec
//	h = 0 ^ k ^ len(=1)          = 0x64b378ed
//	fmix32: h ^= h>>16           = 0x64b31c5e
//	        h *= 0x85ebca6b      = 0x4b89074a
//	        h ^= h>>13           = 0x4b8b5b02
//	        h *= 0xc2b2ae35      = 0x2719336a
//	        h ^= h>>16           = 0x27191473 = 655955059
//
// With a = b = {10, 11, 12} the permutations give a·h + a = a·(h+1) mod 2³²:
//
//	10 · 655955060 = 6559550600 − 4294967296 = 2264583304
//	11 · 655955060 = 7215505660 − 4294967296 = 2920538364
//	12 · 655955060 = 7871460720 − 4294967296 = 3576493424
//
// which is exactly row "d" of cuDF's expected output in TestCuDFUnitTest.
func TestHandCheck(t *testing.T) {
	const h = 655955059
	if got := murmur3.SeedSum32(0, []byte("d")); got != h {
		t.Fatalf("murmur3(\"d\", 0) = %d, want %d", got, h)
	}
	hs := newTestHasher(t, 4, 32, 0, []uint64{10, 11, 12}, []uint64{10, 11, 12})
	got := hs.Signature32([]byte("d"), nil)
	want := []uint32{2264583304, 2920538364, 3576493424}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("signature %v, want %v", got, want)
		}
	}
}

func TestMod61(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	edge := []uint64{0, 1, mersenne61 - 1, mersenne61, mersenne61 + 1, 2 * mersenne61, 2*mersenne61 + 1,
		1 << 61, 1<<62 - 1, math.MaxUint64, math.MaxUint64 - 1, 7 * mersenne61}
	for range 100000 {
		edge = append(edge[:12], r.Uint64())
		for _, x := range edge {
			if got, want := mod61(x), x%mersenne61; got != want {
				t.Fatalf("mod61(%d) = %d, want %d", x, got, want)
			}
		}
	}
}

// randomCoefficients returns padded 32-bit a, b with a few extreme values.
func randomCoefficients(r *rand.Rand, n int) (a, b []uint32) {
	padded := (n + lanes - 1) / lanes * lanes
	a, b = make([]uint32, padded), make([]uint32, padded)
	extremes := []uint32{0, 1, math.MaxUint32, math.MaxUint32 - 1, 1 << 31}
	for i := range n {
		a[i], b[i] = r.Uint32(), r.Uint32()
		if r.IntN(8) == 0 {
			a[i] = extremes[r.IntN(len(extremes))]
		}
		if r.IntN(8) == 0 {
			b[i] = extremes[r.IntN(len(extremes))]
		}
	}
	return a, b
}

func TestKernelSIMDMatchesScalar(t *testing.T) {
	if !simdAvailable() {
		t.Log("SIMD kernel unavailable; minUpdate32SIMD is the scalar fallback in this build")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 7, 8, 9, 24, 31, 32, 33, 64, 100, 260, 264, 513} {
		a, b := randomCoefficients(r, n)
		for _, nh := range []int{0, 1, 2, 5, 64, 255, 256} {
			hs := make([]uint32, nh)
			for i := range hs {
				hs[i] = r.Uint32()
				if r.IntN(10) == 0 {
					hs[i] = []uint32{1, math.MaxUint32, 1 << 31}[r.IntN(3)]
				}
			}
			acc1 := make([]uint32, len(a))
			for i := range acc1 {
				acc1[i] = r.Uint32() | 1<<31 // partially filled minimums
			}
			init := append([]uint32(nil), acc1...)
			acc2 := append([]uint32(nil), acc1...)
			minUpdate32Scalar(acc1, a, b, hs)
			minUpdate32SIMD(acc2, a, b, hs)
			for i := range acc1 {
				// The formula, one permutation and one hash at a time.
				want := init[i]
				for _, h := range hs {
					want = min(want, a[i]*h+b[i])
				}
				if acc1[i] != want || acc2[i] != want {
					t.Fatalf("n=%d nh=%d: acc[%d] scalar %d simd %d, want %d", n, nh, i, acc1[i], acc2[i], want)
				}
			}
		}
	}
}

// TestKernelScalarUnpadded runs the scalar kernels on lengths that are not
// multiples of their unrolling, against the formula.
func TestKernelScalarUnpadded(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for n := 1; n <= 11; n++ {
		a, b := randomCoefficients(r, n)
		a, b = a[:n], b[:n]
		hs := []uint32{r.Uint32(), r.Uint32(), 1, math.MaxUint32}
		acc := make([]uint32, n)
		for i := range acc {
			acc[i] = math.MaxUint32
		}
		minUpdate32Scalar(acc, a, b, hs)
		a64, b64 := make([]uint64, n), make([]uint64, n)
		acc64 := make([]uint64, n)
		for i := range a64 {
			a64[i], b64[i], acc64[i] = r.Uint64N(mersenne61), r.Uint64N(mersenne61), math.MaxUint64
		}
		hs64 := []uint64{r.Uint64(), 1, math.MaxUint64}
		minUpdate64(acc64, a64, b64, hs64)
		for i := range n {
			want := uint32(math.MaxUint32)
			for _, h := range hs {
				want = min(want, a[i]*h+b[i])
			}
			if acc[i] != want {
				t.Fatalf("n=%d: acc[%d] = %d, want %d", n, i, acc[i], want)
			}
			want64 := uint64(math.MaxUint64)
			for _, h := range hs64 {
				want64 = min(want64, (a64[i]*h+b64[i])%mersenne61)
			}
			if acc64[i] != want64 {
				t.Fatalf("n=%d: acc64[%d] = %d, want %d", n, i, acc64[i], want64)
			}
		}
	}
}

// randomText returns valid UTF-8 mixing ASCII, 2-, 3- and 4-byte runes.
func randomText(r *rand.Rand, nRunes int) []byte {
	var sb strings.Builder
	alphabet := []rune("abcdefghij  .,\n\tXYZéüßñ€—“”中文字日本語🙂🚀𝒳")
	for range nRunes {
		if r.IntN(3) == 0 {
			sb.WriteRune(alphabet[r.IntN(len(alphabet))])
		} else {
			sb.WriteByte(byte('a' + r.IntN(6))) // small alphabet: repeated shingles
		}
	}
	return []byte(sb.String())
}

// reference32 is a deliberately naive implementation of the scheme: rune
// slicing, the murmur3 library and one permutation at a time.
func reference32(text []byte, width int, seed uint32, a, b []uint32) []uint32 {
	out := make([]uint32, len(a))
	runes := []rune(string(text))
	if len(runes) == 0 {
		return out
	}
	for i := range out {
		out[i] = math.MaxUint32
	}
	var shingles []string
	if len(runes) <= width {
		shingles = []string{string(runes)}
	} else {
		for i := 0; i+width <= len(runes); i++ {
			shingles = append(shingles, string(runes[i:i+width]))
		}
	}
	for _, s := range shingles {
		h := max(murmur3.SeedSum32(seed, []byte(s)), 1)
		for i := range out {
			out[i] = min(out[i], a[i]*h+b[i])
		}
	}
	return out
}

// reference64 is reference32 for the 64-bit scheme, with the modulus taken
// by Go's % operator.
func reference64(text []byte, width int, seed uint64, a, b []uint64) []uint64 {
	out := make([]uint64, len(a))
	runes := []rune(string(text))
	if len(runes) == 0 {
		return out
	}
	for i := range out {
		out[i] = math.MaxUint64
	}
	var shingles []string
	if len(runes) <= width {
		shingles = []string{string(runes)}
	} else {
		for i := 0; i+width <= len(runes); i++ {
			shingles = append(shingles, string(runes[i:i+width]))
		}
	}
	for _, s := range shingles {
		h1, _ := murmur3.SeedSum128(seed, seed, []byte(s))
		h := max(h1, 1)
		for i := range out {
			out[i] = min(out[i], (a[i]*h+b[i])%mersenne61)
		}
	}
	return out
}

func TestSignatureMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for iter := range 60 {
		width := 1 + r.IntN(30)
		numPerm := 1 + r.IntN(70)
		text := randomText(r, r.IntN(600))
		if iter%10 == 0 {
			text = randomText(r, r.IntN(width+1)) // at most one window
		}
		h32, err := NewHasher(Params{NumPerm: numPerm, CharNgrams: width, Seed: r.Uint64N(1 << 32), HashBits: 32})
		if err != nil {
			t.Fatal(err)
		}
		a, b, seed := h32.Coefficients32()
		want := reference32(text, width, seed, a, b)
		for _, simd := range kernels(t) {
			h32.simd = simd
			got := h32.Signature32(text, nil)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s width %d text %q: sig[%d] = %d, want %d", kernelName(simd), width, text, i, got[i], want[i])
				}
			}
		}
		h64, err := NewHasher(Params{NumPerm: numPerm, CharNgrams: width, Seed: r.Uint64N(1 << 32), HashBits: 64})
		if err != nil {
			t.Fatal(err)
		}
		a64, b64, seed64 := h64.Coefficients64()
		want64 := reference64(text, width, seed64, a64, b64)
		got64 := h64.Signature64(text, nil)
		for i := range want64 {
			if got64[i] != want64[i] {
				t.Fatalf("64-bit width %d text %q: sig[%d] = %d, want %d", width, text, i, got64[i], want64[i])
			}
		}
	}
}

// TestHashASCII32 checks the 32-window ASCII hasher (AVX2 when available)
// against the scalar MurmurHash3 for every width up to 70 bytes.
func TestHashASCII32(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	text := make([]byte, 200)
	for i := range text {
		text[i] = byte(r.IntN(128))
	}
	out := make([]uint32, 32)
	for width := 1; width <= 70; width++ {
		for _, p := range []int{0, 1, 5, 200 - width - 35} {
			seed := r.Uint32()
			hashASCII32(text, p, width, seed, out)
			for g := range 4 {
				for i := range 8 {
					s := p + g + 4*i
					want := max(murmur3.SeedSum32(seed, text[s:s+width]), 1)
					if out[8*g+i] != want {
						t.Fatalf("width %d p %d window %d: %#x, want %#x", width, p, s, out[8*g+i], want)
					}
				}
			}
		}
	}
}

// TestLongTextSIMDMatchesScalar runs whole signatures over texts much longer
// than one hash block, at the default parameters.
func TestLongTextSIMDMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	h, err := NewHasher(DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	scalar := h.Clone()
	scalar.simd = false
	english := syntheticEnglish(8, 3000)
	for iter := range 40 {
		var text []byte
		switch iter % 4 {
		case 0:
			text = randomText(r, 1+r.IntN(5000)) // mostly short ASCII runs
		case 1:
			text = english[iter%len(english)][:r.IntN(3000)] // pure ASCII
		default:
			// Long ASCII runs broken by multi-byte characters at random
			// places, including near the ends of vector groups.
			base := english[iter%len(english)]
			var b []byte
			for len(b) < 4000 {
				n := r.IntN(200)
				start := r.IntN(len(base) - n)
				b = append(b, base[start:start+n]...)
				b = append(b, randomText(r, 1+r.IntN(3))...)
			}
			text = b
		}
		for _, width := range []int{24, 1 + r.IntN(40)} {
			p := DefaultParams()
			p.CharNgrams = width
			h, err := NewHasher(p)
			if err != nil {
				t.Fatal(err)
			}
			scalar := h.Clone()
			scalar.simd = false
			want := scalar.Signature32(text, nil)
			got := h.Signature32(text, nil)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("len %d width %d: sig[%d] simd=%v %d, scalar %d", len(text), width, i, h.simd, got[i], want[i])
				}
			}
			if iter%8 == 0 {
				a, b, seed := h.Coefficients32()
				ref := reference32(text, width, seed, a, b)
				if Jaccard32(ref, got) != 1 {
					t.Fatalf("len %d width %d: differs from the reference", len(text), width)
				}
			}
		}
	}
}

func TestShingleBoundaries(t *testing.T) {
	const text = "aé中🙂bcd" // 1-, 2-, 3-, 4-byte runes then ASCII
	var got [][2]int
	w := newWindows([]byte(text), 3)
	for !w.done {
		got = append(got, [2]int{w.p, w.q})
		var out [1]uint32
		w.hash32([]byte(text), out[:], 0, false)
	}
	want := [][2]int{{0, 6}, {1, 10}, {3, 11}, {6, 12}, {10, 13}}
	if len(got) != len(want) {
		t.Fatalf("windows %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("windows %v, want %v", got, want)
		}
		if n := utf8.RuneCountInString(text[got[i][0]:got[i][1]]); n != 3 {
			t.Fatalf("window %q has %d runes", text[got[i][0]:got[i][1]], n)
		}
	}
}

func TestShortAndEmptyTexts(t *testing.T) {
	h, err := NewHasher(DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	// An empty text gives zeros, also into a dirty, reused buffer.
	dst := make([]uint32, DefaultNumPerm)
	for i := range dst {
		dst[i] = 7
	}
	for _, s := range h.Signature32(nil, dst) {
		if s != 0 {
			t.Fatal("empty text: non-zero signature")
		}
	}
	// A text shorter than the window is one shingle: the whole text. So it
	// must equal the signature of the same text with a window of exactly its
	// length in characters.
	short := []byte("héllo wörld") // 11 characters
	p := DefaultParams()
	p.CharNgrams = 11
	h11, err := NewHasher(p)
	if err != nil {
		t.Fatal(err)
	}
	a, b := h.Signature32(short, nil), h11.Signature32(short, nil)
	if Jaccard32(a, b) != 1 {
		t.Fatal("short text: signature differs from the single-window signature")
	}
	// ... and its values are the permutations of a single hash.
	coefA, coefB, seed := h.Coefficients32()
	hv := max(murmur3.SeedSum32(seed, short), 1)
	for i := range a {
		if a[i] != coefA[i]*hv+coefB[i] {
			t.Fatalf("short text sig[%d] = %d, want a·h+b = %d", i, a[i], coefA[i]*hv+coefB[i])
		}
	}
	// Appending one character to a 24-character text adds one shingle.
	x24 := []byte(strings.Repeat("x", 24))
	if Jaccard32(h.Signature32(x24, nil), h.Signature32(append(x24, 'x'), nil)) != 1 {
		t.Fatal("24 and 25 x's share their only distinct shingle but signatures differ")
	}
	if sig := h.Signature32([]byte("x"), nil); sig[0] == 0 {
		t.Fatal("non-empty text has a zero value")
	}
}

// TestInvalidUTF8 checks that malformed input is handled deterministically,
// without panics, and identically by both kernels.
func TestInvalidUTF8(t *testing.T) {
	h, err := NewHasher(DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	scalar := h.Clone()
	scalar.simd = false
	inputs := [][]byte{
		{0x80}, {0x80, 0x80, 0x80}, {0xff, 0xfe, 'a'}, {'a', 0xe4, 0xb8}, // truncated 3-byte rune at end
		append([]byte(strings.Repeat("ab", 20)), 0xc3), append([]byte{0xbf}, []byte(strings.Repeat("z", 40))...),
	}
	for _, in := range inputs {
		s1 := h.Signature32(in, nil)
		s2 := scalar.Signature32(in, nil)
		if Jaccard32(s1, s2) != 1 {
			t.Fatalf("%q: kernels disagree", in)
		}
		if Jaccard32(s1, h.Signature32(in, nil)) != 1 {
			t.Fatalf("%q: not deterministic", in)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	text := randomText(rand.New(rand.NewPCG(11, 12)), 3000)
	h32, _ := NewHasher(DefaultParams())
	p := DefaultParams()
	p.HashBits = 64
	h64, _ := NewHasher(p)
	d32 := make([]uint32, DefaultNumPerm)
	d64 := make([]uint64, DefaultNumPerm)
	if n := testing.AllocsPerRun(20, func() { d32 = h32.Signature32(text, d32) }); n != 0 {
		t.Errorf("Signature32 allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(20, func() { d64 = h64.Signature64(text, d64) }); n != 0 {
		t.Errorf("Signature64 allocates %v times per call", n)
	}
	var key [16]byte
	if n := testing.AllocsPerRun(20, func() { key = BandKey32(d32, 3, 13) }); n != 0 {
		t.Errorf("BandKey32 allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(20, func() { key = BandKey64(d64, 3, 13) }); n != 0 {
		t.Errorf("BandKey64 allocates %v times per call", n)
	}
	_ = key
}

func TestParamsValidate(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	h, err := NewHasher(DefaultParams())
	if err != nil || h.Params() != DefaultParams() {
		t.Fatalf("Params() = %+v, %v", h.Params(), err)
	}
	bad := []Params{
		{},
		{NumPerm: 0, CharNgrams: 24, Seed: 42, HashBits: 32},
		{NumPerm: 260, CharNgrams: 0, Seed: 42, HashBits: 32},
		{NumPerm: 260, CharNgrams: 24, Seed: 1 << 32, HashBits: 32},
		{NumPerm: 260, CharNgrams: 24, Seed: 42, HashBits: 16},
		{NumPerm: MaxNumPerm + 1, CharNgrams: 24, Seed: 42, HashBits: 64},
	}
	for _, p := range bad {
		if _, err := NewHasher(p); err == nil {
			t.Errorf("NewHasher(%+v) succeeded", p)
		} else if !strings.HasPrefix(err.Error(), "minhash: invalid params: ") {
			t.Errorf("error %q lacks context", err)
		}
	}
}

func TestWrongWidthPanics(t *testing.T) {
	h, _ := NewHasher(DefaultParams())
	defer func() {
		if recover() == nil {
			t.Fatal("Signature64 on a 32-bit Hasher did not panic")
		}
	}()
	h.Signature64([]byte("abc"), nil)
}

func TestDstReuse(t *testing.T) {
	h, _ := NewHasher(DefaultParams())
	big := make([]uint32, 1000)
	got := h.Signature32([]byte("some text that is long enough to have shingles"), big)
	if len(got) != DefaultNumPerm || &got[0] != &big[0] {
		t.Fatalf("dst not reused: len %d", len(got))
	}
	small := make([]uint32, 10)
	if got := h.Signature32([]byte("abc"), small); len(got) != DefaultNumPerm {
		t.Fatalf("short dst not grown: len %d", len(got))
	}
}

func TestClonesConcurrently(t *testing.T) {
	h, _ := NewHasher(DefaultParams())
	r := rand.New(rand.NewPCG(13, 14))
	texts := make([][]byte, 16)
	want := make([][]uint32, len(texts))
	for i := range texts {
		texts[i] = randomText(r, 200+r.IntN(800))
		want[i] = h.Signature32(texts[i], nil)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 4 {
		c := h.Clone()
		wg.Go(func() {
			var dst []uint32
			for i, text := range texts {
				dst = c.Signature32(text, dst)
				if Jaccard32(dst, want[i]) != 1 {
					errs <- "clone computed a different signature"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestJaccardEstimate(t *testing.T) {
	if Jaccard32([]uint32{1, 2, 3, 4}, []uint32{1, 9, 3, 9}) != 0.5 {
		t.Fatal("Jaccard32 of half-equal signatures is not 0.5")
	}
	if Jaccard64([]uint64{5, 6}, []uint64{5, 6}) != 1 || Jaccard64(nil, nil) != 0 {
		t.Fatal("Jaccard64 wrong")
	}
	// Two texts over disjoint sets of shingles plus a shared part: with a
	// 1-character window the shingle sets are character sets.
	p := DefaultParams()
	p.CharNgrams = 1
	h, _ := NewHasher(p)
	// {a..t} vs {k..z, A..D}: intersection k..t = 10, union a..z + A..D = 30.
	a := h.Signature32([]byte("abcdefghijklmnopqrst"), nil)
	b := h.Signature32([]byte("klmnopqrstuvwxyzABCD"), nil)
	est := Jaccard32(a, b)
	if math.Abs(est-1.0/3) > 0.1 {
		t.Fatalf("estimated Jaccard %.3f, true 0.333", est)
	}
}

func TestBandKey(t *testing.T) {
	sig := []uint32{1, 2, 3, 4, 5, 6, 1, 2, 3}
	if BandKey32(sig, 0, 3) != BandKey32(sig, 2, 3) {
		t.Fatal("equal bands give different keys")
	}
	if BandKey32(sig, 0, 3) == BandKey32(sig, 1, 3) {
		t.Fatal("different bands give equal keys")
	}
	// The key is XXH3-128 of the little-endian values, canonical byte order.
	buf := binary.LittleEndian.AppendUint32(nil, 4)
	buf = binary.LittleEndian.AppendUint32(buf, 5)
	buf = binary.LittleEndian.AppendUint32(buf, 6)
	if BandKey32(sig, 1, 3) != xxh3.Hash128(buf).Bytes() {
		t.Fatal("BandKey32 is not XXH3-128 of the little-endian band")
	}
	sig64 := []uint64{1 << 40, 7}
	buf = binary.LittleEndian.AppendUint64(nil, 7)
	if BandKey64(sig64, 1, 1) != xxh3.Hash128(buf).Bytes() {
		t.Fatal("BandKey64 is not XXH3-128 of the little-endian band")
	}
	// Bands wider than the stack buffer still work.
	long := make([]uint32, 300)
	long[299] = 1
	if BandKey32(long, 0, 300) == BandKey32(make([]uint32, 300), 0, 300) {
		t.Fatal("wide band ignores its last value")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("band outside the signature did not panic")
		}
	}()
	BandKey32(sig, 3, 3)
}

// Signature32Shingles gives the same signature as Signature32, and its
// shingle hashes give the exact shingle-set Jaccard.
func TestSignature32Shingles(t *testing.T) {
	h, err := NewHasher(Params{NumPerm: 64, CharNgrams: 3, Seed: 42, HashBits: 32})
	if err != nil {
		t.Fatal(err)
	}
	a, b := []byte("abcdefgh"), []byte("abcdefxy")
	sa, ha := h.Signature32Shingles(a, nil, nil)
	if want := h.Signature32(a, nil); !slices.Equal(sa, want) {
		t.Fatal("signature differs from Signature32")
	}
	_, hb := h.Signature32Shingles(b, nil, nil)
	// abcdefgh: abc bcd cde def efg fgh; abcdefxy: abc bcd cde def efx fxy → 4/8.
	if len(ha) != 6 || len(hb) != 6 {
		t.Fatalf("shingle counts %d, %d", len(ha), len(hb))
	}
	slices.Sort(ha)
	slices.Sort(hb)
	inter := 0
	for _, x := range ha {
		if _, ok := slices.BinarySearch(hb, x); ok {
			inter++
		}
	}
	if inter != 4 {
		t.Fatalf("intersection %d, want 4", inter)
	}
	if _, s := h.Signature32Shingles(nil, nil, []uint32{7}); !slices.Equal(s, []uint32{7}) {
		t.Fatal("empty text must append nothing")
	}
}

// TestKernel64SIMDMatchesScalar checks the 64-bit vector kernel against the
// scalar one and the formula, for permutation counts around its block of
// eight, hashes including the extremes, parameters up to 2⁶¹−2 and running
// minimums anywhere in [0, 2⁶³−1]; and whole 64-bit signatures with and
// without it.
func TestKernel64SIMDMatchesScalar(t *testing.T) {
	if !simd64Available() {
		t.Log("64-bit vector kernel unavailable; minUpdate64SIMD is the scalar kernel in this build")
	}
	r := rand.New(rand.NewPCG(19, 20))
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 64, 260} {
		a, b := make([]uint64, n), make([]uint64, n)
		for i := range a {
			a[i], b[i] = 1+r.Uint64N(mersenne61-1), r.Uint64N(mersenne61)
			if r.IntN(8) == 0 {
				a[i], b[i] = mersenne61-1, mersenne61-1
			}
		}
		for _, nh := range []int{0, 1, 3, 64, 256} {
			hs := make([]uint64, nh)
			for i := range hs {
				hs[i] = r.Uint64()
				if r.IntN(8) == 0 {
					hs[i] = []uint64{1, math.MaxUint64, 1 << 63, 1<<32 - 1, 1 << 32}[r.IntN(5)]
				}
			}
			acc1 := make([]uint64, n)
			for i := range acc1 {
				acc1[i] = []uint64{math.MaxInt64, r.Uint64N(mersenne61), r.Uint64N(1 << 63)}[r.IntN(3)]
			}
			init := slices.Clone(acc1)
			acc2 := slices.Clone(acc1)
			minUpdate64(acc1, a, b, hs)
			minUpdate64SIMD(acc2, a, b, hs)
			for i := range acc1 {
				want := init[i]
				for _, h := range hs {
					want = min(want, (a[i]*h+b[i])%mersenne61)
				}
				if acc1[i] != want || acc2[i] != want {
					t.Fatalf("n=%d nh=%d: acc[%d] scalar %d vector %d, want %d", n, nh, i, acc1[i], acc2[i], want)
				}
			}
		}
	}
	p := DefaultParams()
	p.HashBits = 64
	vec, err := NewHasher(p)
	if err != nil {
		t.Fatal(err)
	}
	scalar := vec.Clone()
	scalar.simd64 = false
	for _, text := range []string{"x", "short text", strings.Repeat("the quick brown fox jumps over the lazy dog. ", 200), "ünïcödé téxt wîth åccents and more than twenty-four characters"} {
		if got, want := vec.Signature64([]byte(text), nil), scalar.Signature64([]byte(text), nil); !slices.Equal(got, want) {
			t.Fatalf("64-bit signature of %q: vector and scalar kernels differ", text[:min(len(text), 20)])
		}
	}
}

// TestBandKeyLE: the band key of a little-endian encoded signature equals
// BandKey32's and BandKey64's of the decoded one, for every band.
func TestBandKeyLE(t *testing.T) {
	text := randomText(rand.New(rand.NewPCG(21, 22)), 2000)
	h32, _ := NewHasher(DefaultParams())
	p := DefaultParams()
	p.HashBits = 64
	h64, _ := NewHasher(p)
	s32 := h32.Signature32(text, nil)
	s64 := h64.Signature64(text, nil)
	var le32, le64 []byte
	for _, v := range s32 {
		le32 = binary.LittleEndian.AppendUint32(le32, v)
	}
	for _, v := range s64 {
		le64 = binary.LittleEndian.AppendUint64(le64, v)
	}
	for _, rows := range []int{13, 10, 1} {
		for band := 0; (band+1)*rows <= DefaultNumPerm; band++ {
			if BandKeyLE(le32, band, rows, 4) != BandKey32(s32, band, rows) {
				t.Fatalf("32-bit band %d of %d rows: keys differ", band, rows)
			}
			if BandKeyLE(le64, band, rows, 8) != BandKey64(s64, band, rows) {
				t.Fatalf("64-bit band %d of %d rows: keys differ", band, rows)
			}
		}
	}
	if BandKeyLE(le32, 0, 13, 4) == BandKeyLE(le32, 1, 13, 4) {
		t.Fatal("two bands of a signature share a key")
	}
}
