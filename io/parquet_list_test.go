package dataio

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/task"
)

// listVariants are list<uint32> layouts other writers produce.
type dictListRow struct {
	Text string   `parquet:"text"`
	Sig  []uint32 `parquet:"sig,list,dict"`
}

type optListRow struct {
	Text string   `parquet:"text"`
	Sig  []uint32 `parquet:"sig,list,optional"`
}

func writeRows[T any](t *testing.T, path string, rows []T, opts ...parquet.WriterOption) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func testLists(n int) [][]uint32 {
	out := make([][]uint32, n)
	for i := range out {
		if i%7 == 3 {
			continue // empty list
		}
		l := make([]uint32, 1+i%40)
		for k := range l {
			l[k] = uint32(i*31+k) % 13 // few distinct values: dictionary friendly
		}
		if i%5 == 0 {
			l[0] = 1<<32 - 1
		}
		out[i] = l
	}
	return out
}

func readSig(t *testing.T, path string) [][]uint32 {
	t.Helper()
	r, err := NewParquetReader([]string{path}, ReadOptions{BatchRows: 333})
	if err != nil {
		t.Fatal(err)
	}
	return col(t, mustReadAll(t, r, 333), "sig").U32s
}

func TestParquetListLayouts(t *testing.T) {
	dir := t.TempDir()
	lists := testLists(3000)

	dict := make([]dictListRow, len(lists))
	opt := make([]optListRow, len(lists))
	for i, l := range lists {
		dict[i] = dictListRow{Text: "t", Sig: l}
		opt[i] = optListRow{Text: "t", Sig: l}
	}
	for name, write := range map[string]func(string){
		"dict.parquet": func(p string) { writeRows(t, p, dict) },
		// Small pages, both data page versions: rows spread over many pages.
		"v1pages.parquet":  func(p string) { writeRows(t, p, dict, parquet.PageBufferSize(512), parquet.DataPageVersion(1)) },
		"v2pages.parquet":  func(p string) { writeRows(t, p, opt, parquet.PageBufferSize(512), parquet.DataPageVersion(2)) },
		"optional.parquet": func(p string) { writeRows(t, p, opt) },
	} {
		p := filepath.Join(dir, name)
		write(p)
		got := readSig(t, p)
		if !slices.EqualFunc(got, lists, func(a, b []uint32) bool { return slices.Equal(a, b) }) {
			t.Errorf("%s: lists differ after reading", name)
		}
	}
	// Make sure the layouts are what the test means them to be.
	if !strings.Contains(fmt.Sprint(openParquetMeta(t, filepath.Join(dir, "dict.parquet")).Metadata().RowGroups[0].Columns[1].MetaData.Encoding), "DICT") {
		t.Error("dict.parquet has no dictionary-encoded list column")
	}
	for _, name := range []string{"v1pages.parquet", "v2pages.parquet"} {
		pages := openParquetMeta(t, filepath.Join(dir, name)).RowGroups()[0].ColumnChunks()[1].Pages()
		n := 0
		for {
			_, err := pages.ReadPage()
			if err != nil {
				break
			}
			n++
		}
		pages.Close()
		if n < 10 {
			t.Errorf("%s: list column has %d pages, want many", name, n)
		}
	}
}

func TestParquetListNullElement(t *testing.T) {
	schema := parquet.NewSchema("m", parquet.Group{
		"sig":  parquet.List(parquet.Optional(parquet.Uint(32))),
		"text": parquet.String(),
	})
	p := filepath.Join(t.TempDir(), "nullelem.parquet")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewWriter(f, schema)
	rows := []parquet.Row{
		{parquet.Int32Value(1).Level(0, 2, 0), parquet.Int32Value(2).Level(1, 2, 0), parquet.ByteArrayValue([]byte("a")).Level(0, 0, 1)},
		{parquet.Int32Value(1).Level(0, 2, 0), parquet.NullValue().Level(1, 1, 0), parquet.ByteArrayValue([]byte("b")).Level(0, 0, 1)},
	}
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, err := NewParquetReader([]string{p}, ReadOptions{OnBadRecord: Skip})
	if err != nil {
		t.Fatal(err)
	}
	// A list whose elements may be null is not a Uint32List: it is read
	// as an Opaque column, null elements kept.
	b, err := readAll(t, r, DefaultBatchRows)
	if err != nil {
		t.Fatal(err)
	}
	if c := col(t, b, "sig"); c.Type != task.Opaque || c.Len() != 2 || c.HasNulls() {
		t.Fatalf("sig: %+v", c)
	}
	// Without the list column the file reads fine.
	r, err = NewParquetReader([]string{p}, ReadOptions{Columns: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := r.Next(context.Background()); err != nil || !slices.Equal(b.Texts(), []string{"a", "b"}) {
		t.Fatalf("got %v, %v", b, err)
	}
}
