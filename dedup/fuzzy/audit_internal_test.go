package fuzzy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/dedup/fuzzy/minhash"
	"github.com/sluice-data/sluice/dedup/ledger"
)

func TestSizeBins(t *testing.T) {
	prevHi := int64(1)
	for k := range 20 {
		lo, hi := sizeBinBounds(k)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bin %d = [%d, %d] after a bin ending at %d", k, lo, hi, prevHi)
		}
		for _, n := range []int64{lo, hi, (lo + hi) / 2} {
			if sizeBin(n) != k {
				t.Fatalf("sizeBin(%d) = %d, want %d", n, sizeBin(n), k)
			}
		}
		prevHi = hi
	}
	owned := map[int64]int64{1: 2, 5: 2, 9: 3, 11: 7, 40: 1000}
	bins, err := addSizeHistogram(nil, encodeSizeHistogram(owned))
	if err != nil {
		t.Fatal(err)
	}
	bins, _ = addSizeHistogram(bins, encodeSizeHistogram(map[int64]int64{3: 2}))
	var groups, docs int64
	for _, b := range bins {
		groups += b.Groups
		docs += b.Documents
	}
	if groups != 6 || docs != 1016 || bins[0].Groups != 3 || bins[len(bins)-1].Groups != 1 || bins[len(bins)-1].Max < 1000 {
		t.Fatalf("histogram %+v", bins)
	}
}

func TestWilson(t *testing.T) {
	lo, hi := wilson(62, 62)
	if math.Abs(lo-0.9417) > 0.001 || hi != 1 {
		t.Fatalf("wilson(62, 62) = %v, %v", lo, hi)
	}
	lo, hi = wilson(50, 100)
	if math.Abs(lo-0.4038) > 0.001 || math.Abs(hi-0.5962) > 0.001 {
		t.Fatalf("wilson(50, 100) = %v, %v", lo, hi)
	}
}

// TestSamplerIsUniformAndOrderFree: the sample holds the k groups with the
// smallest hashes and in each the m members with the smallest hashes,
// whatever the order of the rows.
func TestSamplerIsUniformAndOrderFree(t *testing.T) {
	var rows []ledger.Row
	rng := rand.New(rand.NewPCG(1, 2))
	id := int64(1000)
	for g := int64(0); g < 200; g++ {
		for range 1 + rng.IntN(6) {
			rows = append(rows, ledger.Row{GroupID: g, DedupID: id})
			id++
		}
	}
	pick := func(rows []ledger.Row) []ledger.Row {
		s := newSampler(10, 3)
		for _, r := range rows {
			s.add(r)
		}
		if s.numGroups() != 10 {
			t.Fatalf("%d groups sampled, want 10", s.numGroups())
		}
		return s.rows()
	}
	a := pick(rows)
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	b := pick(rows)
	if !slices.EqualFunc(a, b, func(x, y ledger.Row) bool { return x.DedupID == y.DedupID }) {
		t.Fatal("the sample depends on the order of the rows")
	}
	var hashes []uint64
	for g := int64(0); g < 200; g++ {
		hashes = append(hashes, sampleHash(g))
	}
	slices.Sort(hashes)
	perGroup := map[int64]int{}
	for _, r := range a {
		perGroup[r.GroupID]++
		if sampleHash(r.GroupID) > hashes[9] {
			t.Fatalf("group %d is not among the 10 smallest hashes", r.GroupID)
		}
	}
	for g, n := range perGroup {
		if n > 3 {
			t.Fatalf("group %d: %d members sampled, want at most 3", g, n)
		}
	}
}

func TestTextStartAndSources(t *testing.T) {
	if got := textStart("  a\n\n b\tc  ", 10); got != "a b c" {
		t.Fatalf("textStart = %q", got)
	}
	if got := textStart("héllo wörld", 5); got != "héllo…" {
		t.Fatalf("textStart = %q", got)
	}
	mk := func(names ...string) []fileRange {
		var fs []fileRange
		for i, n := range names {
			fs = append(fs, fileRange{Path: "/in/" + n, Base: int64(10 * i), Count: 10})
		}
		return fs
	}
	files := mk("a.jsonl", "b/c.jsonl")
	if s := sourceStats(files, []int64{3, 4}, "/in"); len(s) != 2 || s[0].Name != "a.jsonl" || s[1].Name != "b/c.jsonl" || s[1].Kept != 6 {
		t.Fatalf("per file: %+v", s)
	}
	var names []string
	for i := range 60 {
		names = append(names, fmt.Sprintf("src%d/part-%02d.jsonl", i%3, i))
	}
	removed := make([]int64, 60)
	for i := range removed {
		removed[i] = int64(i % 5)
	}
	s := sourceStats(mk(names...), removed, "/in")
	if len(s) != 3 || s[0].Name != "src0/" || s[0].Files != 20 || s[0].Records != 200 {
		t.Fatalf("per source directory: %+v", s)
	}
	names = names[:0]
	for i := range 70 {
		names = append(names, fmt.Sprintf("part-%02d.jsonl", i))
	}
	s = sourceStats(mk(names...), make([]int64, 70), "/in")
	var total int64
	for _, x := range s {
		total += x.Records
	}
	if len(s) != maxSourcesListed || s[len(s)-1].Name != "(other files)" || s[len(s)-1].Files != 21 || total != 700 {
		t.Fatalf("capped: %d entries, last %+v, %d records", len(s), s[len(s)-1], total)
	}
}

