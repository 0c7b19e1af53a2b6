// Command lshcurve measures the LSH candidate rate per similarity bucket on
// a benchmark corpus with ground truth, and compares it with the theory
// P(J) = 1 − (1 − J^r)^b.
//
// A pair of documents is a candidate when their signatures agree on every
// row of at least one band, which is exactly when LSH puts them in a shared
// bucket.
//
// P(J) is a probability over the random choice of permutations, and every
// pair of a corpus shares the same permutations, so one seed gives one draw
// whose per-bucket rates are correlated across pairs. By default lshcurve
// therefore computes the signatures itself (package minhash, the workflow's
// kernel) for several seeds and reports, per bucket, the mean over seeds
// next to the spread and the default seed's own rate:
//
//	go run ./bench/lshcurve -corpus ../shared/bench/corpus -seeds 1-8,42 -sim Jc24
//	go run ./bench/lshcurve -corpus ../shared/bench/corpus -seeds 1-20,42 -scheme oph
//
// With -sigs it instead reads the signatures a `sluice dedup fuzzy` run
// stored in its cache (the signature stores in minhash/; one seed). The corpus must
// then be a single JSONL file whose record order gives the dedup ids, as
// with one input file.
//
//	go run ./bench/lshcurve -corpus ../shared/bench/corpus -sigs CACHE/mh-*/minhash -sim Jc24
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/dedup/fuzzy/minhash"
)

type config struct {
	corpus, sigDir, sim string
	scheme              minhash.Scheme
	bands, rows, bits   int
	charNgrams          int
	seeds               []uint64
}

func main() {
	var c config
	var seeds string
	flag.StringVar(&c.corpus, "corpus", "", "corpus directory with corpus.jsonl(.gz) and truth_pairs.tsv(.gz)")
	flag.StringVar(&c.sigDir, "sigs", "", "read signatures from the signature stores of this finished MinHash cache directory (CACHE/mh-*/minhash) instead of computing them")
	flag.StringVar(&c.sim, "sim", "Jc24", "truth similarity column")
	flag.IntVar(&c.bands, "bands", 20, "bands")
	flag.IntVar(&c.rows, "rows", 13, "rows per band")
	flag.IntVar(&c.bits, "hash-bits", 32, "signature hash bits, 32 or 64")
	flag.IntVar(&c.charNgrams, "char-ngrams", minhash.DefaultCharNgrams, "shingle width in characters (computed signatures only)")
	var scheme string
	flag.StringVar(&scheme, "scheme", "nemo", "signature scheme, nemo or oph (computed signatures only)")
	flag.StringVar(&seeds, "seeds", "42", "seeds to compute signatures with: a list of numbers and ranges, e.g. 1-8,42")
	flag.Parse()
	var err error
	if c.scheme, err = minhash.ParseScheme(scheme); err == nil {
		if c.seeds, err = parseSeeds(seeds); err == nil {
			err = run(c)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lshcurve:", err)
		os.Exit(1)
	}
}

func parseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("-seeds %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 32); err != nil || b < a {
				return nil, fmt.Errorf("-seeds %q: bad range %q", s, part)
			}
		}
		for v := a; v <= b; v++ {
			out = append(out, v)
		}
	}
	return out, nil
}

func open(path string) (io.ReadCloser, error) {
	if f, err := os.Open(path); err == nil {
		return f, nil
	}
	f, err := os.Open(path + ".gz")
	if err != nil {
		return nil, err
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{gz, f}, nil
}

type pair struct {
	a, b int64 // record indexes
	j    float64
}

// readCorpus returns each id's record index and, when keep is non-nil, the
// texts of the records keep selects.
func readCorpus(corpus string, keep map[string]bool) (map[string]int64, map[int64]string, error) {
	f, err := open(filepath.Join(corpus, "corpus.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	index := map[string]int64{}
	texts := map[int64]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<28)
	var n int64
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var d struct{ ID, Text string }
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, nil, fmt.Errorf("corpus record %d: %w", n+1, err)
		}
		index[d.ID] = n
		if keep != nil && keep[d.ID] {
			texts[n] = d.Text
		}
		n++
	}
	return index, texts, sc.Err()
}

