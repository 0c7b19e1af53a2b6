package minhash

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/zeebo/xxh3"
)

var ophVectorsPath = filepath.Join("..", "..", "..", "testdata", "minhash", "oph_vectors.json")

type ophVectorFile struct {
	Texts      map[string]string `json:"texts"`
	SplitMix64 []struct {
		X, Out uint64
	} `json:"splitmix64"`
	XXH3 []struct {
		Seed uint64 `json:"seed"`
		Hex  string `json:"hex"`
		Hash uint64 `json:"hash"`
	} `json:"xxh3"`
	Configs []struct {
		Name       string              `json:"name"`
		Seed       uint64              `json:"seed"`
		CharNgrams int                 `json:"char_ngrams"`
		NumPerm    int                 `json:"num_perm"`
		Signatures map[string][]uint32 `json:"signatures"`
	} `json:"configs"`
}

func ophParams(k, width int, seed uint64) Params {
	return Params{NumPerm: k, CharNgrams: width, Seed: seed, HashBits: 32, Scheme: SchemeOPH}
}

func newOPH(t testing.TB, k, width int, seed uint64) *Hasher {
	t.Helper()
	h, err := NewHasher(ophParams(k, width, seed))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// ophVariants returns h and clones that evaluate the same scheme by other
// paths: the generic per-window hash instead of the inlined ASCII loops,
// and densification by probing only (no first-hit table).
func ophVariants(h *Hasher) map[string]*Hasher {
	generic := h.Clone()
	generic.opt, generic.vec = false, false
	purego := h.Clone()
	purego.vec = false
	probing := h.Clone()
	t := *h.oph
	t.first = nil
	probing.oph = &t
	return map[string]*Hasher{"default": h, "pure Go": purego, "generic": generic, "probing": probing}
}

// TestOPHVectors compares with testdata/minhash/gen_oph_vectors.py, an
// independent Python implementation that takes XXH3 from the reference C
// library (libxxhash).
func TestOPHVectors(t *testing.T) {
	data, err := os.ReadFile(ophVectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var v ophVectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.XXH3) == 0 || len(v.Configs) == 0 || len(v.SplitMix64) == 0 {
		t.Fatal("vector file incomplete")
	}
	for _, s := range v.SplitMix64 {
		if got := splitmix64(s.X); got != s.Out {
			t.Fatalf("splitmix64(%d) = %d, want %d", s.X, got, s.Out)
		}
	}
	for _, x := range v.XXH3 {
		in, _ := hex.DecodeString(x.Hex)
		if got := xxh3.HashSeed(in, x.Seed); got != x.Hash {
			t.Fatalf("xxh3.HashSeed(%d bytes, seed %d) = %#x, want %#x (libxxhash)", len(in), x.Seed, got, x.Hash)
		}
		if len(in) >= 17 && len(in) <= 32 {
			o := newOPHTables(ophParams(4, len(in), x.Seed))
			if got := xxh3Window(in, &o.key); got != x.Hash {
				t.Fatalf("xxh3Window(%d bytes, seed %d) = %#x, want %#x", len(in), x.Seed, got, x.Hash)
			}
		}
	}
	for _, c := range v.Configs {
		h := newOPH(t, c.NumPerm, c.CharNgrams, c.Seed)
		for name, hv := range ophVariants(h) {
			for text, want := range c.Signatures {
				got := hv.Signature32([]byte(v.Texts[text]), nil)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s %s text %q:\n got %v\nwant %v", c.Name, name, text, got, want)
				}
			}
		}
	}
}