// TestTextSimilarityMatchesShingleStore compares TextSimilarity (64-bit
// XXH3 of each shingle) with the exact Jaccard verification computes from
// the MinHash phase's 32-bit shingle hashes, on related random texts, and
// checks the edge cases.
func TestTextSimilarityMatchesShingleStore(t *testing.T) {
	h, err := minhash.NewHasher(minhash.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	words := strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega été naïve")
	set := func(text string) []uint32 {
		_, sh := h.Signature32Shingles([]byte(text), nil, nil)
		slices.Sort(sh)
		return slices.Compact(sh)
	}
	for range 30 {
		var a []string
		for range 30 + rng.IntN(60) {
			a = append(a, words[rng.IntN(len(words))])
		}
		b := slices.Clone(a)
		for range rng.IntN(10) {
			b[rng.IntN(len(b))] = words[rng.IntN(len(words))]
		}
		ta, tb := strings.Join(a, " "), strings.Join(b, " ")
		got, want := TextSimilarity(ta, tb, 24, false), sortedJaccard(set(ta), set(tb))
		if math.Abs(got-want) > 0.01 {
			t.Fatalf("TextSimilarity = %.4f, shingle-store Jaccard %.4f for\n%q\n%q", got, want, ta, tb)
		}
	}
	for _, c := range []struct {
		a, b string
		w    int
		norm bool
		want float64
	}{
		{"same text here", "same text here", 24, false, 1},
		{"short", "short", 24, false, 1},
		{"short", "shorT", 24, false, 0},
		{"short", "shorT", 24, true, 1},
		{"", "", 24, false, 0},
		{"abcd", "abce", 2, false, 0.5}, // {ab, bc, cd} vs {ab, bc, ce}
		{"héé", "héé", 2, false, 1},
	} {
		if got := TextSimilarity(c.a, c.b, c.w, c.norm); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("TextSimilarity(%q, %q, %d, %v) = %v, want %v", c.a, c.b, c.w, c.norm, got, c.want)
		}
	}
}

func TestIDStore(t *testing.T) {
	dir := t.TempDir()
	w, err := createIDStore(filepath.Join(dir, "p.ids"), filepath.Join(dir, "p.idsx"), 100)
	if err != nil {
		t.Fatal(err)
	}
	s := func(v string) *string { return &v }
	want := map[int64]*string{100: s("a"), 101: nil, 103: s(""), 104: s("dé\nf")} // 102: a gap (bad record)
	for _, id := range []int64{100, 101, 103, 104} {
		if err := w.write(id, want[id]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.write(103, s("late")); err == nil {
		t.Fatal("an id out of order was accepted")
	}
	if err := w.close(7); err != nil { // ids 100–106; 105 and 106 at the end have none
		t.Fatal(err)
	}
	r, err := openIDStores([]SigStoreRef{{Base: 100, Count: 7, IDs: filepath.Join(dir, "p.ids"), IDIndex: filepath.Join(dir, "p.idsx")}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	for id := int64(99); id <= 107; id++ {
		got, err := r.read(id)
		if err != nil {
			t.Fatalf("read(%d): %v", id, err)
		}
		if (got == nil) != (want[id] == nil) || got != nil && *got != *want[id] {
			t.Fatalf("read(%d) = %v, want %v", id, ledger.Str(got), ledger.Str(want[id]))
		}
	}
	// A corrupt index is an error, not a wrong id.
	os.WriteFile(filepath.Join(dir, "p.idsx"), make([]byte, 64), 0o644)
	if _, err := r.read(101); err == nil {
		t.Fatal("a corrupt index gave no error")
	}
}

func TestParquetHasIDColumn(t *testing.T) {
	dir := t.TempDir()
	type row struct {
		S  string  `parquet:"s"`
		I  int64   `parquet:"i"`
		I3 int32   `parquet:"i3"`
		U  uint64  `parquet:"u"`
		F  float64 `parquet:"f"`
		L  []int64 `parquet:"l,list"`
		O  *string `parquet:"o,optional"`
	}
	path := filepath.Join(dir, "x.parquet")
	f, _ := os.Create(path)
	w := parquet.NewGenericWriter[row](f)
	w.Write([]row{{S: "a"}})
	w.Close()
	f.Close()
	for col, want := range map[string]bool{"s": true, "i": true, "i3": true, "o": true, "u": false, "f": false, "l": false, "missing": false} {
		if got := parquetHasIDColumn(path, col); got != want {
			t.Errorf("parquetHasIDColumn(%s) = %v, want %v", col, got, want)
		}
	}
	if parquetHasIDColumn(filepath.Join(dir, "x.jsonl"), "s") {
		t.Error("a JSONL path has a Parquet id column")
	}
}

// TestStoresWithEmptyTask: a MinHash task of empty files has a store of no
// ids that shares its Base with the next task's. In whatever order the
// tasks finished, every id must still be found (the binary search over the
// stores' ranges failed when the empty store came second).
func TestStoresWithEmptyTask(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, base, count int64) SigStoreRef {
		path := filepath.Join(dir, name)
		w, err := createSigStore(path, base, 4)
		if err != nil {
			t.Fatal(err)
		}
		for id := base; id < base+count; id++ {
			if err := w.write(id, []byte{byte(id), 0, 0, 1}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.close(count); err != nil {
			t.Fatal(err)
		}
		return SigStoreRef{Path: path, Base: base, Count: count}
	}
	empty, full, next := mk("e.sig", 0, 0), mk("f.sig", 0, 7), mk("n.sig", 7, 3)
	for _, refs := range [][]SigStoreRef{{empty, full, next}, {full, empty, next}, {next, full, empty}} {
		s, err := openSigStores(refs, 4)
		if err != nil {
			t.Fatal(err)
		}
		for id := int64(0); id < 10; id++ {
			rec, err := s.read(id)
			if err != nil || rec[0] != byte(id) {
				t.Fatalf("stores in order %v: read(%d) = %v, %v", refs, id, rec, err)
			}
		}
		s.close()
	}
}
