package exact_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/dedup/exact"
	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/internal/testcorpus"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// TestMain fails the package if a test leaves goroutines behind: the
// workflow starts actors and shuffle engines.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// doc is one input record as the test wrote it.
type doc struct {
	ID   string
	Text string
	Line string // the JSONL line, without "\n" ("" for Parquet rows)
}

// inputFile is an input file: its path relative to the input directory and
// its records in order.
type inputFile struct {
	rel  string
	docs []doc
}

// corpus is a generated input: the files in the order the workflow reads
// them (sorted paths) and the ids of the injected byte-identical copies.
type corpus struct {
	dir      string
	files    []inputFile
	injected map[string]bool
}

// genCorpus generates texts (testcorpus: near-duplicates of a third of the
// bases, some of them exact copies), injects byte-identical copies of
// random texts under new ids, and near-misses that differ from a text in
// one byte (case, a trailing space, an added newline) and must be kept. It
// spreads the records over plain, gzip and zstd JSONL files and a Parquet
// file, in that path order.
func genCorpus(t *testing.T, seed uint64, bases int) corpus {
	t.Helper()
	gen, _ := testcorpus.Generate(testcorpus.Options{Seed: seed, Bases: bases, WordsMin: 20, WordsMax: 60,
		DupFraction: 0.3, CopiesMax: 3, EditRate: 0.05})
	rng := rand.New(rand.NewPCG(seed, 7))
	var docs []doc
	injected := map[string]bool{}
	for i, g := range gen {
		docs = append(docs, doc{ID: g.ID, Text: g.Text})
		switch rng.IntN(8) {
		case 0: // a byte-identical copy of an earlier text, under a new id
			src := docs[rng.IntN(len(docs))]
			id := fmt.Sprintf("inj-%d", i)
			docs = append(docs, doc{ID: id, Text: src.Text})
			injected[id] = true
		case 1: // near-misses of an earlier text: never duplicates
			src := docs[rng.IntN(len(docs))].Text
			docs = append(docs, doc{ID: fmt.Sprintf("case-%d", i), Text: strings.ToUpper(src[:1]) + strings.ToLower(src[1:2]) + src[2:] + "!"},
				doc{ID: fmt.Sprintf("space-%d", i), Text: src + " "}, doc{ID: fmt.Sprintf("nl-%d", i), Text: src + "\n"})
		}
	}
	c := corpus{dir: filepath.Join(t.TempDir(), "in"), injected: injected}
	names := []string{"a.jsonl", "b.jsonl.gz", "c.parquet", "sub/d.jsonl.zst"}
	c.files = make([]inputFile, len(names))
	for i, d := range docs {
		f := &c.files[i*len(names)/len(docs)]
		if !strings.HasSuffix(names[i*len(names)/len(docs)], ".parquet") {
			b, _ := json.Marshal(map[string]any{"id": d.ID, "text": d.Text, "n": i})
			d.Line = string(b)
		}
		f.docs = append(f.docs, d)
	}
	for i, f := range c.files {
		c.files[i].rel = names[i]
		path := filepath.Join(c.dir, names[i])
		if strings.HasSuffix(path, ".parquet") {
			writeParquet(t, path, f.docs)
			continue
		}
		var b []byte
		for j, d := range f.docs {
			if j == 3 {
				b = append(b, "\n  \n"...) // blank lines are not records
			}
			b = append(append(b, d.Line...), '\n')
		}
		writeFile(t, path, compress(t, path, b))
	}
	return c
}

// expectedRemoved is the oracle: for each text, every document after the
// first in input order.
func (c corpus) expectedRemoved(key func(string) string) map[string]bool {
	seen := map[string]bool{}
	removed := map[string]bool{}
	for _, f := range c.files {
		for _, d := range f.docs {
			k := key(d.Text)
			if seen[k] {
				removed[d.ID] = true
			}
			seen[k] = true
		}
	}
	return removed
}

