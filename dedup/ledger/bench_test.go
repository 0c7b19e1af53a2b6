package ledger

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkWriteScan writes and scans a ledger part of 100k rows.
func BenchmarkWriteScan(b *testing.B) {
	rows := testRows(100_000, 3)
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		path := filepath.Join(dir, PartName(i))
		w, err := Create(path)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(rows...)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := Scan(context.Background(), []string{path}, func(rs []Row) error { n += len(rs); return nil }); err != nil || n != len(rows) {
			b.Fatal(err, n)
		}
	}
}
