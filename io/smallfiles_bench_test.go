package dataio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

// smallFiles writes n JSONL files of three records (about 8 KiB each, the
// shape of a corpus kept as one small file per few documents).
func smallFiles(b *testing.B, n int) []string {
	data := benchCorpus(8 << 20)
	dir := b.TempDir()
	paths := make([]string, n)
	for i := range paths {
		var lines []byte
		for range 3 {
			end := 0
			for data[end] != '\n' {
				end++
			}
			lines, data = append(lines, data[:end+1]...), data[end+1:]
		}
		paths[i] = writeFile(b, dir, fmt.Sprintf("part-%05d.jsonl", i), lines)
	}
	return paths
}

// BenchmarkCountSmallFiles measures the per-file cost of CountRecords on
// small files (one op is one file).
func BenchmarkCountSmallFiles(b *testing.B) {
	paths := smallFiles(b, 1000)
	ctx := context.Background()
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for i := range b.N {
		if n, err := CountRecordsContext(ctx, paths[i%len(paths)]); err != nil || n != 3 {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkReadSmallFiles measures the per-file cost of reading small
// files record by record, one reader per file (one op is one file).
func BenchmarkReadSmallFiles(b *testing.B) {
	paths := smallFiles(b, 1000)
	ctx := context.Background()
	opts := ReadOptions{IDField: "-", OmitRaw: true}
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for i := range b.N {
		r, err := NewReader([]string{paths[i%len(paths)]}, opts)
		if err != nil {
			b.Fatal(err)
		}
		jr := r.(*JSONLReader)
		n := 0
		for {
			_, err := jr.NextRecord(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 3 {
			b.Fatal(n)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
