package dataio

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/task"
)

func TestFilePartitioning(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := []string{
		mk("b/2.jsonl", 400),
		mk("a.jsonl.gz", 100),
		mk("b/1.JSONL.ZST", 300),
		mk("c/d/e.parquet", 1500),
		mk("z.jsonl", 50),
	}
	mk("notes.txt", 10)
	mk(".hidden.jsonl", 10)
	mk("_SUCCESS", 0)
	mk("b/.out.jsonl.tmp-123", 10)
	mk("_tmp/x.jsonl", 10)
	if err := os.Symlink(files[4], filepath.Join(dir, "link.jsonl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "dangling.jsonl")); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "extra.data")
	if err := os.WriteFile(outside, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	p := FilePartitioning{Paths: []string{dir, outside, files[1]}}
	listed, err := p.ListFiles()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{files[1], files[2], files[0], files[3], filepath.Join(dir, "link.jsonl"), files[4]}
	want = append(want, outside)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("listed\n%v\nwant\n%v", listed, want)
	}

	// Sorted order: a.jsonl.gz(100) b/1(300) b/2(400) c/d/e(1500) link(50) z(50) extra(1)
	p = FilePartitioning{Paths: []string{dir}, FilesPerPartition: 4}
	groups, err := p.Groups()
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || len(groups[0]) != 4 || len(groups[1]) != 2 {
		t.Fatalf("groups %v", groups)
	}
	p = FilePartitioning{Paths: []string{dir}, BlockSize: 800}
	groups, err = p.Groups()
	if err != nil {
		t.Fatal(err)
	}
	wantSizes := [][]string{{files[1], files[2], files[0]}, {files[3]}, {filepath.Join(dir, "link.jsonl"), files[4]}}
	if !slices.EqualFunc(groups, wantSizes, slices.Equal) {
		t.Fatalf("block groups\n%v\nwant\n%v", groups, wantSizes)
	}
	again, _ := p.Groups()
	if !slices.EqualFunc(groups, again, slices.Equal) {
		t.Fatal("grouping is not deterministic")
	}
	p = FilePartitioning{Paths: []string{dir}, Extensions: []string{".parquet"}}
	groups, err = p.Groups()
	if err != nil || len(groups) != 1 || groups[0][0] != files[3] {
		t.Fatalf("parquet only: %v %v", groups, err)
	}
	fgs, err := FilePartitioning{Paths: []string{dir}, FilesPerPartition: 3}.FileGroups("ds")
	if err != nil {
		t.Fatal(err)
	}
	if len(fgs) != 2 || fgs[0].DatasetName != "ds" || fgs[0].TaskID != task.NewFileGroup("ds", fgs[0].Paths).ContentID() || fgs[0].TaskID == fgs[1].TaskID {
		t.Fatalf("file groups %+v", fgs)
	}

	for _, bad := range []FilePartitioning{
		{Paths: []string{dir}, FilesPerPartition: 2, BlockSize: 10},
		{Paths: []string{dir}, FilesPerPartition: -1},
		{Paths: []string{filepath.Join(dir, "missing")}},
	} {
		if _, err := bad.Groups(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	good := map[string]int64{
		"0": 0, "4096": 4096, "1B": 1, "1b": 1, "1KB": 1000, "1kib": 1024, "2 MiB": 2 << 20,
		"1MB": 1e6, "1GiB": 1 << 30, "1gb": 1e9, "1TB": 1e12, "1TiB": 1 << 40, "1.5KiB": 1536,
		" 3 gib ": 3 << 30, "0.5MB": 500000,
	}
	for in, want := range good {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1GiB", "1 GiBs", "1.2.3MB", "1.", ".5KB", "0.5B", "1K", "10000000PiB", "1e3", "abc"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		} else if !strings.Contains(err.Error(), in) && in != "" {
			t.Errorf("error for %q does not quote the input: %v", in, err)
		}
	}
}

// TestFilePartitioningExclude: directories named in Exclude (a job's output
// inside its input, given as a relative or an absolute path) are not walked.
func TestFilePartitioningExclude(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.jsonl", "out/deduplicated/a.jsonl", "out/duplicates/part.0.parquet", "sub/b.jsonl", "cache/x.parquet"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	relOut, err := filepath.Rel(wd, filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	fp := FilePartitioning{Paths: []string{dir}, Exclude: []string{relOut, filepath.Join(dir, "cache"), filepath.Join(dir, "missing"), ""}}
	got, err := fp.ListFiles()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "sub/b.jsonl")}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	fp.Exclude = nil
	if all, _ := fp.ListFiles(); len(all) != 5 {
		t.Fatalf("without Exclude: %d files, want 5", len(all))
	}
	// An empty entry excludes nothing, not the current directory.
	t.Chdir(dir)
	fp = FilePartitioning{Paths: []string{"."}, Exclude: []string{""}}
	if all, err := fp.ListFiles(); err != nil || len(all) != 5 {
		t.Fatalf("Exclude [\"\"] from the current directory: %v, %v; want 5 files", all, err)
	}
}

// TestFilePartitioningList: .json files are JSON Lines in every default
// set, and List names every file a walk left out with its reason.
func TestFilePartitioningList(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.jsonl", "b.json", "c.json.gz", "d.parquet", "notes.txt", ".hidden.jsonl", "_SUCCESS", "_tmp/x.jsonl", "out/y.jsonl"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := FilePartitioning{Paths: []string{dir}, Exclude: []string{filepath.Join(dir, "out")}}.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range l.Files {
		got = append(got, filepath.Base(f))
	}
	if want := []string{"a.jsonl", "b.json", "c.json.gz", "d.parquet"}; !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	reasons := map[string]string{}
	for _, s := range l.Skipped {
		rel, _ := filepath.Rel(dir, s.Path)
		reasons[rel] = s.Reason
	}
	for name, want := range map[string]string{"notes.txt": "does not end in .jsonl", ".hidden.jsonl": "hidden", "_SUCCESS": "hidden", "_tmp": "directory", "out": "output"} {
		if !strings.Contains(reasons[name], want) {
			t.Errorf("skipped %s: reason %q, want it to mention %q (all: %v)", name, reasons[name], want, reasons)
		}
	}
	if len(reasons) != 5 {
		t.Errorf("skipped %v, want 5 entries", reasons)
	}
	for _, e := range JSONLExtensions() {
		if !slices.Contains(DefaultExtensions(), e) || FormatOf("x"+e) != JSONL {
			t.Errorf("JSONL extension %s: not a default, or not read as JSONL", e)
		}
	}
}