// readTruth returns the truth pairs' ids and similarity under sim.
func readTruth(corpus, sim string) ([][2]string, []float64, error) {
	tf, err := open(filepath.Join(corpus, "truth_pairs.tsv"))
	if err != nil {
		return nil, nil, err
	}
	defer tf.Close()
	var ids [][2]string
	var js []float64
	col := -1
	sc := bufio.NewScanner(tf)
	for sc.Scan() {
		x := strings.Split(sc.Text(), "\t")
		if x[0] == "id_a" {
			col = slices.Index(x, sim)
			if col < 0 {
				return nil, nil, fmt.Errorf("truth_pairs.tsv has no %s column", sim)
			}
			continue
		}
		if col < 0 || len(x) <= col {
			return nil, nil, errors.New("truth_pairs.tsv: missing header or short row")
		}
		j, err := strconv.ParseFloat(x[col], 64)
		if err != nil {
			return nil, nil, err
		}
		ids = append(ids, [2]string{x[0], x[1]})
		js = append(js, j)
	}
	return ids, js, sc.Err()
}

// signatures holds one seed's signatures as rows of uint32 words (a 64-bit
// value is two words), keyed by record index.
type signatures map[int64][]uint32

func storedSignatures(dir string) (signatures, error) {
	sigs := signatures{}
	err := fuzzy.EachStoredSignature(dir, func(id int64, words []uint32) error {
		sigs[id] = slices.Clone(words)
		return nil
	})
	return sigs, err
}

func computedSignatures(texts map[int64]string, seed uint64, c config) (signatures, error) {
	p := minhash.DefaultParams()
	p.NumPerm = c.bands * c.rows
	p.CharNgrams = c.charNgrams
	p.Seed = seed
	p.HashBits = c.bits
	p.Scheme = c.scheme
	h, err := minhash.NewHasher(p)
	if err != nil {
		return nil, err
	}
	sigs := make(signatures, len(texts))
	for id, t := range texts {
		if c.bits == 32 {
			sigs[id] = h.Signature32([]byte(t), nil)
			continue
		}
		s64 := h.Signature64([]byte(t), nil)
		w := make([]uint32, 0, 2*len(s64))
		for _, v := range s64 {
			w = append(w, uint32(v), uint32(v>>32))
		}
		sigs[id] = w
	}
	return sigs, nil
}

type bucket struct {
	n      int
	theory float64
	rates  []float64 // one per seed
}

