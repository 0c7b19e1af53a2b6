package fuzzy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/internal/testcorpus"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// A file group whose middle file is split into MinHash sections keeps its
// other files in one MinHash task. Their ids are not contiguous (the split
// file's ids lie between them), and every document of them must still be
// signed, bucketed and deduplicated.
func TestReviewWholeFilesAroundSplitFile(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	docs, _ := testcorpus.Generate(testcorpus.Options{Seed: 11, Bases: 60, WordsMin: 40, WordsMax: 80})
	line := func(id, text string) string {
		b, _ := json.Marshal(map[string]string{"id": id, "text": text})
		return string(b) + "\n"
	}
	var a, b, c strings.Builder
	for i := 0; i < 5; i++ {
		a.WriteString(line(fmt.Sprintf("a%d", i), docs[i].Text))
	}
	for i := 5; i < len(docs); i++ {
		b.WriteString(line(fmt.Sprintf("b%d", i), docs[i].Text))
	}
	// c holds an exact copy of a's first document.
	c.WriteString(line("c0", docs[0].Text))
	for name, s := range map[string]string{"a.jsonl": a.String(), "b.jsonl": b.String(), "c.jsonl": c.String()} {
		if err := os.WriteFile(filepath.Join(in, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if b.Len() <= 4*(4<<10) {
		t.Fatalf("b.jsonl is %d bytes; too small to be split", b.Len())
	}
	out := filepath.Join(t.TempDir(), "out")
	cfg := quickConfig(in, out)
	cfg.FilesPerPartition = 3
	cfg.SplitBytes = 4 << 10
	cfg.RemovedIDsOut = filepath.Join(out, "removed.txt")
	sum := mustRun(t, cfg)
	if sum.Documents != int64(len(docs)+1) {
		t.Fatalf("documents = %d, want %d", sum.Documents, len(docs)+1)
	}
	if sum.Duplicates != 1 {
		t.Fatalf("duplicates = %d, want 1 (c0 copies a0)", sum.Duplicates)
	}
	removed, err := os.ReadFile(cfg.RemovedIDsOut)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(removed)); len(got) != 1 || (got[0] != "a0" && got[0] != "c0") {
		t.Fatalf("removed ids = %q, want a0 or c0", got)
	}
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(ents)
}

// A MinHash task that fails before signing anything (here: its signature
// store cannot be created) closes every file it opened, the quarantine
// file included.
func TestReviewMinHashEarlyFailureClosesFiles(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "a.jsonl")
	if err := os.WriteFile(in, []byte(`{"id":"1","text":"hello world, hello everyone"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	st, err := fuzzy.NewMinHashStage(fuzzy.MinHashConfig{CacheDir: cache, OnBadRecord: "skip", NumPerm: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Setup(context.Background(), &stage.Worker{}); err != nil {
		t.Fatal(err)
	}
	// A directory where the signature store goes makes its creation fail.
	if err := os.MkdirAll(filepath.Join(cache, "minhash", "part-0.sig"), 0o755); err != nil {
		t.Fatal(err)
	}
	tk := task.NewFileGroup("fuzzy", []string{in})
	tk.Meta()["fuzzy.files"] = fmt.Sprintf(`[{"path":%q,"base":0,"count":1}]`, in)
	tk.Meta()["fuzzy.group"] = "0"
	before := openFDs(t)
	if _, err := st.ProcessBatch(context.Background(), []task.Task{tk}); err == nil {
		t.Fatal("ProcessBatch succeeded; want the signature store error")
	}
	if after := openFDs(t); after != before {
		t.Fatalf("open files: %d before the failed task, %d after", before, after)
	}
}
