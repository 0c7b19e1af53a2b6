package fuzzy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/dedup/fuzzy/minhash"
	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/internal/testcorpus"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/shuffle"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// smallDocs is a corpus of about 1.3×bases short documents, a third of the
// bases with 1–3 near-duplicate copies (some exact), so that a workflow run
// takes well under a second even with -race.
func smallDocs(seed uint64, bases int) []testcorpus.Doc {
	docs, _ := testcorpus.Generate(testcorpus.Options{Seed: seed, Bases: bases, WordsMin: 40, WordsMax: 120,
		DupFraction: 0.3, CopiesMax: 3, EditRate: 0.02})
	return docs
}

// quickConfig is the default configuration with fewer permutations
// (10 bands × 5 rows), for tests that are not about the parameters.
func quickConfig(in, out string) fuzzy.Config {
	c := fuzzy.DefaultConfig()
	c.Inputs, c.Output = []string{in}, out
	c.Bands, c.Rows, c.BandsPerIteration = 10, 5, 3
	return c
}

// corpusLayout is a JSONL corpus as written: files in sorted order and the
// documents of each file in row order.
type corpusLayout struct {
	dir   string
	files []string
	docs  [][]testcorpus.Doc
}

// docLine is the JSONL line written for a document.
func docLine(d testcorpus.Doc) string {
	b, err := json.Marshal(map[string]any{"id": d.ID, "text": d.Text, "family": d.Family})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// writeLayout writes docs round-robin over n plain JSONL files.
func writeLayout(t *testing.T, docs []testcorpus.Doc, n int) corpusLayout {
	t.Helper()
	l := corpusLayout{dir: filepath.Join(t.TempDir(), "in"), docs: make([][]testcorpus.Doc, n)}
	for i, d := range docs {
		l.docs[i%n] = append(l.docs[i%n], d)
	}
	for i := range n {
		p := filepath.Join(l.dir, fmt.Sprintf("part-%02d.jsonl", i))
		var b []byte
		for _, d := range l.docs[i] {
			b = append(append(b, docLine(d)...), '\n')
		}
		writeFile(t, p, b)
		l.files = append(l.files, p)
	}
	return l
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runOptions adjusts how runWorkflow runs.
type runOptions struct {
	ex  executor.Config
	reg *stage.Registry
}

// runWorkflow runs the workflow on a fresh local runtime (2 CPUs).
func runWorkflow(t *testing.T, cfg fuzzy.Config, o runOptions) (*fuzzy.Summary, error) {
	t.Helper()
	rt, err := local.New(local.Options{CPUs: 2, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	reg := o.reg
	if reg == nil {
		reg = stage.NewRegistry()
		if err := fuzzy.Register(reg); err != nil {
			t.Fatal(err)
		}
	}
	w := &fuzzy.Workflow{Cfg: cfg, Runtime: rt, Registry: reg, Executor: o.ex}
	return w.Run(context.Background())
}

func mustRun(t *testing.T, cfg fuzzy.Config) *fuzzy.Summary {
	t.Helper()
	sum, err := runWorkflow(t, cfg, runOptions{})
	if err != nil {
		t.Fatalf("workflow: %v", err)
	}
	return sum
}

// idMap is Output/id_map.json.
type idMap struct {
	TotalIDs int64 `json:"total_ids"`
	Groups   []struct {
		Group   int   `json:"group"`
		FirstID int64 `json:"first_id"`
		Count   int64 `json:"count"`
		Files   []struct {
			Path  string `json:"path"`
			Base  int64  `json:"base"`
			Count int64  `json:"count"`
		} `json:"files"`
	} `json:"groups"`
}

func readIDMap(t *testing.T, out string) idMap {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "id_map.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m idMap
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("id_map.json: %v", err)
	}
	return m
}

// fileBases maps each input file to the id of its first record.
func (m idMap) fileBases() map[string]int64 {
	bases := map[string]int64{}
	for _, g := range m.Groups {
		for _, f := range g.Files {
			bases[f.Path] = f.Base
		}
	}
	return bases
}

// docsByID maps dedup ids to the documents of a layout, using id_map.json.
func docsByID(t *testing.T, out string, l corpusLayout) map[int64]testcorpus.Doc {
	t.Helper()
	bases := readIDMap(t, out).fileBases()
	byID := map[int64]testcorpus.Doc{}
	for i, f := range l.files {
		base, ok := bases[f]
		if !ok {
			t.Fatalf("id_map.json has no entry for %s", f)
		}
		for r, d := range l.docs[i] {
			byID[base+int64(r)] = d
		}
	}
	return byID
}

// readDuplicates returns the sorted ids in Output/duplicates/*.parquet,
// failing on an id listed twice.
func readDuplicates(t *testing.T, out string) []int64 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(out, "duplicates", "*.parquet"))
	var all []int64
	for _, f := range files {
		ids, err := dataio.ReadAllIDs(f, dataio.DedupIDColumn)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(ids) {
			t.Errorf("%s: ids not sorted", f)
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			t.Fatalf("duplicate id %d listed twice", all[i])
		}
	}
	return all
}

// edgeRow is the edge-file schema, spelled out independently of the package.
type edgeRow struct {
	A int64 `parquet:"_sluice_dedup_id_a"`
	B int64 `parquet:"_sluice_dedup_id_b"`
}

// lshRoot returns the single lsh-<key> directory of a run's cache.
func lshRoot(t *testing.T, sum *fuzzy.Summary) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(sum.CacheDir, "lsh-*"))
	if len(dirs) != 1 {
		t.Fatalf("want one lsh-* cache directory in %s, got %v", sum.CacheDir, dirs)
	}
	return dirs[0]
}

