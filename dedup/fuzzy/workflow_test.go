package fuzzy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/internal/testcorpus"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
)

// writeCorpus writes docs as JSONL split over n files and returns the dir.
func writeCorpus(t *testing.T, docs []testcorpus.Doc, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "in")
	os.MkdirAll(dir, 0o755)
	files := make([]*bufio.Writer, n)
	for i := range files {
		f, err := os.Create(filepath.Join(dir, "part-"+string(rune('a'+i))+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files[i] = bufio.NewWriter(f)
		t.Cleanup(func() { files[i].Flush() })
	}
	for i, d := range docs {
		b, _ := json.Marshal(map[string]any{"id": d.ID, "text": d.Text, "extra": map[string]int{"n": i}})
		files[i%n].Write(append(b, '\n'))
	}
	for _, w := range files {
		w.Flush()
	}
	return dir
}

func run(t *testing.T, cfg fuzzy.Config) *fuzzy.Summary {
	t.Helper()
	rt, err := local.New(local.Options{CPUs: 2, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	reg := stage.NewRegistry()
	if err := fuzzy.Register(reg); err != nil {
		t.Fatal(err)
	}
	w := &fuzzy.Workflow{Cfg: cfg, Runtime: rt, Registry: reg, Executor: executor.Config{}}
	sum, err := w.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func readIDs(t *testing.T, dir string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l == "" {
				continue
			}
			var rec struct{ ID string }
			json.Unmarshal([]byte(l), &rec)
			ids[rec.ID]++
		}
		return nil
	})
	return ids
}

func TestWorkflowEndToEnd(t *testing.T) {
	o := testcorpus.DefaultOptions()
	o.Bases = 300
	docs, _ := testcorpus.Generate(o)
	in := writeCorpus(t, docs, 3)
	out := filepath.Join(t.TempDir(), "out")
	cfg := fuzzy.DefaultConfig()
	cfg.Inputs, cfg.Output = []string{in}, out
	cfg.RemovedIDsOut = filepath.Join(out, "removed.txt")
	sum := run(t, cfg)
	if sum.Documents != int64(len(docs)) || sum.Records != int64(len(docs)) {
		t.Fatalf("documents = %d, records = %d, want %d", sum.Documents, sum.Records, len(docs))
	}
	if sum.RecordsWritten+sum.Duplicates != sum.Records {
		t.Fatalf("%d records written + %d removed != %d read", sum.RecordsWritten, sum.Duplicates, sum.Records)
	}
	// Every family keeps exactly one member: the removed count equals the copies.
	copies := 0
	for _, d := range docs {
		if d.Edit != "" {
			copies++
		}
	}
	if sum.Duplicates < int64(copies)*9/10 || sum.Duplicates > int64(copies) {
		t.Fatalf("duplicates = %d, injected copies = %d", sum.Duplicates, copies)
	}
	kept := readIDs(t, filepath.Join(out, "deduplicated"))
	removedB, _ := os.ReadFile(cfg.RemovedIDsOut)
	removed := strings.Fields(string(removedB))
	if int64(len(removed)) != sum.Duplicates {
		t.Fatalf("removed ids file has %d ids, summary says %d", len(removed), sum.Duplicates)
	}
	for _, id := range removed {
		if kept[id] != 0 {
			t.Fatalf("%s both kept and removed", id)
		}
		kept[id]--
	}
	for _, d := range docs {
		if c := kept[d.ID]; c != 1 && c != -1 {
			t.Fatalf("doc %s accounted %d times", d.ID, c)
		}
	}
	// Re-running resumes every cached phase and gives the same result.
	cfg.Overwrite = true
	sum2 := run(t, cfg)
	if sum2.Duplicates != sum.Duplicates || !sum2.Phases[1].Resumed {
		t.Fatalf("rerun: %+v", sum2.Phases)
	}
	// Splitting the files into many MinHash sections changes nothing.
	cfg.SplitBytes = 20 << 10
	cfg.Output = filepath.Join(t.TempDir(), "out-split")
	cfg.RemovedIDsOut = ""
	sum3 := run(t, cfg)
	dupA, _ := os.ReadDir(filepath.Join(out, "duplicates"))
	if sum3.Duplicates != sum.Duplicates || sum3.Documents != sum.Documents || len(dupA) == 0 {
		t.Fatalf("split run: %d duplicates of %d documents, want %d of %d", sum3.Duplicates, sum3.Documents, sum.Duplicates, sum.Documents)
	}
	if n := sum3.Phases[1].Stages[0].TasksIn; n <= 3 {
		t.Fatalf("split run gave %d MinHash tasks, want more than the 3 files", n)
	}
}