func run(c config) error {
	if c.bits != 32 && c.bits != 64 {
		return fmt.Errorf("-hash-bits %d: want 32 or 64", c.bits)
	}
	ids, js, err := readTruth(c.corpus, c.sim)
	if err != nil {
		return err
	}
	var keep map[string]bool
	if c.sigDir == "" {
		keep = map[string]bool{}
		for _, p := range ids {
			keep[p[0]], keep[p[1]] = true, true
		}
	}
	index, texts, err := readCorpus(c.corpus, keep)
	if err != nil {
		return err
	}
	pairs := make([]pair, 0, len(ids))
	for i, p := range ids {
		a, okA := index[p[0]]
		b, okB := index[p[1]]
		if !okA || !okB {
			return fmt.Errorf("truth pair %s %s: id not in the corpus", p[0], p[1])
		}
		pairs = append(pairs, pair{a, b, js[i]})
	}

	buckets := map[int]*bucket{}
	for _, p := range pairs {
		k := int(math.Floor(p.j * 10))
		bk := buckets[k]
		if bk == nil {
			bk = &bucket{}
			buckets[k] = bk
		}
		bk.n++
		bk.theory += 1 - math.Pow(1-math.Pow(p.j, float64(c.rows)), float64(c.bands))
	}
	width := c.bits / 32
	seeds := c.seeds
	if c.sigDir != "" {
		seeds = nil // one draw: the stored signatures
	}
	measure := func(sigs signatures) error {
		cand := map[int]int{}
		for _, p := range pairs {
			a, b := sigs[p.a], sigs[p.b]
			if a == nil || b == nil {
				return fmt.Errorf("no signature for record %d or %d", p.a, p.b)
			}
			if candidate(a, b, c.bands, c.rows*width) {
				cand[int(math.Floor(p.j*10))]++
			}
		}
		for k, bk := range buckets {
			bk.rates = append(bk.rates, float64(cand[k])/float64(bk.n))
		}
		return nil
	}
	if c.sigDir != "" {
		sigs, err := storedSignatures(c.sigDir)
		if err != nil {
			return err
		}
		if err := measure(sigs); err != nil {
			return err
		}
	}
	for _, seed := range seeds {
		sigs, err := computedSignatures(texts, seed, c)
		if err != nil {
			return err
		}
		if err := measure(sigs); err != nil {
			return err
		}
	}

	var keys []int
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	draws := max(1, len(seeds))
	scheme := string(c.scheme)
	if c.sigDir != "" {
		scheme = "stored"
	}
	fmt.Printf("%s, %s scheme, %d-bit, %d bands × %d rows, %d seed(s)%s\n\n", c.sim, scheme, c.bits, c.bands, c.rows, draws, seedNote(c, seeds))
	if draws == 1 {
		fmt.Printf("| %s bucket | pairs | measured | theory | difference |\n|---|---|---|---|---|\n", c.sim)
	} else {
		fmt.Printf("| %s bucket | pairs | mean over seeds | min – max | theory | difference of the mean | seed 42 |\n|---|---|---|---|---|---|---|\n", c.sim)
	}
	for _, k := range keys {
		bk := buckets[k]
		th := bk.theory / float64(bk.n)
		label := fmt.Sprintf("[%.1f, %.1f)", float64(k)/10, float64(k+1)/10)
		if k >= 10 {
			label = "1.0 (identical)"
		}
		var sum float64
		for _, r := range bk.rates {
			sum += r
		}
		mean := sum / float64(len(bk.rates))
		if draws == 1 {
			fmt.Printf("| %s | %d | %.3f | %.3f | %+.3f |\n", label, bk.n, mean, th, mean-th)
			continue
		}
		s42 := "–"
		if i := slices.Index(seeds, 42); i >= 0 {
			s42 = fmt.Sprintf("%.3f (%+.3f)", bk.rates[i], bk.rates[i]-th)
		}
		fmt.Printf("| %s | %d | %.3f | %.3f – %.3f | %.3f | %+.3f | %s |\n",
			label, bk.n, mean, slices.Min(bk.rates), slices.Max(bk.rates), th, mean-th, s42)
	}
	if draws > 1 {
		// Each seed's largest deviation from theory over the buckets.
		fmt.Printf("\n| seed | largest |measured − theory| | in bucket |\n|---|---|---|\n")
		for i, seed := range seeds {
			worst, at := 0.0, 0
			for _, k := range keys {
				bk := buckets[k]
				if d := bk.rates[i] - bk.theory/float64(bk.n); math.Abs(d) > math.Abs(worst) {
					worst, at = d, k
				}
			}
			fmt.Printf("| %d | %+.3f | [%.1f, %.1f) |\n", seed, worst, float64(at)/10, float64(at+1)/10)
		}
	}
	return nil
}

func seedNote(c config, seeds []uint64) string {
	if c.sigDir != "" {
		return ": signatures read from " + c.sigDir
	}
	s := make([]string, len(seeds))
	for i, v := range seeds {
		s[i] = strconv.FormatUint(v, 10)
	}
	return ": " + strings.Join(s, ", ")
}

func candidate(a, b []uint32, bands, rows int) bool {
	for band := range bands {
		if slices.Equal(a[band*rows:(band+1)*rows], b[band*rows:(band+1)*rows]) {
			return true
		}
	}
	return false
}