// ophFromHashes is the straightforward reference for OPH with optimal
// densification, given the shingles' 64-bit hashes and a probe function:
// bin = low 32 bits × k >> 32, value = high 31 bits + 1, minimum per bin,
// then each empty bin i takes the value of probe(i, 1), probe(i, 2), …,
// whichever is non-empty first. No hashes: all zeros.
func ophFromHashes(hashes []uint64, k int, probe func(i, t int) int) []uint32 {
	sig := make([]uint32, k)
	if len(hashes) == 0 {
		return sig
	}
	filled := make([]bool, k)
	for _, h := range hashes {
		b := int(uint64(uint32(h)) * uint64(k) >> 32)
		v := uint32(h>>33) + 1
		if !filled[b] || v < sig[b] {
			sig[b], filled[b] = v, true
		}
	}
	out := make([]uint32, k)
	for i := range k {
		j := i
		for t := 1; !filled[j]; t++ {
			j = probe(i, t)
		}
		out[i] = sig[j]
	}
	return out
}

// ophHash builds a 64-bit hash that ophFromHashes puts in bin `bin` of k
// with value `value`: low half = the bin's first 32-bit point, high 31 bits
// = value−1.
func ophHash(bin, k int, value uint32) uint64 {
	lo := (uint64(bin)<<32 + uint64(k) - 1) / uint64(k)
	return uint64(value-1)<<33 | lo
}

// refWindows cuts text into the scheme's windows the naive way: character
// starts are offset 0 and every byte that is not a UTF-8 continuation byte;
// a window runs from one start to the start width characters later, and a
// text of fewer than width characters is one window.
func refWindows(text []byte, width int) [][]byte {
	var starts []int
	for i, c := range text {
		if i == 0 || c&0xc0 != 0x80 {
			starts = append(starts, i)
		}
	}
	starts = append(starts, len(text))
	chars := len(starts) - 1
	if chars <= width {
		return [][]byte{text}
	}
	var out [][]byte
	for i := 0; i+width <= chars; i++ {
		out = append(out, text[starts[i]:starts[i+width]])
	}
	return out
}

// referenceOPH is the whole scheme, naively: the windows above, XXH3 from
// the library, ophFromHashes with the splitmix64 probe written out again.
func referenceOPH(text []byte, width int, seed uint64, k int) []uint32 {
	if len(text) == 0 {
		return make([]uint32, k)
	}
	var hashes []uint64
	for _, w := range refWindows(text, width) {
		hashes = append(hashes, xxh3.HashSeed(w, seed))
	}
	d := splitmix64(seed ^ 0x6f70682d64656e73)
	probe := func(i, t int) int {
		return int(uint64(uint32(splitmix64(d^(uint64(i)<<32|uint64(t))))) * uint64(k) >> 32)
	}
	return ophFromHashes(hashes, k, probe)
}

