package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	dataio "github.com/sluice-data/sluice/io"
)

func sp(s string) *string { return &s }

func smallRowGroups(t *testing.T) {
	old := rowsPerGroup
	rowsPerGroup = 500
	t.Cleanup(func() { rowsPerGroup = old })
}

func testRows(n int, keptEvery int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		g := int64(i / keptEvery * keptEvery)
		rows[i] = Row{OriginalID: sp(fmt.Sprintf("doc-%d", i+1000)), KeptOriginalID: sp(fmt.Sprintf("doc-%d", g)),
			GroupID: g, GroupSize: int64(keptEvery), Similarity: 0.9, SimilarityMethod: SimilarityEstimated,
			Dedup: DedupFuzzy, ParamsHash: "sha256:0123", DedupID: int64(i + 1000), KeptDedupID: g,
			File: "a.jsonl", Record: int64(i + 1), KeptFile: "b.jsonl", KeptRecord: g + 1}
	}
	return rows
}

func writePart(t *testing.T, path string, rows []Row) {
	t.Helper()
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTripAndFind(t *testing.T) {
	smallRowGroups(t)
	dir := t.TempDir()
	rows := testRows(int(3*rowsPerGroup/2), 4) // two row groups in the first part
	rows[7].OriginalID = nil                   // a record without an id
	writePart(t, filepath.Join(dir, Dir, PartName(10)), rows[:len(rows)-3])
	writePart(t, filepath.Join(dir, Dir, PartName(2)), rows[len(rows)-3:])
	os.WriteFile(filepath.Join(dir, Dir, "notes.parquet"), []byte("a user's file"), 0o644)
	parts, err := Parts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || filepath.Base(parts[0]) != "part.2.parquet" || filepath.Base(parts[1]) != "part.10.parquet" {
		t.Fatalf("parts = %v, want part.2 before part.10", parts)
	}
	if n, err := Count(parts); err != nil || n != int64(len(rows)) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(rows))
	}
	var got []Row
	if err := Scan(context.Background(), parts, func(rs []Row) error { got = append(got, rs...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("scanned %d rows, want %d", len(got), len(rows))
	}
	// Part 2 comes first; rows kept from earlier batches must not change.
	want := append(append([]Row(nil), rows[len(rows)-3:]...), rows[:len(rows)-3]...)
	for i := range got {
		if Str(got[i].OriginalID) != Str(want[i].OriginalID) || (got[i].OriginalID == nil) != (want[i].OriginalID == nil) ||
			got[i].DedupID != want[i].DedupID || Str(got[i].KeptOriginalID) != Str(want[i].KeptOriginalID) ||
			got[i].File != want[i].File || got[i].Similarity != want[i].Similarity {
			t.Fatalf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	l, err := Find(context.Background(), parts, "doc-1005")
	if err != nil {
		t.Fatal(err)
	}
	if l.Removed == nil || l.Removed.DedupID != 1005 || Str(l.Removed.KeptOriginalID) != "doc-4" {
		t.Fatalf("Find(doc-1005).Removed = %+v", l.Removed)
	}
	l, err = Find(context.Background(), parts, "doc-8")
	if err != nil {
		t.Fatal(err)
	}
	if l.Removed != nil || l.KeptCount != 4 || len(l.KeptFor) != 4 {
		t.Fatalf("Find(doc-8) = removed %v, kept for %d rows (%d listed); want kept for 4", l.Removed, l.KeptCount, len(l.KeptFor))
	}
	if l, _ = Find(context.Background(), parts, "nope"); l.Removed != nil || l.KeptCount != 0 {
		t.Fatalf("Find(nope) = %+v", l)
	}
}

// TestBloomFilterSkipsRowGroups checks that the bloom filters written for
// the id columns rule out row groups that do not hold an id.
func TestBloomFilterSkipsRowGroups(t *testing.T) {
	smallRowGroups(t)
	path := filepath.Join(t.TempDir(), PartName(0))
	writePart(t, path, testRows(int(2*rowsPerGroup), 2))
	p, err := openPart(path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.f.Close()
	rgs := p.pf.RowGroups()
	if len(rgs) != 2 {
		t.Fatalf("%d row groups, want 2", len(rgs))
	}
	ci, _ := p.pf.Schema().Lookup("original_id")
	bf := rgs[1].ColumnChunks()[ci.ColumnIndex].BloomFilter()
	if bf == nil {
		t.Fatal("no bloom filter on original_id")
	}
	in, _ := bf.Check(parquet.ValueOf(fmt.Sprintf("doc-%d", 1000+rowsPerGroup+5)))
	out, _ := bf.Check(parquet.ValueOf("doc-1005")) // in the first row group
	if !in || out {
		t.Fatalf("bloom filter of row group 1: present id %v, absent id %v; want true, false", in, out)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Parts(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Parts of a directory without a ledger: %v, want ErrNotExist", err)
	}
	// A Parquet file that is not a ledger.
	other := filepath.Join(dir, "x", PartName(0))
	os.MkdirAll(filepath.Dir(other), 0o755)
	f, _ := os.Create(other)
	w := parquet.NewGenericWriter[struct {
		ID int64 `parquet:"id"`
	}](f)
	w.Write([]struct {
		ID int64 `parquet:"id"`
	}{{1}})
	w.Close()
	f.Close()
	if err := Scan(context.Background(), []string{other}, func([]Row) error { return nil }); err == nil {
		t.Fatal("Scan of a foreign Parquet file succeeded")
	}
	garbage := filepath.Join(dir, "garbage.parquet")
	os.WriteFile(garbage, []byte("not parquet at all"), 0o644)
	if _, err := Count([]string{garbage}); err == nil {
		t.Fatal("Count of a corrupt file succeeded")
	}
	// Abort leaves nothing behind; a failed Close leaves no file.
	path := filepath.Join(dir, "l", PartName(1))
	lw, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	lw.Write(testRows(3, 1)...)
	lw.Abort()
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 0 {
		t.Fatalf("after Abort the directory holds %v", ents)
	}
	if runtime.GOOS != "windows" && os.Getuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.MkdirAll(ro, 0o555)
		if _, err := Create(filepath.Join(ro, PartName(0))); err == nil {
			t.Fatal("Create in a read-only directory succeeded")
		}
	}
}

// brokenDisk fails every write to the file under it, as a full or lost
// disk does.
type brokenDisk struct{ dataio.Writer }

func (brokenDisk) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestCloseFailure injects a write failure (every write to the file fails
// from some point on) and checks that Close reports it and leaves no ledger
// part, not even its temporary file.
func TestCloseFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), PartName(0))
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(testRows(10, 2)...)
	w.f = brokenDisk{w.f} // the disk goes away
	w.bw.Reset(w.f)
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Close after a write failure: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed Close left %s: %v", path, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 0 {
		t.Fatalf("a failed Close left %v", ents)
	}
}

func TestIDTextAndParamsHash(t *testing.T) {
	for raw, want := range map[string]string{`"doc-1"`: "doc-1", `17`: "17", `"a\"b"`: `a"b`, `{"x":1}`: `{"x":1}`} {
		if got := IDText(raw); got == nil || *got != want {
			t.Errorf("IDText(%s) = %v, want %q", raw, got, want)
		}
	}
	for _, raw := range []string{"", "null"} {
		if got := IDText(raw); got != nil {
			t.Errorf("IDText(%q) = %q, want nil", raw, *got)
		}
	}
	type p struct{ A, B int }
	if a, b := ParamsHash(p{1, 2}), ParamsHash(p{1, 2}); a != b || a == ParamsHash(p{1, 3}) || !strings.HasPrefix(a, "sha256:") {
		t.Fatal("ParamsHash does not tell parameters apart, or is not deterministic")
	}
}

// TestCreateOutput writes a part through an output directory's records:
// the part is Sluice's there (a later run in overwrite mode removes it),
// and a file the user put at the part's path is refused, untouched.
func TestCreateOutput(t *testing.T) {
	dir := t.TempDir()
	if _, err := dataio.PrepareOutput(dir, dataio.PrepareOptions{Name: "out", Mode: dataio.OutputError}); err != nil {
		t.Fatal(err)
	}
	out, err := dataio.OpenOutput(dir, dataio.OutputError)
	if err != nil {
		t.Fatal(err)
	}
	w, err := CreateOutput(out, 3)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(testRows(5, 2)...)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	parts, err := Parts(dir)
	if err != nil || len(parts) != 1 || filepath.Base(parts[0]) != "part.3.parquet" {
		t.Fatalf("parts %v, %v", parts, err)
	}
	mine := filepath.Join(dir, Dir, PartName(4))
	os.WriteFile(mine, []byte("mine"), 0o644)
	if _, err := CreateOutput(out, 4); err == nil {
		t.Fatal("CreateOutput over a file Sluice did not write succeeded")
	}
	if b, _ := os.ReadFile(mine); string(b) != "mine" {
		t.Fatal("the user's file was changed")
	}
	// Overwrite mode removes the part Sluice wrote and keeps the user's file.
	if _, err := dataio.PrepareOutput(dir, dataio.PrepareOptions{Name: "out", Mode: dataio.OutputOverwrite}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(parts[0]); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("overwrite kept the ledger part Sluice wrote: %v", err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Fatalf("overwrite removed the user's file: %v", err)
	}
}