func (c corpus) numDocs() int {
	n := 0
	for _, f := range c.files {
		n += len(f.docs)
	}
	return n
}

func writeParquet(t *testing.T, path string, docs []doc) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	texts, ids := make([]string, len(docs)), make([]string, len(docs))
	for i, d := range docs {
		texts[i], ids[i] = d.Text, d.ID
	}
	b := task.NewDocumentBatch("", "text", texts)
	b.SetColumn(&task.Column{Name: "id", Type: task.String, Strings: ids})
	w, err := dataio.CreateParquet(path, dataio.ParquetWriterOptions{RowGroupRows: 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
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

func compress(t *testing.T, name string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch {
	case strings.HasSuffix(name, ".gz"):
		w := gzip.NewWriter(&buf)
		w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case strings.HasSuffix(name, ".zst"):
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		return b
	}
	return buf.Bytes()
}

func decompress(t *testing.T, name string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch {
	case strings.HasSuffix(name, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case strings.HasSuffix(name, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// config is the default configuration for in and out.
func config(in, out string) exact.Config {
	c := exact.DefaultConfig()
	c.Inputs, c.Output = []string{in}, out
	return c
}

// runWorkflow runs the workflow on a fresh local runtime of 2 CPUs, with
// reg (default: the exact stages).
func runWorkflow(t *testing.T, cfg exact.Config, reg *stage.Registry) (*exact.Summary, error) {
	t.Helper()
	rt, err := local.New(local.Options{CPUs: 2, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if reg == nil {
		reg = stage.NewRegistry()
		if err := exact.Register(reg); err != nil {
			t.Fatal(err)
		}
	}
	w := &exact.Workflow{Cfg: cfg, Runtime: rt, Registry: reg, Executor: executor.Config{}}
	return w.Run(context.Background())
}

func mustRun(t *testing.T, cfg exact.Config) *exact.Summary {
	t.Helper()
	sum, err := runWorkflow(t, cfg, nil)
	if err != nil {
		t.Fatalf("workflow: %v", err)
	}
	return sum
}

// output reads what the run kept: for each input file, the records of its
// output file (JSONL: the lines; Parquet: id and text).
func output(t *testing.T, c corpus, out string) map[string][]doc {
	t.Helper()
	got := map[string][]doc{}
	for _, f := range c.files {
		path := filepath.Join(out, "deduplicated", f.rel)
		if strings.HasSuffix(path, ".parquet") {
			r, err := dataio.NewReader([]string{path}, dataio.ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for {
				b, err := r.Next(context.Background())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				for i, text := range b.Texts() {
					got[f.rel] = append(got[f.rel], doc{ID: b.Column("id").Strings[i], Text: text})
				}
			}
			r.Close()
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(decompress(t, path, b)), "\n") {
			if line != "" {
				var rec struct{ ID, Text string }
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				got[f.rel] = append(got[f.rel], doc{ID: rec.ID, Text: rec.Text, Line: line})
			}
		}
	}
	return got
}

// checkKept checks that the output of every file is exactly its input
// records minus removed, in order, JSONL lines byte for byte.
func checkKept(t *testing.T, c corpus, out string, removed map[string]bool) {
	t.Helper()
	got := output(t, c, out)
	for _, f := range c.files {
		var want []doc
		for _, d := range f.docs {
			if !removed[d.ID] {
				want = append(want, d)
			}
		}
		if !slices.Equal(got[f.rel], want) {
			t.Errorf("%s: output has %d records, want %d (or they differ)", f.rel, len(got[f.rel]), len(want))
		}
	}
}

// readRemovedIDs reads a --removed-ids-out .jsonl file as a set.
func readRemovedIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var id string
		if err := json.Unmarshal([]byte(l), &id); err != nil {
			t.Fatalf("removed id %q: %v", l, err)
		}
		if ids[id] {
			t.Fatalf("removed id %s listed twice", id)
		}
		ids[id] = true
	}
	return ids
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
