package fuzzy

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/dedup/fuzzy/minhash"
	"github.com/sluice-data/sluice/dedup/ledger"
)

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
	r, err := openIDStores(context.Background(), []SigStoreRef{{Base: 100, Count: 7, IDs: filepath.Join(dir, "p.ids"), IDIndex: filepath.Join(dir, "p.idsx")}}, "")
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
		s, err := openSigStores(context.Background(), refs, 4, "")
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