func TestOPHHandChecked(t *testing.T) {
	// The reference with a simple probe, probe(i, t) = (i + t) mod 4:
	//   hashes: bin 1 value 6, bin 1 value 3, bin 3 value 10
	//   bins [–, 3, –, 10]; bin 0 probes 1 → 3; bin 2 probes 3 → 10.
	rot := func(i, t int) int { return (i + t) % 4 }
	got := ophFromHashes([]uint64{ophHash(1, 4, 6), ophHash(1, 4, 3), ophHash(3, 4, 10)}, 4, rot)
	if fmt.Sprint(got) != "[3 3 10 10]" {
		t.Fatalf("reference case 1: %v, want [3 3 10 10]", got)
	}
	// One hash fills one bin; every other bin copies it.
	if got := ophFromHashes([]uint64{ophHash(2, 4, 77)}, 4, rot); fmt.Sprint(got) != "[77 77 77 77]" {
		t.Fatalf("reference case 2: %v", got)
	}
	// k = 5 with bins 0 and 4 filled: bin 1 probes 2, 3, 4 → 9; bin 2
	// probes 3, 4 → 9; bin 3 probes 4 → 9.
	rot5 := func(i, t int) int { return (i + t) % 5 }
	if got := ophFromHashes([]uint64{ophHash(0, 5, 1), ophHash(4, 5, 9)}, 5, rot5); fmt.Sprint(got) != "[1 9 9 9 9]" {
		t.Fatalf("reference case 3: %v", got)
	}
	if fmt.Sprint(ophFromHashes(nil, 3, rot)) != "[0 0 0]" {
		t.Fatal("no hashes: want zeros")
	}

	// The production densification, k = 4, seed 42. Its probes, as
	// computed by gen_oph_vectors.py's probe(d, i, t, 4) for t = 1…5:
	//   bin 0: 2 3 1 2 3    bin 1: 3 3 1 2 3
	//   bin 2: 2 2 3 1 3    bin 3: 1 2 3 2 2
	o := newOPHTables(ophParams(4, 24, 42))
	for i, want := range [][]int{{2, 3, 1, 2, 3}, {3, 3, 1, 2, 3}, {2, 2, 3, 1, 3}, {1, 2, 3, 2, 2}} {
		for tt, w := range want {
			if got := o.probe(i, tt+1); got != w {
				t.Fatalf("probe(%d, %d) = %d, want %d", i, tt+1, got, w)
			}
		}
	}
	const E = ophEmpty
	cases := []struct{ acc, want []uint32 }{
		// bins 1, 3 filled: bin 0 → 2 (empty) → 3: 9; bin 2 → 2, 2, 3: 9.
		{[]uint32{E, 7, E, 9}, []uint32{9, 7, 9, 9}},
		// bins 1, 2: bin 0 → 2: 6; bin 3 → 1: 8. Neighbours borrow from
		// different bins, unlike rotation densification.
		{[]uint32{E, 8, 6, E}, []uint32{6, 8, 6, 8}},
		{[]uint32{E, E, 4, E}, []uint32{4, 4, 4, 4}},
		{[]uint32{1, 2, 3, 4}, []uint32{1, 2, 3, 4}},
	}
	for _, c := range cases {
		for _, table := range []bool{true, false} {
			oo := *o
			if !table {
				oo.first = nil
			}
			dst := make([]uint32, 4)
			oo.densify(c.acc, dst, make([]uint16, 4))
			if fmt.Sprint(dst) != fmt.Sprint(c.want) {
				t.Fatalf("densify %v (table %v) = %v, want %v", c.acc, table, dst, c.want)
			}
		}
	}

	// A whole signature: "abcdefghijklmnopqrstuvwx" is one 24-character
	// window; XXH3_64(it, seed 42) = 0x204f1295c3816602 (libxxhash), so
	// bin = 0xc3816602·4 >> 32 = 3 and value = (h >> 33) + 1 = 271026507,
	// and densification copies it to every bin.
	h := newOPH(t, 4, 24, 42)
	if got := h.Signature32([]byte("abcdefghijklmnopqrstuvwx"), nil); fmt.Sprint(got) != "[271026507 271026507 271026507 271026507]" {
		t.Fatalf("one-window signature %v", got)
	}
}

// randomBytes returns text that mixes ASCII runs (long enough for the
// inlined loops), multi-byte runes and, when invalid is set, stray
// continuation and lead bytes.
func randomBytes(r *rand.Rand, n int, invalid bool) []byte {
	var b []byte
	for len(b) < n {
		switch r.IntN(6) {
		case 0:
			b = append(b, randomText(r, 1+r.IntN(4))...)
		case 1:
			if invalid {
				b = append(b, []byte{0x80, 0xbf, 0xc3, 0xe4, 0xff}[r.IntN(5)])
			}
		default:
			for range r.IntN(80) {
				b = append(b, byte('a'+r.IntN(26)))
			}
		}
	}
	return b
}