// readEdgeDir returns every edge of the part.*.parquet files under dir.
func readEdgeDir(t *testing.T, dir string) [][2]int64 {
	t.Helper()
	var edges [][2]int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".parquet" {
			return err
		}
		edges = append(edges, readEdgeFile(t, p)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return edges
}

func readEdgeFile(t *testing.T, path string) [][2]int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := parquet.NewGenericReader[edgeRow](f)
	defer r.Close()
	var out [][2]int64
	buf := make([]edgeRow, 256)
	for {
		n, err := r.Read(buf)
		for _, e := range buf[:n] {
			out = append(out, [2]int64{e.A, e.B})
		}
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
}

func writeEdgeFile(t *testing.T, path string, edges [][2]int64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[edgeRow](f, parquet.MaxRowsPerRowGroup(100))
	rows := make([]edgeRow, len(edges))
	for i, e := range edges {
		rows[i] = edgeRow{e[0], e[1]}
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readComponentDir reads the (node, group) files under dir/components.
func readComponentDir(t *testing.T, dir string) map[int64]int64 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "components", "*.parquet"))
	if len(files) == 0 {
		t.Fatalf("no component files in %s", dir)
	}
	labels := map[int64]int64{}
	for _, f := range files {
		r, err := dataio.OpenGroupFile(f, 0)
		if err != nil {
			t.Fatal(err)
		}
		for {
			ids, groups, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				if _, dup := labels[id]; dup {
					t.Fatalf("node %d labelled twice", id)
				}
				labels[id] = groups[i]
			}
		}
		r.Close()
	}
	return labels
}

