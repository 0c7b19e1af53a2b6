package fuzzy_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/dedup/fuzzy/minhash"
	"github.com/sluice-data/sluice/internal/testcorpus"
)

// lshCorpus is a small corpus plus the awkward cases: two empty texts (never
// bucketed, so never grouped) and a text shorter than one shingle.
func lshCorpus(seed uint64) []testcorpus.Doc {
	docs := smallDocs(seed, 120)
	docs = append(docs,
		testcorpus.Doc{ID: "empty-1"}, testcorpus.Doc{ID: "empty-2"},
		testcorpus.Doc{ID: "short-1", Text: "tiny"}, testcorpus.Doc{ID: "short-2", Text: "tiny"})
	// Move the extras into the middle so they get ids between others.
	n := len(docs)
	docs[n/3], docs[n-4] = docs[n-4], docs[n/3]
	docs[n/2], docs[n-3] = docs[n-3], docs[n/2]
	return docs
}

// lshRun is a finished --no-remove run with what the tests compare.
type lshRun struct {
	cfg   fuzzy.Config
	sum   *fuzzy.Summary
	out   string
	byID  map[int64]testcorpus.Doc
	sigs  map[int64][]uint32 // as the signature files hold them
	edges [][2]int64
}

func runLSH(t *testing.T, l corpusLayout, mutate func(*fuzzy.Config)) lshRun {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	cfg := fuzzy.DefaultConfig()
	cfg.Inputs, cfg.Output, cfg.NoRemove = []string{l.dir}, out, true
	mutate(&cfg)
	sum := mustRun(t, cfg)
	r := lshRun{cfg: cfg, sum: sum, out: out, byID: docsByID(t, out, l), sigs: readSignatures(t, sum)}
	r.edges = readEdgeDir(t, filepath.Join(lshRoot(t, sum), "LSH"))
	if int64(len(r.edges)) != sum.CandidateEdges {
		t.Errorf("edge files hold %d edges, summary says %d", len(r.edges), sum.CandidateEdges)
	}
	return r
}

// width is the number of uint32 words per signature value.
func (r lshRun) width() int { return r.cfg.HashBits / 32 }

func (r lshRun) band(id int64, b int) []uint32 {
	n := r.cfg.Rows * r.width()
	return r.sigs[id][b*n : (b+1)*n]
}

// exactJaccard is the Jaccard of the two documents' sets of CharNgrams-
// character shingles, computed from the texts: what verification compares
// with the threshold (it uses the stored 32-bit shingle hashes).
func (r lshRun) exactJaccard(a, b int64) float64 {
	set := func(text string) map[string]bool {
		rs := []rune(text)
		m := map[string]bool{}
		if len(rs) == 0 {
			return m
		}
		if len(rs) <= r.cfg.CharNgrams {
			m[text] = true
			return m
		}
		for i := 0; i+r.cfg.CharNgrams <= len(rs); i++ {
			m[string(rs[i:i+r.cfg.CharNgrams])] = true
		}
		return m
	}
	sa, sb := set(r.byID[a].Text), set(r.byID[b].Text)
	inter := 0
	for k := range sa {
		if sb[k] {
			inter++
		}
	}
	if u := len(sa) + len(sb) - inter; u > 0 {
		return float64(inter) / float64(u)
	}
	return 0
}

// checkSignatures compares the signature files with signatures computed
// here by minhash.Hasher: one per document, empty texts all zero.
func (r lshRun) checkSignatures(t *testing.T) {
	t.Helper()
	h, err := minhash.NewHasher(minhash.Params{NumPerm: r.cfg.Bands * r.cfg.Rows, CharNgrams: r.cfg.CharNgrams,
		Seed: r.cfg.Seed, HashBits: r.cfg.HashBits})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.sigs) != len(r.byID) {
		t.Fatalf("%d signatures for %d documents", len(r.sigs), len(r.byID))
	}
	for id, d := range r.byID {
		want := signWords(h, d.Text)
		if !slices.Equal(r.sigs[id], want) {
			t.Fatalf("signature of id %d (%s) differs from minhash.Hasher's", id, d.ID)
		}
	}
}

// ids returns the sorted ids of non-empty documents: the ones LSH buckets.
func (r lshRun) ids() []int64 {
	var ids []int64
	for id, d := range r.byID {
		if d.Text != "" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// bruteForcePairs marks every pair of documents with at least one identical
// band a candidate, comparing the band values themselves.
func (r lshRun) bruteForcePairs() map[[2]int64]bool {
	ids := r.ids()
	pairs := map[[2]int64]bool{}
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			for band := range r.cfg.Bands {
				if slices.Equal(r.band(a, band), r.band(b, band)) {
					pairs[[2]int64{a, b}] = true
					break
				}
			}
		}
	}
	return pairs
}

