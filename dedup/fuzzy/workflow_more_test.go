package fuzzy_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/executor"
)

// runResult is what two runs must agree on.
type runResult struct {
	sum    *fuzzy.Summary
	dups   []int64
	labels map[int64]int64
	edges  [][2]int64 // sorted
}

// collect reads a run's results; root is its lsh-<key> cache directory, or
// "" when the cache holds only one.
func collect(t *testing.T, sum *fuzzy.Summary, out, root string) runResult {
	t.Helper()
	if root == "" {
		root = lshRoot(t, sum)
	}
	edges := readEdgeDir(t, filepath.Join(root, "LSH"))
	slices.SortFunc(edges, cmpEdge)
	return runResult{sum: sum, dups: readDuplicates(t, out), labels: readComponentDir(t, filepath.Join(root, "cc")), edges: edges}
}

func (r runResult) equal(t *testing.T, name string, want runResult) {
	t.Helper()
	if !slices.Equal(r.dups, want.dups) {
		t.Errorf("%s: duplicates differ: %d ids, want %d", name, len(r.dups), len(want.dups))
	}
	if d := diffLabels(r.labels, want.labels); d != "" {
		t.Errorf("%s: components differ: %s", name, d)
	}
	if !slices.Equal(r.edges, want.edges) {
		t.Errorf("%s: edges differ: %d, want %d", name, len(r.edges), len(want.edges))
	}
	if r.sum.Duplicates != want.sum.Duplicates || r.sum.CandidateEdges != want.sum.CandidateEdges || r.sum.Buckets != want.sum.Buckets {
		t.Errorf("%s: summary %d duplicates %d edges %d buckets, want %d %d %d", name,
			r.sum.Duplicates, r.sum.CandidateEdges, r.sum.Buckets, want.sum.Duplicates, want.sum.CandidateEdges, want.sum.Buckets)
	}
}

// TestOutputIndependentOfMemoryAndBandsPerIteration runs the same corpus
// with and without a shuffle memory limit and with 1, 5 and 20 bands per LSH
// iteration. The limits are small enough that the engines must spill (the
// rows of one pass exceed the whole limit, so some engine exceeds its
// share), which the test confirms from the engines' own statistics, along
// with their peak buffers staying within their share. Duplicates,
// components, edges and counts must be identical in every run.
func TestOutputIndependentOfMemoryAndBandsPerIteration(t *testing.T) {
	docs := smallDocs(31, 150)
	l := writeLayout(t, docs, 3)
	const bands, rows, lshRowBytes = 20, 4, 27 // 18-byte key, 8-byte value, 1-byte partition
	type limits struct {
		ex  int64 // executor.Config.ShuffleMemoryLimit
		cfg int64 // fuzzy.Config.MemoryLimit
		bpi int
	}
	run := func(t *testing.T, c limits) runResult {
		t.Helper()
		limit := max(c.ex, c.cfg)
		st := &shuffleStats{limit: limit}
		out := filepath.Join(t.TempDir(), "out")
		cfg := fuzzy.DefaultConfig()
		cfg.Inputs, cfg.Output, cfg.NoRemove = []string{l.dir}, out, true
		cfg.Bands, cfg.Rows, cfg.BandsPerIteration, cfg.MemoryLimit = bands, rows, c.bpi, c.cfg
		sum, err := runWorkflow(t, cfg, runOptions{ex: executor.Config{ShuffleMemoryLimit: c.ex}, reg: spyRegistry(t, st)})
		if err != nil {
			t.Fatal(err)
		}
		if st.iterations.Load() == 0 {
			t.Fatal("the LSH stage reported no shuffle statistics")
		}
		passRows := int64(len(docs)) * int64(min(c.bpi, bands))
		switch {
		case limit == 0 && st.spills.Load() != 0:
			t.Fatalf("spilled %d times without a memory limit", st.spills.Load())
		case limit > 0 && passRows*lshRowBytes > limit && st.spills.Load() == 0:
			t.Fatalf("%d rows per pass against a %d-byte limit, but nothing spilled", passRows, limit)
		case st.overLimit.Load() > 0:
			t.Fatalf("%d engines buffered more than their share of the %d-byte limit (largest peak %d bytes)", st.overLimit.Load(), limit, st.maxPeak.Load())
		}
		t.Logf("%d extractions, %d spills, largest peak buffer %d bytes", st.iterations.Load(), st.spills.Load(), st.maxPeak.Load())
		return collect(t, sum, out, "")
	}
	ref := run(t, limits{bpi: 5})
	if len(ref.dups) == 0 {
		t.Fatal("no duplicates found: the corpus does not exercise LSH")
	}
	cases := []struct {
		name string
		limits
	}{
		{"64KiB-bpi20", limits{ex: 64 << 10, bpi: 20}},
		{"4KiB-bpi1", limits{ex: 4 << 10, bpi: 1}},
		{"unlimited-bpi20", limits{bpi: 20}},
		// A library caller sets the limit in the workflow's Config.
		{"config-4KiB-bpi3", limits{cfg: 4 << 10, bpi: 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run(t, tc.limits).equal(t, tc.name, ref)
		})
	}
}