// readSignatures reads the signature stores of a run's MinHash cache (bad
// records' ids hold all-zero signatures).
func readSignatures(t *testing.T, sum *fuzzy.Summary) map[int64][]uint32 {
	t.Helper()
	sigs := map[int64][]uint32{}
	err := fuzzy.EachStoredSignature(filepath.Join(sum.CacheDir, "minhash"), func(id int64, words []uint32) error {
		sigs[id] = slices.Clone(words)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) == 0 {
		t.Fatalf("no signatures in %s", sum.CacheDir)
	}
	return sigs
}

// signWords computes a document's signature as the signature files store
// it: uint32 words, a 64-bit value as two words, low half first.
func signWords(h *minhash.Hasher, text string) []uint32 {
	if h.Params().HashBits == 64 {
		var out []uint32
		for _, v := range h.Signature64([]byte(text), nil) {
			out = append(out, uint32(v), uint32(v>>32))
		}
		return out
	}
	return h.Signature32([]byte(text), nil)
}

// components labels every node of edges with the smallest node of its
// connected component (union-find, independent of package cc).
func components(edges [][2]int64) map[int64]int64 {
	parent := map[int64]int64{}
	var find func(int64) int64
	find = func(x int64) int64 {
		p, ok := parent[x]
		if !ok {
			parent[x] = x
			return x
		}
		if p == x {
			return x
		}
		r := find(p)
		parent[x] = r
		return r
	}
	for _, e := range edges {
		a, b := find(e[0]), find(e[1])
		if a < b {
			parent[b] = a
		} else if b < a {
			parent[a] = b
		}
	}
	out := make(map[int64]int64, len(parent))
	for x := range parent {
		out[x] = find(x)
	}
	return out
}

// nonRoots is the sorted list of nodes that are not their group's label.
func nonRoots(labels map[int64]int64) []int64 {
	var out []int64
	for n, g := range labels {
		if n != g {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// diffLabels describes the first few differences between two labellings.
func diffLabels(got, want map[int64]int64) string {
	var keys []int64
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var msg string
	n := 0
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		if gok != wok || g != w {
			if n < 5 {
				msg += fmt.Sprintf(" node %d: got %d(%v) want %d(%v);", k, g, gok, w, wok)
			}
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d nodes differ:%s", n, msg)
}

// shuffleStats records what the LSH shuffle engines did during a run.
type shuffleStats struct {
	iterations atomic.Int64 // ExtractAndWrite calls (actors × band ranges)
	spills     atomic.Int64
	// overLimit counts engines whose peak buffer exceeded their share of
	// the memory limit.
	overLimit atomic.Int64
	maxPeak   atomic.Int64 // the largest peak buffer of any engine
	limit     int64        // the run's shuffle memory limit (0: none)
}

// spyLSH is the real LSH stage, which after each extraction adds its
// engine's statistics to a shuffleStats.
type spyLSH struct {
	fuzzy.LSHStage
	w     *stage.Worker
	stats *shuffleStats
}

func (s *spyLSH) Setup(ctx context.Context, w *stage.Worker) error {
	s.w = w
	return s.LSHStage.Setup(ctx, w)
}

func (s *spyLSH) ExtractAndWrite(ctx context.Context) ([]task.Task, error) {
	out, err := s.LSHStage.ExtractAndWrite(ctx)
	if eng, ok := s.w.Shuffle.Store.(interface{ Stats() shuffle.Stats }); ok {
		st := eng.Stats()
		s.stats.iterations.Add(1)
		s.stats.spills.Add(st.Spills)
		for {
			old := s.stats.maxPeak.Load()
			if st.PeakMemoryBytes <= old || s.stats.maxPeak.CompareAndSwap(old, st.PeakMemoryBytes) {
				break
			}
		}
		if s.stats.limit > 0 && st.PeakMemoryBytes > s.stats.limit/int64(s.w.Shuffle.NumRanks) {
			s.stats.overLimit.Add(1)
		}
	}
	return out, err
}

// spyRegistry is the package's registry with fuzzy_lsh built as a spyLSH.
func spyRegistry(t *testing.T, st *shuffleStats) *stage.Registry {
	t.Helper()
	base := stage.NewRegistry()
	if err := fuzzy.Register(base); err != nil {
		t.Fatal(err)
	}
	reg := stage.NewRegistry()
	for _, typ := range base.Types() {
		if typ.Name == "fuzzy_lsh" {
			typ.New = func(config []byte) (stage.Stage, error) {
				var c fuzzy.LSHConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				l, err := fuzzy.NewLSHStage(c)
				if err != nil {
					return nil, err
				}
				return &spyLSH{LSHStage: *l, stats: st}, nil
			}
		}
		if err := reg.Register(typ); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}
