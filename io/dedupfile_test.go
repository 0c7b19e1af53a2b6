package dataio

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/task"
)

func TestSignatureFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sig.parquet")
	w, err := CreateSignatureFile(path, ParquetWriterOptions{RowGroupRows: 40})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	var sigs [][]uint32
	for chunk := range 5 {
		var ci []int64
		var cs [][]uint32
		for i := range 21 {
			id := int64(chunk*1000 + i)
			sig := make([]uint32, 16)
			for k := range sig {
				sig[k] = uint32(id)*2654435761 + uint32(k)
			}
			ci, cs = append(ci, id), append(cs, sig)
		}
		if err := w.Write(ci, cs); err != nil {
			t.Fatal(err)
		}
		ids, sigs = append(ids, ci...), append(sigs, cs...)
	}
	if err := w.Write([]int64{1}, nil); err == nil {
		t.Fatal("mismatched lengths accepted")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after failed Write succeeded")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("file created despite failed write")
	}

	w, err = CreateSignatureFile(path, ParquetWriterOptions{RowGroupRows: 40})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ids, sigs); err != nil {
		t.Fatal(err)
	}
	if w.Rows() != 105 {
		t.Fatalf("rows %d", w.Rows())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// Whole row groups: 40, 40, 25.
	r, err := OpenSignatureFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.NumRows() != 105 {
		t.Fatalf("NumRows %d", r.NumRows())
	}
	var sizes []int
	var gotIDs []int64
	var gotSigs [][]uint32
	for {
		i, s, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(i))
		gotIDs, gotSigs = append(gotIDs, i...), append(gotSigs, s...)
	}
	r.Close()
	if !slices.Equal(sizes, []int{40, 40, 25}) {
		t.Fatalf("chunk sizes %v, want whole row groups", sizes)
	}
	if !slices.Equal(gotIDs, ids) || !slices.EqualFunc(gotSigs, sigs, slices.Equal) {
		t.Fatal("signatures differ after round trip")
	}
	// Bounded chunks never span row groups.
	r, err = OpenSignatureFile(path, 15)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sizes = nil
	for {
		i, _, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(i))
	}
	if !slices.Equal(sizes, []int{15, 15, 10, 15, 15, 10, 15, 10}) {
		t.Fatalf("chunk sizes %v", sizes)
	}
}

func TestGroupAndIDListFiles(t *testing.T) {
	dir := t.TempDir()
	gp := filepath.Join(dir, "groups.parquet")
	gw, err := CreateGroupFile(gp, ParquetWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Write([]int64{5, 6, 7}, []int64{1, 1, 5}); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	gr, err := OpenGroupFile(gp, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids, groups, err := gr.Next()
	if err != nil || !slices.Equal(ids, []int64{5, 6, 7}) || !slices.Equal(groups, []int64{1, 1, 5}) {
		t.Fatalf("got %v %v %v", ids, groups, err)
	}
	if _, _, err := gr.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	gr.Close()

	ip := filepath.Join(dir, "remove.parquet")
	iw, err := CreateIDListFile(ip, "", ParquetWriterOptions{RowGroupRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range [][]int64{{9, 3}, {}, {7}} {
		if err := iw.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := iw.Close(); err != nil {
		t.Fatal(err)
	}
	all, err := ReadAllIDs(ip, "")
	if err != nil || !slices.Equal(all, []int64{9, 3, 7}) {
		t.Fatalf("ids %v, %v", all, err)
	}
	// An empty id list is a valid file.
	ep := filepath.Join(dir, "empty.parquet")
	ew, err := CreateIDListFile(ep, "doc_id", ParquetWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if all, err := ReadAllIDs(ep, "doc_id"); err != nil || len(all) != 0 {
		t.Fatalf("empty list: %v, %v", all, err)
	}

	// Wrong files are explicit errors.
	if _, err := OpenSignatureFile(gp, 0); err == nil || !strings.Contains(err.Error(), SignatureColumn) {
		t.Fatalf("group file opened as signatures: %v", err)
	}
	if _, err := OpenIDListFile(gp, GroupColumn+"x", 0); err == nil {
		t.Fatal("missing column accepted")
	}
	sp := filepath.Join(dir, "sig.parquet")
	sw, err := CreateSignatureFile(sp, ParquetWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Write([]int64{1}, [][]uint32{{1}}); err != nil {
		t.Fatal(err)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenIDListFile(sp, SignatureColumn, 0); err == nil || !strings.Contains(err.Error(), "want int64") {
		t.Fatalf("list column read as ids: %v", err)
	}
	sw2, err := CreateSignatureFile(filepath.Join(dir, "aborted.parquet"), ParquetWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sw2.Abort()
	if _, err := os.Stat(filepath.Join(dir, "aborted.parquet")); !os.IsNotExist(err) {
		t.Fatal("aborted file exists")
	}
}

func TestTypedReaderRejectsNulls(t *testing.T) {
	// A file whose id column has a null: written as an optional column by
	// parquet-go's struct writer.
	type row struct {
		ID *int64 `parquet:"_sluice_dedup_id,optional"`
	}
	p := filepath.Join(t.TempDir(), "nulls.parquet")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	one := int64(1)
	w := parquetGenericWriter[row](f)
	if _, err := w.Write([]row{{&one}, {nil}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = ReadAllIDs(p, "")
	if err == nil || !strings.Contains(err.Error(), "row 1") || !strings.Contains(err.Error(), "null") {
		t.Fatalf("got %v", err)
	}
	if errors.Is(err, io.EOF) {
		t.Fatal("error mistaken for EOF")
	}

}

// TestSignatureLayoutMatchesParquetWriter checks that signature files and
// batches written by ParquetWriter use the same Parquet layout, so either
// can be read where the other is expected.
func TestSignatureLayoutMatchesParquetWriter(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.parquet")
	sw, err := CreateSignatureFile(a, ParquetWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Write([]int64{1, 2}, [][]uint32{{7, 8}, nil}); err != nil {
		t.Fatal(err)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "b.parquet")
	pw, err := CreateParquet(b, ParquetWriterOptions{IncludeInternal: true})
	if err != nil {
		t.Fatal(err)
	}
	batch := &task.DocumentBatch{Columns: []*task.Column{
		{Name: DedupIDColumn, Type: task.Int64, Ints: []int64{1, 2}},
		{Name: SignatureColumn, Type: task.Uint32List, U32s: [][]uint32{{7, 8}, nil}},
	}}
	if err := pw.Write(batch); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	// The same layout, except that ParquetWriter's columns may be null.
	body := func(p string) string {
		s := openParquetMeta(t, p).Schema().String()
		return s[strings.Index(s, "{"):]
	}
	if body(a) != strings.ReplaceAll(body(b), "optional ", "required ") {
		t.Fatalf("layouts differ:\n%s\n%s", body(a), body(b))
	}
	r, err := OpenSignatureFile(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ids, sigs, err := r.Next()
	if err != nil || !slices.Equal(ids, []int64{1, 2}) || !slices.Equal(sigs[0], []uint32{7, 8}) || sigs[1] != nil {
		t.Fatalf("got %v %v %v", ids, sigs, err)
	}
}
