package exact_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/dedup/exact"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// outputFiles reads every file under out/deduplicated.
func outputFiles(t *testing.T, out string) map[string]string {
	t.Helper()
	files := map[string]string{}
	root := filepath.Join(out, "deduplicated")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func resumed(sum *exact.Summary) map[string]bool {
	m := map[string]bool{}
	for _, p := range sum.Phases {
		m[p.Name] = p.Resumed
	}
	return m
}

// TestExactRerunSafety mirrors fuzzy dedup's: a second run (Overwrite)
// resumes the ids and hash phases from the cache and writes the same
// files; a hash phase left without _DONE.json (interrupted) and with junk,
// and an unreadable ids marker, are started clean with the same results; an
// input that changed gets a new cache entry and the old one is pruned.
func TestExactRerunSafety(t *testing.T) {
	c := genCorpus(t, 4, 100)
	out := filepath.Join(t.TempDir(), "out")
	cfg := config(c.dir, out)
	first := mustRun(t, cfg)
	if r := resumed(first); r["ids"] || r["hash"] || first.Duplicates == 0 {
		t.Fatalf("first run: resumed %v, %d duplicates", r, first.Duplicates)
	}
	ref := outputFiles(t, out)
	cfg.Overwrite = true

	second := mustRun(t, cfg)
	if r := resumed(second); !r["ids"] || !r["hash"] || r["removal"] {
		t.Fatalf("second run resumed %v; want ids and hash", r)
	}
	if !sameFiles(outputFiles(t, out), ref) || second.Duplicates != first.Duplicates || second.Documents != first.Documents {
		t.Fatal("the resumed run wrote a different output")
	}

	hashDir := filepath.Join(first.CacheDir, "hash")
	if err := os.Remove(filepath.Join(hashDir, "_DONE.json")); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(hashDir, "duplicates", "part.7.parquet")
	writeFile(t, junk, []byte("left by a killed run"))
	writeFile(t, filepath.Join(first.CacheDir, "ids", "_DONE.json"), []byte("{not json"))
	third := mustRun(t, cfg)
	if r := resumed(third); r["ids"] || r["hash"] {
		t.Fatalf("after interruption resumed %v; want neither", r)
	}
	if _, err := os.Stat(junk); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("junk of the interrupted phase survived: %v", err)
	}
	if !sameFiles(outputFiles(t, out), ref) || third.Duplicates != first.Duplicates {
		t.Fatal("the run after an interruption wrote a different output")
	}

	// Append an exact copy of the first document: a new entry, one more
	// duplicate, the old entry pruned.
	a := filepath.Join(c.dir, "a.jsonl")
	f, err := os.OpenFile(a, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(`{"id":"late","text":` + jsonString(c.files[0].docs[0].Text) + "}\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	fourth := mustRun(t, cfg)
	if r := resumed(fourth); r["ids"] || r["hash"] || fourth.CacheDir == first.CacheDir || fourth.Duplicates != first.Duplicates+1 {
		t.Fatalf("after appending a copy: resumed %v, cache %s (was %s), %d duplicates (were %d)", r, fourth.CacheDir, first.CacheDir, fourth.Duplicates, first.Duplicates)
	}
	entries, _ := filepath.Glob(filepath.Join(filepath.Dir(fourth.CacheDir), "ex-*"))
	if !slices.Equal(entries, []string{fourth.CacheDir}) {
		t.Fatalf("cache entries %v, want only %s", entries, fourth.CacheDir)
	}

	// --remove-cache: the entry and the then empty cache directory go.
	cfg.RemoveCache = true
	last := mustRun(t, cfg)
	if !last.CacheRemoved {
		t.Fatal("cache_removed not set")
	}
	if _, err := os.Stat(cfg.CacheDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("cache directory left after --remove-cache: %v", err)
	}
}

func sameFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestExactBadInputs mirrors fuzzy dedup's bad-input rules: under fail the
// run stops naming file:line and the field; under skip bad records are
// quarantined, counted, never hashed and kept in the output (so a bad copy
// of a text is not removed); an id field that --removed-ids-out needs is
// checked per record; empty files are counted; a truncated .gz is an error
// naming the file.
func TestExactBadInputs(t *testing.T) {
	good := `{"id":"g1","text":"same text"}` + "\n" + `{"id":"g2","text":"other"}` + "\n"
	t.Run("fail-names-file-line-field", func(t *testing.T) {
		in := filepath.Join(t.TempDir(), "in")
		bad := filepath.Join(in, "b.jsonl")
		writeFile(t, filepath.Join(in, "a.jsonl"), []byte(good))
		writeFile(t, bad, []byte(good+"\n"+`{"id":"x","text":17}`+"\n"))
		_, err := runWorkflow(t, config(in, filepath.Join(t.TempDir(), "out")), nil)
		if err == nil || !strings.Contains(err.Error(), bad+":4:") || !strings.Contains(err.Error(), `"text"`) || !strings.Contains(err.Error(), "--on-bad-record skip") {
			t.Fatalf("want an error naming %s:4 and the text field, got %v", bad, err)
		}
	})
	t.Run("skip-quarantines-and-keeps", func(t *testing.T) {
		in := filepath.Join(t.TempDir(), "in")
		writeFile(t, filepath.Join(in, "a.jsonl"), []byte(good))
		badLines := []string{`{"id":"b1","text":"same text"`, `{"id":"b2","text":null}`, `{"text":"same text"}`}
		writeFile(t, filepath.Join(in, "b.jsonl"), []byte(good+strings.Join(badLines, "\n")+"\n"))
		writeFile(t, filepath.Join(in, "c.jsonl"), nil)
		out := filepath.Join(t.TempDir(), "out")
		cfg := config(in, out)
		cfg.OnBadRecord = "skip"
		cfg.RemovedIDsOut = filepath.Join(out, "removed.txt")
		sum := mustRun(t, cfg)
		// b.jsonl repeats both good texts: 2 duplicates; 3 bad records
		// (malformed, null text, no id with --removed-ids-out).
		if sum.Records != 7 || sum.Documents != 4 || sum.BadRecords != 3 || sum.Duplicates != 2 || sum.RecordsWritten != 5 || sum.EmptyFiles != 1 {
			t.Fatalf("summary %+v", sum)
		}
		b, err := os.ReadFile(filepath.Join(out, "deduplicated", "b.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != strings.Join(badLines, "\n")+"\n" {
			t.Fatalf("b.jsonl output:\n%s\nwant only its bad lines", b)
		}
		q, err := os.ReadFile(filepath.Join(out, "quarantine.jsonl"))
		if err != nil || strings.Count(string(q), "\n") != 3 || !strings.Contains(string(q), `"field":"id"`) {
			t.Fatalf("quarantine (%v):\n%s", err, q)
		}
		ids, err := os.ReadFile(cfg.RemovedIDsOut)
		if err != nil || string(ids) != "g1\ng2\n" {
			t.Fatalf("removed ids %q (%v)", ids, err)
		}
	})
	t.Run("truncated-gzip", func(t *testing.T) {
		in := filepath.Join(t.TempDir(), "in")
		var big strings.Builder
		for range 200 {
			big.WriteString(good)
		}
		gz := compress(t, "b.jsonl.gz", []byte(big.String()))
		bad := filepath.Join(in, "b.jsonl.gz")
		writeFile(t, bad, gz[:len(gz)*2/3])
		_, err := runWorkflow(t, config(in, filepath.Join(t.TempDir(), "out")), nil)
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "unexpected EOF") {
			t.Fatalf("truncated .gz: %v", err)
		}
	})
}

// TestExactOutputRules: the workflow refuses an input inside its output
// and a rerun into a finished output without Overwrite, resumes an
// interrupted run without it, and fails (no summary.json) when the files
// on disk hold fewer records than the removal reported.
func TestExactOutputRules(t *testing.T) {
	c := genCorpus(t, 5, 40)
	out := filepath.Join(t.TempDir(), "out")
	cfg := config(c.dir, out)
	mustRun(t, cfg)
	in := cfg
	in.Inputs = []string{filepath.Join(out, "deduplicated")}
	if _, err := runWorkflow(t, in, nil); !errors.Is(err, dataio.ErrOutputRejected) || !strings.Contains(err.Error(), "lies inside --output") {
		t.Fatalf("input inside the output: %v", err)
	}
	if _, err := runWorkflow(t, cfg, nil); !errors.Is(err, dataio.ErrOutputRejected) || !strings.Contains(err.Error(), "summary.json") {
		t.Fatalf("rerun into a finished output: %v", err)
	}
	if err := os.Remove(filepath.Join(out, "summary.json")); err != nil {
		t.Fatal(err)
	}
	if sum := mustRun(t, cfg); !sum.Phases[0].Resumed {
		t.Fatal("the rerun of an interrupted run did not resume")
	}

	reg := stage.NewRegistry()
	base := stage.NewRegistry()
	if err := exact.Register(base); err != nil {
		t.Fatal(err)
	}
	for _, typ := range base.Types() {
		if typ.Name == "exact_remove" {
			orig := typ.New
			typ.New = func(config []byte) (stage.Stage, error) {
				s, err := orig(config)
				if err != nil {
					return nil, err
				}
				return &truncating{Stage: s}, nil
			}
		}
		if err := reg.Register(typ); err != nil {
			t.Fatal(err)
		}
	}
	lossyOut := filepath.Join(t.TempDir(), "out")
	_, err := runWorkflow(t, config(c.dir, lossyOut), reg)
	if err == nil || !strings.Contains(err.Error(), "record accounting: removal reported") {
		t.Fatalf("lost writes: want a record accounting error, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(lossyOut, "summary.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed run wrote summary.json: %v", err)
	}
}

// truncating wraps the removal stage: after it writes a JSONL file, the
// file is cut to its first line, while the stage still reports every
// record kept.
type truncating struct{ stage.Stage }

// CloneStage gives each actor its own removal stage.
func (l *truncating) CloneStage() stage.Stage { return &truncating{Stage: stage.NewInstance(l.Stage)} }

func (l *truncating) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	out, err := l.Stage.ProcessBatch(ctx, ts)
	for _, t := range out {
		for _, p := range t.(*task.FileGroup).Paths {
			if !strings.HasSuffix(p, ".jsonl") {
				continue
			}
			b, rerr := os.ReadFile(p)
			if rerr != nil {
				return nil, rerr
			}
			if i := strings.IndexByte(string(b), '\n'); i >= 0 {
				if werr := os.WriteFile(p, b[:i+1], 0o644); werr != nil {
					return nil, werr
				}
			}
		}
	}
	return out, err
}
