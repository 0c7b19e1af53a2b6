package dataio

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sluice-data/sluice/task"
)

// benchCorpus returns ~size bytes of JSONL resembling web text: records of
// 200 to 4000 bytes with an id, a text with some escapes and non-ASCII
// characters, and a few metadata fields.
func benchCorpus(size int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the of and to in is that for it as with was on be by this are from or an at which not have " +
		"über café naïve 東京 données résumé \\\"quoted\\\" line\\nbreak tab\\t end")
	var b strings.Builder
	b.Grow(size + 8192)
	for id := 0; b.Len() < size; id++ {
		fmt.Fprintf(&b, `{"id":"doc-%08d","url":"https://example.com/%d","text":"`, id, rng.IntN(1e9))
		n := 200 + rng.IntN(3800)
		for l := 0; l < n; {
			w := words[rng.IntN(len(words))]
			b.WriteString(w)
			b.WriteByte(' ')
			l += len(w) + 1
		}
		fmt.Fprintf(&b, `","lang":"en","score":%.4f}`+"\n", rng.Float64())
	}
	return []byte(b.String())
}

func benchRead(b *testing.B, name string) {
	data := benchCorpus(50 << 20)
	path := writeFile(b, b.TempDir(), name, data)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for range b.N {
		r, err := NewJSONLReader([]string{path}, ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			batch, err := r.Next(context.Background())
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows += batch.NumRows()
		}
		if rows == 0 {
			b.Fatal("no rows")
		}
		r.Close()
	}
}

// BenchmarkJSONLRead reports read throughput in MB/s of uncompressed JSONL.
func BenchmarkJSONLRead(b *testing.B) { benchRead(b, "bench.jsonl") }

// BenchmarkJSONLReadZstd reports throughput in MB/s of uncompressed JSONL
// read from a .zst file.
func BenchmarkJSONLReadZstd(b *testing.B) { benchRead(b, "bench.jsonl.zst") }

// BenchmarkJSONLReadGzip is the same for .gz.
func BenchmarkJSONLReadGzip(b *testing.B) { benchRead(b, "bench.jsonl.gz") }

// BenchmarkCountRecords measures the line counter on plain JSONL.
func BenchmarkCountRecords(b *testing.B) {
	data := benchCorpus(50 << 20)
	path := filepath.Join(b.TempDir(), "c.jsonl")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if _, err := CountRecords(path); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSignatures(n, k int) ([]int64, [][]uint32) {
	rng := rand.New(rand.NewPCG(3, 4))
	ids := make([]int64, n)
	sigs := make([][]uint32, n)
	for i := range ids {
		ids[i] = int64(i)
		sigs[i] = make([]uint32, k)
		for j := range sigs[i] {
			sigs[i][j] = rng.Uint32()
		}
	}
	return ids, sigs
}

// BenchmarkSignatureWrite writes 50k signatures of 260 hashes; MB/s counts
// the 4-byte hash values.
func BenchmarkSignatureWrite(b *testing.B) {
	ids, sigs := benchSignatures(50_000, 260)
	dir := b.TempDir()
	b.SetBytes(int64(len(ids) * 260 * 4))
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for i := range b.N {
		w, err := CreateSignatureFile(filepath.Join(dir, fmt.Sprintf("s%d.parquet", i)), ParquetWriterOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Write(ids, sigs); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignatureRead streams the same file back.
func BenchmarkSignatureRead(b *testing.B) {
	ids, sigs := benchSignatures(50_000, 260)
	path := filepath.Join(b.TempDir(), "s.parquet")
	w, err := CreateSignatureFile(path, ParquetWriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Write(ids, sigs); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(ids) * 260 * 4))
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for range b.N {
		r, err := OpenSignatureFile(path, 8192)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			ids, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += len(ids)
		}
		r.Close()
		if n != len(ids) {
			b.Fatalf("read %d rows", n)
		}
	}
}

// benchParquet writes ~50 MB of the bench corpus as Parquet (columns id, url,
// text, lang, score), returning its path and text bytes.
func benchParquet(b *testing.B) (string, int64) {
	data := benchCorpus(50 << 20)
	src := writeFile(b, b.TempDir(), "c.jsonl", data)
	r, err := NewJSONLReader([]string{src}, ReadOptions{OmitRaw: true})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	path := filepath.Join(b.TempDir(), "c.parquet")
	w, err := CreateParquet(path, ParquetWriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var textBytes int64
	for {
		batch, err := r.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		n := batch.NumRows()
		urls := make([]string, n)
		scores := make([]float64, n)
		for i, t := range batch.Texts() {
			textBytes += int64(len(t))
			urls[i] = fmt.Sprintf("https://example.com/%d", i)
			scores[i] = float64(i) / 7
		}
		batch.SetColumn(&task.Column{Name: "url", Type: task.String, Strings: urls})
		batch.SetColumn(&task.Column{Name: "score", Type: task.Float64, Floats: scores})
		if err := w.Write(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return path, textBytes
}

func benchParquetRead(b *testing.B, columns []string) {
	path, textBytes := benchParquet(b)
	b.SetBytes(textBytes)
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for range b.N {
		r, err := NewParquetReader([]string{path}, ReadOptions{IDField: "-", Columns: columns})
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			batch, err := r.Next(context.Background())
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows += batch.NumRows()
		}
		if rows == 0 {
			b.Fatal("no rows")
		}
		r.Close()
	}
}

// BenchmarkParquetReadText reads only the text column, as the MinHash phase
// does; MB/s counts text bytes.
func BenchmarkParquetReadText(b *testing.B) { benchParquetRead(b, []string{}) }

// BenchmarkParquetReadAll reads every column (id, url, text, score), as a
// pipeline's reader does.
func BenchmarkParquetReadAll(b *testing.B) { benchParquetRead(b, nil) }

// cpuTime returns the process's user plus system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// reportCPU reports CPU nanoseconds per op since start: on a shared, busy
// machine it varies less than wall time.
func reportCPU(b *testing.B, start int64) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}