// buckets groups the non-empty documents by (band, band values); each
// bucket lists its ids in increasing order. Buckets of one are left out.
func (r lshRun) buckets() [][]int64 {
	var out [][]int64
	for band := range r.cfg.Bands {
		m := map[string][]int64{}
		for _, id := range r.ids() {
			k := string(json.RawMessage(mustJSON(r.band(id, band))))
			m[k] = append(m[k], id)
		}
		for _, ids := range m {
			if len(ids) > 1 {
				out = append(out, ids)
			}
		}
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// oracleEdges applies the bucket rule to buckets: consecutive ids (NeMo
// Curator's rule) when threshold is 0, otherwise an edge from each id to
// the first earlier id whose estimated Jaccard reaches the threshold. It
// returns the sorted edges and the number of ids left without one.
func (r lshRun) oracleEdges(threshold float64) (edges [][2]int64, rejected int64) {
	for _, ids := range r.buckets() {
		for i := 1; i < len(ids); i++ {
			if threshold == 0 {
				edges = append(edges, [2]int64{ids[i-1], ids[i]})
				continue
			}
			j := slices.IndexFunc(ids[:i], func(e int64) bool { return r.exactJaccard(e, ids[i]) >= threshold })
			if j < 0 {
				rejected++
				continue
			}
			edges = append(edges, [2]int64{ids[j], ids[i]})
		}
	}
	slices.SortFunc(edges, cmpEdge)
	return edges, rejected
}

func cmpEdge(a, b [2]int64) int {
	if a[0] != b[0] {
		return int(a[0] - b[0])
	}
	return int(a[1] - b[1])
}

// TestLSHMatchesBruteForce runs MinHash and LSH through the workflow and
// checks the edge files against a brute-force computation: signatures
// computed here with minhash.Hasher, every pair compared band by band. The
// connected components of the edges must be exactly those of the candidate
// pairs, every edge must join a candidate pair, and the components stage's
// output (labels and duplicates) must be those components.
func TestLSHMatchesBruteForce(t *testing.T) {
	l := writeLayout(t, lshCorpus(11), 3)
	cases := []struct {
		name string
		set  func(*fuzzy.Config)
	}{
		{"default-20x13", func(c *fuzzy.Config) {}},
		// Short shingles and two-row bands make unrelated documents
		// collide: many buckets, large components, chains across bands.
		{"noisy-5gram-8x2", func(c *fuzzy.Config) { c.CharNgrams, c.Bands, c.Rows, c.BandsPerIteration = 5, 8, 2, 3 }},
		{"64bit-10x4", func(c *fuzzy.Config) { c.HashBits, c.Bands, c.Rows, c.CharNgrams = 64, 10, 4, 8 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runLSH(t, l, tc.set)
			r.checkSignatures(t)
			pairs := r.bruteForcePairs()
			if len(pairs) < 10 {
				t.Fatalf("only %d candidate pairs: the corpus does not exercise LSH", len(pairs))
			}
			var pairList [][2]int64
			for p := range pairs {
				pairList = append(pairList, p)
			}
			want := components(pairList)
			t.Logf("%d documents, %d candidate pairs, %d edges, %d grouped, largest group %d", len(r.byID), len(pairs), len(r.edges), len(want), largestGroup(want))
			got := components(r.edges)
			if d := diffLabels(got, want); d != "" {
				t.Fatalf("components of the edge files differ from brute force: %s", d)
			}
			for _, e := range r.edges {
				if e[0] >= e[1] || !pairs[e] {
					t.Fatalf("edge %v is not an ordered candidate pair", e)
				}
			}
			for id, d := range r.byID {
				if _, in := got[id]; in && d.Text == "" {
					t.Errorf("empty document %d was bucketed", id)
				}
			}
			if d := diffLabels(readComponentDir(t, filepath.Join(lshRoot(t, r.sum), "cc")), want); d != "" {
				t.Fatalf("components stage output differs from brute force: %s", d)
			}
			if got, want := readDuplicates(t, r.out), nonRoots(want); !slices.Equal(got, want) {
				t.Fatalf("duplicates/: %d ids, want %d (%v...)", len(got), len(want), want[:min(5, len(want))])
			}
			if r.sum.Duplicates != int64(len(nonRoots(want))) || r.sum.NodesInGroups != int64(len(want)) {
				t.Fatalf("summary: duplicates %d nodes %d, want %d and %d", r.sum.Duplicates, r.sum.NodesInGroups, len(nonRoots(want)), len(want))
			}
			if r.sum.EmptyDocuments != 2 {
				t.Errorf("empty documents = %d, want 2", r.sum.EmptyDocuments)
			}
		})
	}
}

// TestVerifyThreshold checks --verify-threshold against an oracle that
// buckets documents by their band values: with T = 0 the edges are exactly
// NeMo Curator's consecutive pairs of every bucket; with T > 0 they are
// exactly the edges from each id to the first earlier id of its bucket whose
// exact shingle Jaccard (computed here from the texts) is at least T, every
// such edge is verified at ≥ T, and the rejected count matches. A threshold
// just above zero accepts every bucketed pair, so it finds the same groups
// as no verification.
func TestVerifyThreshold(t *testing.T) {
	l := writeLayout(t, lshCorpus(12), 2)
	noisy := func(c *fuzzy.Config) { c.CharNgrams, c.Bands, c.Rows, c.BandsPerIteration = 5, 8, 2, 5 }

	r0 := runLSH(t, l, noisy)
	want0, _ := r0.oracleEdges(0)
	got0 := slices.Clone(r0.edges)
	slices.SortFunc(got0, cmpEdge)
	if !slices.EqualFunc(got0, want0, func(a, b [2]int64) bool { return a == b }) {
		t.Fatalf("T=0: %d edges, consecutive-pair rule gives %d", len(got0), len(want0))
	}
	if r0.sum.RejectedPairs != 0 {
		t.Fatalf("T=0 rejected %d pairs", r0.sum.RejectedPairs)
	}
	comp0 := components(r0.edges)

	for _, T := range []float64{0.5, 0.9} {
		r := runLSH(t, l, func(c *fuzzy.Config) { noisy(c); c.VerifyThreshold = T })
		for _, e := range r.edges {
			if j := r.exactJaccard(e[0], e[1]); j < T {
				t.Fatalf("T=%g: edge %v has shingle Jaccard %g", T, e, j)
			}
		}
		want, rejected := r.oracleEdges(T)
		got := slices.Clone(r.edges)
		slices.SortFunc(got, cmpEdge)
		if !slices.EqualFunc(got, want, func(a, b [2]int64) bool { return a == b }) {
			t.Fatalf("T=%g: %d edges, oracle gives %d", T, len(got), len(want))
		}
		if rejected == 0 {
			t.Fatalf("T=%g rejects nothing: the corpus does not exercise verification", T)
		}
		t.Logf("T=%g: %d edges (T=0: %d), %d rejected", T, len(got), len(want0), rejected)
		if r.sum.RejectedPairs != rejected {
			t.Fatalf("T=%g: summary rejected %d, oracle %d", T, r.sum.RejectedPairs, rejected)
		}
		// Verified groups refine the unverified ones.
		for n, g := range components(r.edges) {
			if comp0[n] != comp0[g] {
				t.Fatalf("T=%g: %d and %d grouped, but not without verification", T, n, g)
			}
		}
	}

	tiny := runLSH(t, l, func(c *fuzzy.Config) { noisy(c); c.VerifyThreshold = 1e-9 })
	if d := diffLabels(components(tiny.edges), comp0); d != "" {
		t.Fatalf("T=1e-9 groups differ from T=0: %s", d)
	}
	if !slices.Equal(readDuplicates(t, tiny.out), readDuplicates(t, r0.out)) {
		t.Fatal("T=1e-9 duplicates differ from T=0")
	}
}

// TestHashBits64EndToEnd runs the whole workflow with 64-bit hashes and
// checks that of every set of documents with identical text (the injected
// exact copies) at most one survives, and that the output is the input
// minus the removal list.
func TestHashBits64EndToEnd(t *testing.T) {
	docs := smallDocs(13, 150)
	l := writeLayout(t, docs, 2)
	out := filepath.Join(t.TempDir(), "out")
	cfg := fuzzy.DefaultConfig()
	cfg.Inputs, cfg.Output, cfg.HashBits = []string{l.dir}, out, 64
	sum := mustRun(t, cfg)
	if sum.Params.HashBits != 64 {
		t.Fatalf("ran with %d-bit hashes", sum.Params.HashBits)
	}
	sigs := readSignatures(t, sum)
	for id, s := range sigs {
		if len(s) != 2*cfg.Bands*cfg.Rows {
			t.Fatalf("id %d: signature of %d words, want %d", id, len(s), 2*cfg.Bands*cfg.Rows)
		}
	}
	kept := map[string]bool{}
	for _, f := range l.files {
		fh, err := os.Open(filepath.Join(out, "deduplicated", filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var d testcorpus.Doc
			if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
				t.Fatal(err)
			}
			kept[d.ID] = true
		}
		fh.Close()
	}
	byText := map[string][]string{}
	exact := 0
	for _, d := range docs {
		byText[d.Text] = append(byText[d.Text], d.ID)
		if d.Edit == "exact" {
			exact++
		}
	}
	if exact == 0 {
		t.Fatal("corpus has no exact copies")
	}
	for _, ids := range byText {
		n := 0
		for _, id := range ids {
			if kept[id] {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("identical documents %v: %d kept", ids, n)
		}
	}
	if int64(len(kept)) != sum.Kept || sum.Kept+sum.Duplicates != int64(len(docs)) {
		t.Fatalf("kept %d lines; summary kept %d + duplicates %d of %d", len(kept), sum.Kept, sum.Duplicates, len(docs))
	}
	if sum.Duplicates < int64(exact) {
		t.Fatalf("removed %d documents, fewer than the %d exact copies", sum.Duplicates, exact)
	}
}

// largestGroup is the size of the largest group of a labelling.
func largestGroup(labels map[int64]int64) int {
	size := map[int64]int{}
	best := 0
	for _, g := range labels {
		size[g]++
		best = max(best, size[g])
	}
	return best
}
