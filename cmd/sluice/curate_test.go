package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCurateExample runs examples/curate.yaml (read → fix text → language
// → Gopher rules → exact dedup → fuzzy dedup → write) on the shipped sample
// data, from a copy whose output paths point into a temporary directory,
// and checks that every record is accounted for: read = kept + dropped per
// filter + duplicates per step, and that the kept records are on disk.
func TestCurateExample(t *testing.T) {
	src, err := os.ReadFile("../../examples/curate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	abs := func(p string) string {
		a, err := filepath.Abs(filepath.Join("../../examples", p))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	dir := t.TempDir()
	yml := strings.NewReplacer(
		"[fuzzy/data, ../testdata/filter/langid.jsonl]", "["+abs("fuzzy/data")+", "+abs("../testdata/filter/langid.jsonl")+"]",
		"out/curate/", dir+"/",
	).Replace(string(src))
	if strings.Contains(yml, "out/curate") || !strings.Contains(yml, dir) {
		t.Fatalf("the example's paths changed; update this test:\n%s", yml)
	}
	p := filepath.Join(dir, "curate.yaml")
	if err := os.WriteFile(p, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	sumPath := filepath.Join(dir, "summary.json")
	r := sluice("--log-level", "warn", "run", p, "--summary-json", sumPath)
	if r.code != 0 {
		t.Fatal(r)
	}
	b, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Records struct {
			Read, Kept, Failed int64
			Complete           bool
			Removed            []struct {
				Stage, Kind string
				Documents   int64
			}
		}
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	rec := s.Records
	removed := map[string]int64{}
	sum := rec.Kept + rec.Failed
	for _, x := range rec.Removed {
		removed[x.Stage] = x.Documents
		sum += x.Documents
	}
	// The sample: 2,080 synthetic documents with injected near-duplicates,
	// plus 16 short texts in 16 languages (one of them English).
	if !rec.Complete || rec.Read != 2080+16 || sum != rec.Read || rec.Failed != 0 {
		t.Fatalf("records do not balance: %+v", rec)
	}
	for _, st := range []string{"language", "gopher", "exact", "fuzzy"} {
		if removed[st] <= 0 {
			t.Errorf("stage %s removed %d documents, want some: %+v", st, removed[st], rec)
		}
	}
	if got := countLines(t, jsonlFiles(t, filepath.Join(dir, "kept"))...); int64(got) != rec.Kept {
		t.Errorf("kept files hold %d records, summary says %d", got, rec.Kept)
	}
}