// TestOPHMatchesReference checks every evaluation path against the naive
// reference on random texts, widths and bin counts, including texts with
// fewer windows than bins, texts shorter than a window and invalid UTF-8.
func TestOPHMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for iter := range 300 {
		width := []int{24, 24, 17, 32, 20, 1 + r.IntN(40)}[iter%6]
		k := []int{260, 1, 7, 64, 513, 1 + r.IntN(300)}[r.IntN(6)]
		var text []byte
		switch iter % 5 {
		case 0:
			text = randomBytes(r, r.IntN(width+2), iter%2 == 0) // at most a few windows
		case 1:
			text = randomBytes(r, r.IntN(40*width), true)
		default:
			text = randomBytes(r, r.IntN(3000), false)
		}
		seed := r.Uint64N(1 << 32)
		want := referenceOPH(text, width, seed, k)
		var wantSh []uint32 // verification hashes, window by window
		for _, w := range refWindows(text, width) {
			if len(text) > 0 {
				wantSh = append(wantSh, uint32(xxh3.HashSeed(w, seed)>>32))
			}
		}
		for name, h := range ophVariants(newOPH(t, k, width, seed)) {
			got := h.Signature32(text, nil)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s k %d width %d seed %d text %q: sig[%d] = %d, want %d", name, k, width, seed, text, i, got[i], want[i])
				}
			}
			// With the shingle hashes: the same signature, and the hashes
			// appended after what the slice held.
			got, sh := h.Signature32Shingles(text, nil, []uint32{7})
			if !slices.Equal(got, want) || !slices.Equal(sh, append([]uint32{7}, wantSh...)) {
				t.Fatalf("%s k %d width %d text %q: Signature32Shingles differs from the reference", name, k, width, text)
			}
		}
	}
}

// TestOPHDensifyPaths compares the first-hit table with probing on bin
// patterns from one filled bin to all.
func TestOPHDensifyPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, k := range []int{1, 2, 5, 37, 260, 512} {
		o := newOPHTables(ophParams(k, 24, r.Uint64N(1<<32)))
		if o.first == nil {
			t.Fatalf("k %d: no first-hit table", k)
		}
		probing := *o
		probing.first = nil
		for range 50 {
			acc := make([]uint32, k)
			for i := range acc {
				acc[i] = ophEmpty
			}
			for range 1 + r.IntN(1+r.IntN(k)) {
				acc[r.IntN(k)] = 1 + r.Uint32N(1<<31)
			}
			a, b := make([]uint32, k), make([]uint32, k)
			o.densify(acc, a, make([]uint16, k))
			probing.densify(acc, b, make([]uint16, k))
			for i := range a {
				if a[i] != b[i] || a[i] == ophEmpty {
					t.Fatalf("k %d bin %d: table %d, probing %d", k, i, a[i], b[i])
				}
			}
		}
	}
}

// pairWithJaccard returns two texts of n windows each (24-character
// windows over random letters, so all distinct in practice) sharing s
// windows, and their exact window Jaccard.
func pairWithJaccard(r *rand.Rand, n, s int) ([]byte, []byte, float64) {
	letters := func(m int) []byte {
		b := make([]byte, m)
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		return b
	}
	a := letters(n + 23)
	// b keeps a's first s windows (its first s+23 characters), then differs.
	b := append(append([]byte(nil), a[:s+23]...), letters(n-s)...)
	for s < n && b[s+23] == a[s+23] { // window s must differ
		b[s+23] = byte('a' + r.IntN(26))
	}
	set := func(t []byte) map[string]bool {
		m := map[string]bool{}
		for _, w := range refWindows(t, 24) {
			m[string(w)] = true
		}
		return m
	}
	sa, sb := set(a), set(b)
	inter := 0
	for w := range sa {
		if sb[w] {
			inter++
		}
	}
	return a, b, float64(inter) / float64(len(sa)+len(sb)-inter)
}

