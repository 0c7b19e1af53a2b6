package exact_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/dedup/normalize"
	dataio "github.com/sluice-data/sluice/io"
)

// TestExactEndToEnd: on a corpus with injected byte-identical copies and
// near-misses (a changed case, a trailing space, a trailing newline) over
// plain, gzip and zstd JSONL and Parquet files, exact dedup removes exactly
// the later copies of each text — the injected ones and the generator's
// exact copies — and nothing else; every kept JSONL line is byte-identical
// to its input line and every Parquet row equal; the removed-ids list, the
// duplicates files, the counts and the largest groups agree.
func TestExactEndToEnd(t *testing.T) {
	c := genCorpus(t, 1, 150)
	want := c.expectedRemoved(func(s string) string { return s })
	for id := range c.injected {
		if !want[id] {
			t.Fatalf("oracle keeps the injected copy %s", id)
		}
	}
	if len(c.injected) < 10 || len(want) <= len(c.injected) {
		t.Fatalf("corpus too weak: %d injected, %d to remove", len(c.injected), len(want))
	}
	out := filepath.Join(t.TempDir(), "out")
	cfg := config(c.dir, out)
	cfg.RemovedIDsOut = filepath.Join(out, "removed.jsonl")
	sum := mustRun(t, cfg)

	if got := readRemovedIDs(t, cfg.RemovedIDsOut); !sameSet(got, want) {
		t.Fatalf("removed %d ids, want %d:\n extra %v\n missing %v", len(got), len(want), minus(got, want), minus(want, got))
	}
	checkKept(t, c, out, want)
	n := int64(c.numDocs())
	if sum.Records != n || sum.Documents != n || sum.Duplicates != int64(len(want)) || sum.Kept != n-int64(len(want)) ||
		sum.RecordsWritten != sum.Kept || sum.BadRecords != 0 {
		t.Fatalf("summary %+v; want %d records, %d duplicates", sum, n, len(want))
	}
	ids, err := dataio.ReadAllIDs(filepath.Join(out, "duplicates", "part.0.parquet"), dataio.DedupIDColumn)
	if err != nil {
		t.Fatal(err)
	}
	ids1, err := dataio.ReadAllIDs(filepath.Join(out, "duplicates", "part.1.parquet"), dataio.DedupIDColumn)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids)+len(ids1) != len(want) {
		t.Fatalf("duplicates files hold %d ids, want %d", len(ids)+len(ids1), len(want))
	}

	// The largest group: its kept member is the first of its text, named by
	// original id, file and record.
	if len(sum.LargestGroups) == 0 || len(sum.LargestGroups[0].Members) < 2 {
		t.Fatalf("largest groups %+v", sum.LargestGroups)
	}
	g := sum.LargestGroups[0]
	var first struct{ text, id string }
	var size int64
	for _, f := range c.files {
		for _, d := range f.docs {
			if string(g.Members[0].OriginalID) == `"`+d.ID+`"` {
				first.text, first.id = d.Text, d.ID
			}
		}
	}
	for _, f := range c.files {
		for _, d := range f.docs {
			if d.Text == first.text {
				size++
			}
		}
	}
	if first.id == "" || !g.Members[0].Kept || g.Members[1].Kept || want[first.id] || size != g.Size {
		t.Fatalf("largest group %+v: first member %q, %d documents hold its text", g, first.id, size)
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"duplicate_groups"`, `"sluice_version"`, `"started_at"`, `"original_id"`, `"removed_ids_out"`, `"text_field": "text"`, `"normalize": false`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("summary.json lacks %s", key)
		}
	}
}

// TestExactNormalize: with Normalize, texts that differ only in case,
// punctuation and white space are duplicates too — the oracle applies the
// same normalisation — and the cache entry differs from a raw run's.
func TestExactNormalize(t *testing.T) {
	c := genCorpus(t, 2, 80)
	raw := c.expectedRemoved(func(s string) string { return s })
	want := c.expectedRemoved(func(s string) string { return string(normalize.Append(nil, s)) })
	if len(want) <= len(raw) {
		t.Fatalf("normalisation finds no more duplicates (%d against %d)", len(want), len(raw))
	}
	out := filepath.Join(t.TempDir(), "out")
	cfg := config(c.dir, out)
	cfg.Normalize = true
	cfg.RemovedIDsOut = filepath.Join(out, "removed.jsonl")
	cfg.Cache = filepath.Join(t.TempDir(), "cache")
	sum := mustRun(t, cfg)
	if got := readRemovedIDs(t, cfg.RemovedIDsOut); !sameSet(got, want) {
		t.Fatalf("normalize: removed %d, want %d: extra %v missing %v", len(got), len(want), minus(got, want), minus(want, got))
	}
	checkKept(t, c, out, want)

	rawCfg := config(c.dir, filepath.Join(t.TempDir(), "out"))
	rawCfg.Cache = cfg.Cache
	rs := mustRun(t, rawCfg)
	if rs.CacheDir == sum.CacheDir || rs.Duplicates != int64(len(raw)) {
		t.Fatalf("raw run: cache %s (normalized %s), %d duplicates, want %d", rs.CacheDir, sum.CacheDir, rs.Duplicates, len(raw))
	}
}

// TestExactSectionsAndSpill: files cut into sections (SplitBytes) and a
// shuffle that spills to disk (a tiny MemoryLimit), over two workers, give
// the same removals as the default run.
func TestExactSectionsAndSpill(t *testing.T) {
	c := genCorpus(t, 3, 200)
	// One large uncompressed file to cut into sections.
	var b []byte
	var docs []doc
	for _, f := range c.files {
		for _, d := range f.docs {
			line, _ := json.Marshal(map[string]string{"id": d.ID, "text": d.Text})
			b = append(append(b, line...), '\n')
			docs = append(docs, doc{ID: d.ID, Text: d.Text, Line: string(line)})
		}
	}
	in := filepath.Join(t.TempDir(), "in")
	writeFile(t, filepath.Join(in, "all.jsonl"), b)
	one := corpus{dir: in, files: []inputFile{{rel: "all.jsonl", docs: docs}}}
	want := one.expectedRemoved(func(s string) string { return s })

	out := filepath.Join(t.TempDir(), "out")
	cfg := config(in, out)
	cfg.SplitBytes = int64(len(b) / 5)
	cfg.MemoryLimit = 4 << 10
	cfg.RemovedIDsOut = filepath.Join(out, "removed.jsonl")
	sum := mustRun(t, cfg)
	if got := readRemovedIDs(t, cfg.RemovedIDsOut); !sameSet(got, want) {
		t.Fatalf("sections: removed %d, want %d", len(got), len(want))
	}
	checkKept(t, one, out, want)
	if st := sum.Phases[1].Stages; len(st) != 1 || st[0].TasksIn < 5 {
		t.Fatalf("hash phase %+v: want at least 5 section tasks", sum.Phases[1])
	}
}

func minus(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] && len(out) < 5 {
			out = append(out, k)
		}
	}
	return out
}
