// Command lshcurve measures the LSH candidate rate per similarity bucket on
// a benchmark corpus with ground truth, and compares it with the theory
// P(J) = 1 − (1 − J^r)^b.
//
// A pair of documents is a candidate when their signatures agree on every
// row of at least one band, which is exactly when LSH puts them in a shared
// bucket. Signatures come from a `sluice dedup fuzzy` run's cache
// (minhash/part-*.parquet); the corpus must be a single JSONL file whose
// record order gives the dedup ids (as with one input file).
//
//	go run ./bench/lshcurve -corpus ../shared/bench/corpus -sigs OUT/_cache/mh-*/minhash -sim Jc24
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
	"sort"
	"strconv"
	"strings"

	dataio "github.com/sluice-data/sluice/io"
)

func main() {
	corpus := flag.String("corpus", "", "corpus directory with corpus.jsonl(.gz) and truth_pairs.tsv(.gz)")
	sigDir := flag.String("sigs", "", "directory holding the minhash part-*.parquet files")
	sim := flag.String("sim", "Jc24", "truth similarity column")
	bands := flag.Int("bands", 20, "bands")
	rows := flag.Int("rows", 13, "rows per band")
	bits := flag.Int("hash-bits", 32, "signature hash bits (64-bit values are stored as two uint32)")
	flag.Parse()
	if err := run(*corpus, *sigDir, *sim, *bands, *rows, *bits/32); err != nil {
		fmt.Fprintln(os.Stderr, "lshcurve:", err)
		os.Exit(1)
	}
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
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{gz, f}, nil
}

func run(corpus, sigDir, sim string, bands, rows, width int) error {
	// dedup id = record index in the corpus file.
	f, err := open(filepath.Join(corpus, "corpus.jsonl"))
	if err != nil {
		return err
	}
	index := map[string]int64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<28)
	var n int64
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var d struct{ ID string }
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return err
		}
		index[d.ID] = n
		n++
	}
	f.Close()
	sigs := map[int64][]uint32{}
	parts, _ := filepath.Glob(filepath.Join(sigDir, "part-*.parquet"))
	if len(parts) == 0 {
		return errors.New("no signature files")
	}
	for _, p := range parts {
		r, err := dataio.OpenSignatureFile(p, 0)
		if err != nil {
			return err
		}
		for {
			ids, ss, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			for i, id := range ids {
				sigs[id] = ss[i]
			}
		}
		r.Close()
	}
	tf, err := open(filepath.Join(corpus, "truth_pairs.tsv"))
	if err != nil {
		return err
	}
	defer tf.Close()
	type bucket struct {
		n, cand int
		theory  float64
	}
	buckets := map[int]*bucket{}
	col := -1
	sc = bufio.NewScanner(tf)
	for sc.Scan() {
		x := strings.Split(sc.Text(), "\t")
		if x[0] == "id_a" {
			for i, h := range x {
				if h == sim {
					col = i
				}
			}
			if col < 0 {
				return fmt.Errorf("no %s column", sim)
			}
			continue
		}
		j, err := strconv.ParseFloat(x[col], 64)
		if err != nil {
			return err
		}
		a, b := sigs[index[x[0]]], sigs[index[x[1]]]
		if a == nil || b == nil {
			continue
		}
		k := int(math.Floor(j * 10))
		bk := buckets[k]
		if bk == nil {
			bk = &bucket{}
			buckets[k] = bk
		}
		bk.n++
		bk.theory += 1 - math.Pow(1-math.Pow(j, float64(rows)), float64(bands))
		if candidate(a, b, bands, rows*width) {
			bk.cand++
		}
	}
	var keys []int
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	fmt.Printf("| %s bucket | pairs | measured candidate rate | theory 1−(1−J^%d)^%d (mean over pairs) | difference |\n|---|---|---|---|---|\n", sim, rows, bands)
	for _, k := range keys {
		bk := buckets[k]
		m, th := float64(bk.cand)/float64(bk.n), bk.theory/float64(bk.n)
		label := fmt.Sprintf("[%.1f, %.1f)", float64(k)/10, float64(k+1)/10)
		if k >= 10 {
			label = "1.0 (identical)"
		}
		fmt.Printf("| %s | %d | %.3f | %.3f | %+.3f |\n", label, bk.n, m, th, m-th)
	}
	return nil
}

func candidate(a, b []uint32, bands, rows int) bool {
	for band := range bands {
		eq := true
		for r := band * rows; r < (band+1)*rows; r++ {
			if a[r] != b[r] {
				eq = false
				break
			}
		}
		if eq {
			return true
		}
	}
	return false
}