func phaseMap(t *testing.T, sum *fuzzy.Summary) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	for _, p := range sum.Phases {
		m[p.Name] = p.Resumed
	}
	for _, name := range []string{"ids", "minhash", "lsh", "components"} {
		if _, ok := m[name]; !ok {
			t.Fatalf("summary has no phase %q: %+v", name, sum.Phases)
		}
	}
	return m
}

func wantResumed(t *testing.T, sum *fuzzy.Summary, want map[string]bool) {
	t.Helper()
	got := phaseMap(t, sum)
	for name, w := range want {
		if got[name] != w {
			t.Errorf("phase %s resumed = %v, want %v (phases %+v)", name, got[name], w, sum.Phases)
		}
	}
}

// outputFiles reads every file under Output/deduplicated.
func outputFiles(t *testing.T, out string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	dir := filepath.Join(out, "deduplicated")
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[strings.TrimPrefix(p, dir)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// TestRerunSafety checks the cache: a second run resumes every cached phase
// and writes the same output; other bands/rows reuse the signatures but not
// the LSH and components results (a new cache directory, results equal to a
// fresh run's); other permutations reuse nothing; and a phase directory left
// without its _DONE.json (an interrupted phase) or with an unreadable one is
// started clean, junk removed, with the same results.
func TestRerunSafety(t *testing.T) {
	l := writeLayout(t, smallDocs(41, 120), 3)
	out := filepath.Join(t.TempDir(), "out")
	cfg := quickConfig(l.dir, out)
	first := mustRun(t, cfg)
	wantResumed(t, first, map[string]bool{"ids": false, "minhash": false, "lsh": false, "components": false})
	ref := collect(t, first, out, "")
	refFiles := outputFiles(t, out)
	if len(ref.dups) == 0 {
		t.Fatal("no duplicates: the corpus does not exercise the workflow")
	}
	lsh1 := lshRoot(t, first)
	cfg.Overwrite = true // every later run replaces the first one's output

	t.Run("second-run-resumes", func(t *testing.T) {
		sum := mustRun(t, cfg)
		wantResumed(t, sum, map[string]bool{"ids": true, "minhash": true, "lsh": true, "components": true})
		if sum.Phases[len(sum.Phases)-1].Name != "removal" {
			t.Errorf("last phase %+v, want removal (never cached)", sum.Phases[len(sum.Phases)-1])
		}
		collect(t, sum, out, "").equal(t, "rerun", ref)
		if !sameFiles(outputFiles(t, out), refFiles) {
			t.Error("rerun wrote different deduplicated files")
		}
		if sum.Documents != first.Documents || sum.Kept != first.Kept {
			t.Errorf("rerun summary %d documents %d kept, want %d and %d", sum.Documents, sum.Kept, first.Documents, first.Kept)
		}
	})

	t.Run("other-bands-rows", func(t *testing.T) {
		c := cfg
		c.Bands, c.Rows = 5, 10 // same 50 permutations
		sum := mustRun(t, c)
		wantResumed(t, sum, map[string]bool{"ids": true, "minhash": true, "lsh": false, "components": false})
		if sum.CacheDir != first.CacheDir {
			t.Errorf("same permutations, but signatures in %s, not %s", sum.CacheDir, first.CacheDir)
		}
		dirs, _ := filepath.Glob(filepath.Join(sum.CacheDir, "lsh-*"))
		if len(dirs) != 2 {
			t.Fatalf("want two LSH cache directories, got %v", dirs)
		}
		other := dirs[0]
		if other == lsh1 {
			other = dirs[1]
		}
		edges := readEdgeDir(t, filepath.Join(other, "LSH"))
		slices.SortFunc(edges, cmpEdge)
		// Equal to a fresh run with the same parameters.
		fresh := c
		fresh.Output, fresh.Cache = filepath.Join(t.TempDir(), "out"), ""
		fs := mustRun(t, fresh)
		want := collect(t, fs, fresh.Output, "")
		got := runResult{sum: sum, dups: readDuplicates(t, out), labels: readComponentDir(t, filepath.Join(other, "cc")), edges: edges}
		got.equal(t, "5x10 from cache", want)
		if slices.Equal(edges, ref.edges) {
			t.Error("5x10 bands gave the same edges as 10x5: the LSH results were reused")
		}

		c.Bands, c.Rows = 8, 5 // 40 permutations: new signatures
		sum = mustRun(t, c)
		wantResumed(t, sum, map[string]bool{"minhash": false, "lsh": false, "components": false})
		if sum.CacheDir == first.CacheDir {
			t.Errorf("40 permutations reused the 50-permutation signatures in %s", sum.CacheDir)
		}
	})

	t.Run("interrupted-phases-restart-clean", func(t *testing.T) {
		// Components interrupted: its directory holds junk and no marker.
		cc := filepath.Join(lsh1, "cc")
		if err := os.Remove(filepath.Join(cc, "_DONE.json")); err != nil {
			t.Fatal(err)
		}
		junk := filepath.Join(cc, "junk.txt")
		writeFile(t, junk, []byte("left by a killed run"))
		// And the ids marker corrupted.
		writeFile(t, filepath.Join(first.CacheDir, "ids", "_DONE.json"), []byte("{not json"))

		sum := mustRun(t, cfg)
		wantResumed(t, sum, map[string]bool{"ids": false, "minhash": true, "lsh": true, "components": false})
		if _, err := os.Stat(junk); !os.IsNotExist(err) {
			t.Errorf("junk in the interrupted phase survived: %v", err)
		}
		collect(t, sum, out, lsh1).equal(t, "after interruption", ref)
		if !sameFiles(outputFiles(t, out), refFiles) {
			t.Error("run after interruption wrote different deduplicated files")
		}

		// LSH interrupted: its directory holds a bogus edge file joining
		// documents that are not duplicates, no marker, and no components.
		root := lsh1
		if err := os.RemoveAll(root); err != nil {
			t.Fatal(err)
		}
		var a, b int64 = -1, -1
		for id := range int64(first.Documents) {
			if _, ok := ref.labels[id]; !ok {
				if a < 0 {
					a = id
				} else if b < 0 {
					b = id
				}
			}
		}
		bogus := filepath.Join(root, "LSH", "band_0-band_3", "part.7.parquet")
		writeEdgeFile(t, bogus, [][2]int64{{a, b}})
		sum = mustRun(t, cfg)
		wantResumed(t, sum, map[string]bool{"ids": true, "minhash": true, "lsh": false, "components": false})
		if _, err := os.Stat(bogus); !os.IsNotExist(err) {
			t.Errorf("bogus edge file of the interrupted LSH phase survived: %v", err)
		}
		collect(t, sum, out, lsh1).equal(t, "after LSH interruption", ref)
	})

	t.Run("changed-input-invalidates", func(t *testing.T) {
		f, err := os.OpenFile(l.files[0], os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString(docLine(l.docs[1][0]) + "\n") // an exact copy of another file's first document
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		sum := mustRun(t, cfg)
		wantResumed(t, sum, map[string]bool{"ids": false, "minhash": false, "lsh": false, "components": false})
		if sum.CacheDir == first.CacheDir || sum.Documents != first.Documents+1 || sum.Duplicates != first.Duplicates+1 {
			t.Fatalf("after appending a copy: cache %s (was %s), %d documents, %d duplicates (were %d, %d)",
				sum.CacheDir, first.CacheDir, sum.Documents, sum.Duplicates, first.Documents, first.Duplicates)
		}
		// The entries keyed by the old input can never be used again: pruned.
		entries, _ := filepath.Glob(filepath.Join(filepath.Dir(sum.CacheDir), "mh-*"))
		if !slices.Equal(entries, []string{sum.CacheDir}) {
			t.Fatalf("cache entries after the input changed: %v, want only %s", entries, sum.CacheDir)
		}
	})
}

// TestIDMap checks id_map.json: groups in order with contiguous id ranges,
// files in sorted order within them, each file's count equal to its records
// (non-blank lines, malformed ones included), the same ids on every run,
// and the same ids per file whatever the grouping.
func TestIDMap(t *testing.T) {
	docs := smallDocs(51, 60)
	in := filepath.Join(t.TempDir(), "in")
	counts := []int{0, 7, 1, 20, 13}
	wantCount := map[string]int64{}
	var files []string
	next := 0
	for i, n := range counts {
		p := filepath.Join(in, fmt.Sprintf("f%d.jsonl", i))
		var b []byte
		for j := range n {
			if j == 2 {
				b = append(b, "\n  \n"...)
			}
			line := docLine(docs[next%len(docs)])
			if i == 3 && j == 5 {
				line = `{"id": "broken`
			}
			next++
			b = append(append(b, line...), '\n')
		}
		writeFile(t, p, b)
		files = append(files, p)
		wantCount[p] = int64(n)
	}
	run := func(fpp int) (idMap, []byte, []int64) {
		out := filepath.Join(t.TempDir(), "out")
		cfg := quickConfig(in, out)
		cfg.FilesPerPartition, cfg.OnBadRecord = fpp, "skip"
		mustRun(t, cfg)
		b, err := os.ReadFile(filepath.Join(out, "id_map.json"))
		if err != nil {
			t.Fatal(err)
		}
		return readIDMap(t, out), b, readDuplicates(t, out)
	}
	m, raw, dups := run(2)
	if len(m.Groups) != 3 {
		t.Fatalf("%d groups for 5 files in twos", len(m.Groups))
	}
	var id int64
	var listed []string
	for gi, g := range m.Groups {
		if g.Group != gi || g.FirstID != id {
			t.Fatalf("group %d: index %d first id %d, want %d", gi, g.Group, g.FirstID, id)
		}
		var n int64
		for _, f := range g.Files {
			if f.Base != id {
				t.Fatalf("%s: base %d, want %d (ranges not contiguous)", f.Path, f.Base, id)
			}
			if f.Count != wantCount[f.Path] {
				t.Fatalf("%s: count %d, want %d", f.Path, f.Count, wantCount[f.Path])
			}
			id += f.Count
			n += f.Count
			listed = append(listed, f.Path)
		}
		if g.Count != n {
			t.Fatalf("group %d: count %d, files sum to %d", gi, g.Count, n)
		}
	}
	if !slices.Equal(listed, files) {
		t.Fatalf("files in id order %v, want %v", listed, files)
	}
	if m.TotalIDs != id {
		t.Fatalf("total_ids %d, want %d", m.TotalIDs, id)
	}
	if _, raw2, dups2 := run(2); !bytes.Equal(raw, raw2) || !slices.Equal(dups, dups2) {
		t.Fatal("a second run assigned different ids")
	}
	m1, _, dups1 := run(1)
	if len(m1.Groups) != len(files) {
		t.Fatalf("%d groups with one file each, want %d", len(m1.Groups), len(files))
	}
	b1, b2 := m1.fileBases(), m.fileBases()
	for _, f := range files {
		if b1[f] != b2[f] {
			t.Fatalf("%s: base %d with one file per group, %d with two", f, b1[f], b2[f])
		}
	}
	if !slices.Equal(dups, dups1) {
		t.Fatal("the grouping changed the duplicates' ids")
	}
}
