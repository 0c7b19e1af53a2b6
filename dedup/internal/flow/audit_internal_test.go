package flow

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func TestSizeBins(t *testing.T) {
	prevHi := int64(1)
	for k := range 20 {
		lo, hi := sizeBinBounds(k)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bin %d = [%d, %d] after a bin ending at %d", k, lo, hi, prevHi)
		}
		for _, n := range []int64{lo, hi, (lo + hi) / 2} {
			if sizeBin(n) != k {
				t.Fatalf("sizeBin(%d) = %d, want %d", n, sizeBin(n), k)
			}
		}
		prevHi = hi
	}
	var h, h2 SizeHistogram
	for _, n := range []int64{2, 2, 3, 7, 1000} {
		h.Add(n)
	}
	h2.Add(2)
	bins, err := AddSizeHistogram(nil, h.Encode())
	if err != nil {
		t.Fatal(err)
	}
	bins, _ = AddSizeHistogram(bins, h2.Encode())
	var groups, docs int64
	for _, b := range bins {
		groups += b.Groups
		docs += b.Documents
	}
	if groups != 6 || docs != 1016 || bins[0].Groups != 3 || bins[len(bins)-1].Groups != 1 || bins[len(bins)-1].Max < 1000 {
		t.Fatalf("histogram %+v", bins)
	}
}

func TestTextStartAndSources(t *testing.T) {
	if got := TextStart("  a\n\n b\tc  ", 10); got != "a b c" {
		t.Fatalf("textStart = %q", got)
	}
	if got := TextStart("héllo wörld", 5); got != "héllo…" {
		t.Fatalf("textStart = %q", got)
	}
	mk := func(names ...string) []FileRange {
		var fs []FileRange
		for i, n := range names {
			fs = append(fs, FileRange{Path: "/in/" + n, Base: int64(10 * i), Count: 10})
		}
		return fs
	}
	files := mk("a.jsonl", "b/c.jsonl")
	if s := sourceStats(files, []int64{3, 4}, "/in"); len(s) != 2 || s[0].Name != "a.jsonl" || s[1].Name != "b/c.jsonl" || s[1].Kept != 6 {
		t.Fatalf("per file: %+v", s)
	}
	var names []string
	for i := range 60 {
		names = append(names, fmt.Sprintf("src%d/part-%02d.jsonl", i%3, i))
	}
	removed := make([]int64, 60)
	for i := range removed {
		removed[i] = int64(i % 5)
	}
	s := sourceStats(mk(names...), removed, "/in")
	if len(s) != 3 || s[0].Name != "src0/" || s[0].Files != 20 || s[0].Records != 200 {
		t.Fatalf("per source directory: %+v", s)
	}
	names = names[:0]
	for i := range 70 {
		names = append(names, fmt.Sprintf("part-%02d.jsonl", i))
	}
	s = sourceStats(mk(names...), make([]int64, 70), "/in")
	var total int64
	for _, x := range s {
		total += x.Records
	}
	if len(s) != maxSourcesListed || s[len(s)-1].Name != "(other files)" || s[len(s)-1].Files != 21 || total != 700 {
		t.Fatalf("capped: %d entries, last %+v, %d records", len(s), s[len(s)-1], total)
	}
}

func TestParquetHasIDColumn(t *testing.T) {
	dir := t.TempDir()
	type row struct {
		S  string  `parquet:"s"`
		I  int64   `parquet:"i"`
		I3 int32   `parquet:"i3"`
		U  uint64  `parquet:"u"`
		F  float64 `parquet:"f"`
		L  []int64 `parquet:"l,list"`
		O  *string `parquet:"o,optional"`
	}
	path := filepath.Join(dir, "x.parquet")
	f, _ := os.Create(path)
	w := parquet.NewGenericWriter[row](f)
	w.Write([]row{{S: "a"}})
	w.Close()
	f.Close()
	for col, want := range map[string]bool{"s": true, "i": true, "i3": true, "o": true, "u": false, "f": false, "l": false, "missing": false} {
		if got := ParquetHasIDColumn(path, col); got != want {
			t.Errorf("ParquetHasIDColumn(%s) = %v, want %v", col, got, want)
		}
	}
	if ParquetHasIDColumn(filepath.Join(dir, "x.jsonl"), "s") {
		t.Error("a JSONL path has a Parquet id column")
	}
}