// TestOPHJaccardEstimate compares the estimated Jaccard (fraction of equal
// bins) with the exact window Jaccard on generated pairs, with fewer and
// more windows than the 260 bins. Fixed seed; the bounds are statistical:
// the bias must be within 4 standard errors of zero, and the RMSE within
// 1.5× MinHash's sqrt(J(1−J)/K), 2× below 25 windows (optimal densification
// measured +10–20 % at 25–100 windows, +40 % at 10, and below MinHash above
// K windows; a broken densification — zeros, or rotation — inflates the
// estimate and fails).
func TestOPHJaccardEstimate(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	h := newOPH(t, DefaultNumPerm, 24, DefaultSeed)
	sa, sb := make([]uint32, DefaultNumPerm), make([]uint32, DefaultNumPerm)
	for _, n := range []int{10, 25, 100, 259, 1000} {
		for _, frac := range []float64{0.5, 0.8, 0.95} {
			const trials = 300
			var bias, sq, theory float64
			for range trials {
				// J = s/(2n−s) ⇒ s = 2nJ/(1+J).
				s := int(math.Round(2 * float64(n) * frac / (1 + frac)))
				a, b, j := pairWithJaccard(r, n, s)
				sa = h.Signature32(a, sa)
				sb = h.Signature32(b, sb)
				d := Jaccard32(sa, sb) - j
				bias += d
				sq += d * d
				theory += j * (1 - j) / DefaultNumPerm
			}
			bias /= trials
			rmse, mh := math.Sqrt(sq/trials), math.Sqrt(theory/trials)
			t.Logf("n %4d J≈%.2f: bias %+.4f, RMSE %.4f (MinHash %.4f)", n, frac, bias, rmse, mh)
			if se := rmse / math.Sqrt(trials); math.Abs(bias) > 4*se+0.002 {
				t.Errorf("n %d J≈%.2f: bias %+.4f beyond 4 standard errors (%.4f)", n, frac, bias, se)
			}
			// Ten windows sample the pair far more coarsely than 260 bins.
			limit := 1.5
			if n < 25 {
				limit = 2
			}
			if rmse > limit*mh+0.002 {
				t.Errorf("n %d J≈%.2f: RMSE %.4f > %.1f × MinHash's %.4f", n, frac, rmse, limit, mh)
			}
		}
	}
}

// TestOPHShortDocumentLSH checks the LSH candidate rate at the defaults (20
// bands × 13 rows) for documents of 25 and 100 windows against
// 1 − (1 − J¹³)²⁰. Rotation densification gives 0.999 where theory says
// 0.004 at 25 windows (../shared/research/oph-feasibility.md §5); the
// tolerance is 4 binomial standard errors.
func TestOPHShortDocumentLSH(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	h := newOPH(t, DefaultNumPerm, 24, DefaultSeed)
	sa, sb := make([]uint32, DefaultNumPerm), make([]uint32, DefaultNumPerm)
	for _, c := range []struct{ n, s int }{{25, 17}, {25, 22}, {100, 89}, {100, 70}} {
		const trials = 600
		var hits, theory float64
		for range trials {
			a, b, j := pairWithJaccard(r, c.n, c.s)
			sa = h.Signature32(a, sa)
			sb = h.Signature32(b, sb)
			for band := range 20 {
				if BandKey32(sa, band, 13) == BandKey32(sb, band, 13) {
					hits++
					break
				}
			}
			theory += 1 - math.Pow(1-math.Pow(j, 13), 20)
		}
		rate, th := hits/trials, theory/trials
		se := math.Sqrt(max(th*(1-th), 0.01*0.99) / trials)
		t.Logf("n %d shared %d: candidate rate %.3f, theory %.3f", c.n, c.s, rate, th)
		if math.Abs(rate-th) > 4*se {
			t.Errorf("n %d shared %d: candidate rate %.3f, theory %.3f (±%.3f)", c.n, c.s, rate, th, 4*se)
		}
	}
}

