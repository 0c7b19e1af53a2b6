package fuzzy_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/dedup/ledger"
)

type pqIntDoc struct {
	ID   int64  `parquet:"id"`
	Text string `parquet:"text"`
}

type pqNoIDDoc struct {
	Text string `parquet:"text"`
}

func writeParquetRows[T any](t *testing.T, path string, rows []T) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, parquet.MaxRowsPerRowGroup(30))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestLedgerParquetIDs runs the workflow on Parquet inputs whose ids are
// strings, integers, or missing (no id column), with duplicates across
// them, and checks every ledger row's ids against the inputs: the id store
// the MinHash phase keeps names each document by its own id, or by none.
func TestLedgerParquetIDs(t *testing.T) {
	docs := smallDocs(21, 90)
	in := filepath.Join(t.TempDir(), "in")
	ids := map[string][]*string{} // file → the id text of each row
	var strRows []pqDoc
	var intRows []pqIntDoc
	var noRows []pqNoIDDoc
	for i, d := range docs {
		switch i % 3 {
		case 0:
			strRows = append(strRows, pqDoc{ID: d.ID, Text: d.Text})
			id := d.ID
			ids["a.parquet"] = append(ids["a.parquet"], &id)
		case 1:
			intRows = append(intRows, pqIntDoc{ID: int64(5000 + i), Text: d.Text})
			id := strconv.Itoa(5000 + i)
			ids["b.parquet"] = append(ids["b.parquet"], &id)
		default:
			noRows = append(noRows, pqNoIDDoc{Text: d.Text})
			ids["c.parquet"] = append(ids["c.parquet"], nil)
		}
	}
	writeParquetRows(t, filepath.Join(in, "a.parquet"), strRows)
	writeParquetRows(t, filepath.Join(in, "b.parquet"), intRows)
	writeParquetRows(t, filepath.Join(in, "c.parquet"), noRows)
	out := filepath.Join(t.TempDir(), "out")
	sum := mustRun(t, quickConfig(in, out))
	parts, err := ledger.Parts(out)
	if err != nil {
		t.Fatal(err)
	}
	var rows []ledger.Row
	if err := ledger.Scan(context.Background(), parts, func(rs []ledger.Row) error { rows = append(rows, rs...); return nil }); err != nil {
		t.Fatal(err)
	}
	if int64(len(rows)) != sum.Duplicates || sum.Duplicates == 0 {
		t.Fatalf("%d ledger rows for %d duplicates", len(rows), sum.Duplicates)
	}
	files := map[string]int{}
	for _, r := range rows {
		for _, c := range []struct {
			got    *string
			file   string
			record int64
		}{{r.OriginalID, r.File, r.Record}, {r.KeptOriginalID, r.KeptFile, r.KeptRecord}} {
			want := ids[filepath.Base(c.file)][c.record-1]
			if (c.got == nil) != (want == nil) || c.got != nil && *c.got != *want {
				t.Fatalf("ledger names %s:%d %q, the input holds %q", c.file, c.record, ledger.Str(c.got), ledger.Str(want))
			}
			files[filepath.Base(c.file)]++
		}
	}
	if len(files) != 3 {
		t.Fatalf("the ledger names documents of %v only; want all three files", files)
	}
	if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
		t.Fatal(err)
	}
}