func TestOPHEmptyShortAndShingles(t *testing.T) {
	h := newOPH(t, DefaultNumPerm, 24, DefaultSeed)
	dst := make([]uint32, DefaultNumPerm)
	for i := range dst {
		dst[i] = 7
	}
	for _, v := range h.Signature32(nil, dst) {
		if v != 0 {
			t.Fatal("empty text: non-zero signature")
		}
	}
	// One window: every bin holds the same non-zero value.
	sig := h.Signature32([]byte("x"), nil)
	for _, v := range sig {
		if v != sig[0] || v == 0 || v > 1<<31 {
			t.Fatalf("one-window signature not constant and in [1, 2³¹]: %v", sig[:8])
		}
	}
	// Shingles: one verification hash per window, the high half of XXH3.
	text := []byte("héllo wörld, this text is longer than one window of 24 characters")
	_, sh := h.Signature32Shingles(text, nil, nil)
	ws := refWindows(text, 24)
	if len(sh) != len(ws) {
		t.Fatalf("%d shingle hashes for %d windows", len(sh), len(ws))
	}
	for i, w := range ws {
		if want := uint32(xxh3.HashSeed(w, DefaultSeed) >> 32); sh[i] != want {
			t.Fatalf("shingle %d: %#x, want %#x", i, sh[i], want)
		}
	}
	// Signature32Shingles gives the same signature as Signature32.
	s1, _ := h.Signature32Shingles(text, nil, nil)
	if Jaccard32(s1, h.Signature32(text, nil)) != 1 {
		t.Fatal("Signature32Shingles and Signature32 differ")
	}
	if n := testing.AllocsPerRun(20, func() { dst = h.Signature32(text, dst) }); n != 0 {
		t.Errorf("OPH Signature32 allocates %v times per call", n)
	}
}

func TestOPHParams(t *testing.T) {
	p := ophParams(260, 24, 42)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	p.HashBits = 64
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "32-bit") {
		t.Fatalf("OPH with 64-bit hashes: %v", err)
	}
	p = DefaultParams()
	p.Scheme = "minhash"
	if err := p.Validate(); err == nil {
		t.Fatal("unknown scheme accepted")
	}
	p.Scheme = "" // NeMo's
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]Scheme{"": SchemeNeMo, "nemo": SchemeNeMo, "oph": SchemeOPH} {
		if got, err := ParseScheme(in); err != nil || got != want {
			t.Fatalf("ParseScheme(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseScheme("OPH "); err == nil {
		t.Fatal("ParseScheme accepted a bad name")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Coefficients32 of an OPH Hasher did not panic")
		}
	}()
	newOPH(t, 8, 24, 1).Coefficients32()
}

func TestOPHClonesConcurrently(t *testing.T) {
	h := newOPH(t, DefaultNumPerm, 24, DefaultSeed)
	texts := syntheticEnglish(16, 2000)
	want := make([][]uint32, len(texts))
	for i, tx := range texts {
		want[i] = h.Signature32(tx, nil)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 4 {
		c := h.Clone()
		wg.Go(func() {
			for i, tx := range texts {
				if Jaccard32(c.Signature32(tx, nil), want[i]) != 1 {
					errs <- fmt.Sprintf("text %d differs in a clone", i)
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

// TestOPHVectorKernel compares the AVX-512 window kernel with the pure-Go
// loop, bin by bin, on ASCII texts of every length up to 100 windows and on
// long ones, with bin counts that make several windows of one group of
// eight share a bin (k = 1, 2, 3).
func TestOPHVectorKernel(t *testing.T) {
	if !ophVectorAvailable() {
		t.Skip("no AVX-512 (F, DQ, VBMI) OPH kernel in this build or on this CPU; the pure-Go loop is the only one")
	}
	r := rand.New(rand.NewPCG(61, 62))
	for iter := range 400 {
		n := 1 + iter%100
		if iter%10 == 0 {
			n = 1 + r.IntN(5000)
		}
		text := make([]byte, n+23)
		for i := range text {
			text[i] = byte(r.IntN(128))
		}
		k := []int{1, 2, 3, 7, 260, 1000}[r.IntN(6)]
		o := newOPHTables(ophParams(k, 24, r.Uint64N(1<<32)))
		want, got := make([]uint32, k), make([]uint32, k)
		for i := range want {
			want[i] = ophEmpty
			if r.IntN(3) == 0 {
				want[i] = r.Uint32()
			}
		}
		copy(got, want)
		o.ascii(text, 0, n, want, false)
		o.ascii(text, 0, n, got, true)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("n %d k %d: bin %d vector %d, pure Go %d", n, k, i, got[i], want[i])
			}
		}
	}
}
