package dataio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/internal/s3test"
	"github.com/sluice-data/sluice/task"
)

func TestMain(m *testing.M) {
	// The S3 tests' HTTP client keeps idle connections to the test server.
	goleak.VerifyTestMain(s3test.M{M: m},
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// compressBytes encodes data as c would on disk.
func compressBytes(t testing.TB, c Compression, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch c {
	case NoCompression:
		return bytes.Clone(data)
	case Gzip:
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case Zstd:
		w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// writeFile writes data to dir/name, compressed according to name.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, compressBytes(t, CompressionOf(name), data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readDecompressed returns the decompressed contents of path.
func readDecompressed(t testing.TB, path string) []byte {
	t.Helper()
	d, err := openDecompressed(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll reads every batch from r, checks each is valid and at most
// maxRows long, and returns them concatenated (nil when there are none).
func readAll(t testing.TB, r BatchReader, maxRows int) (*task.DocumentBatch, error) {
	t.Helper()
	var bs []*task.DocumentBatch
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := b.Validate(); err != nil {
			t.Fatalf("invalid batch: %v", err)
		}
		if b.NumRows() == 0 || b.NumRows() > maxRows {
			t.Fatalf("batch has %d rows, want 1..%d", b.NumRows(), maxRows)
		}
		bs = append(bs, b)
	}
	if len(bs) == 0 {
		return nil, nil
	}
	all, err := task.ConcatBatches(bs)
	if err != nil {
		t.Fatal(err)
	}
	return all, nil
}

func mustReadAll(t testing.TB, r BatchReader, maxRows int) *task.DocumentBatch {
	t.Helper()
	b, err := readAll(t, r, maxRows)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func col(t testing.TB, b *task.DocumentBatch, name string) *task.Column {
	t.Helper()
	c := b.Column(name)
	if c == nil {
		t.Fatalf("batch has no column %q (has %v)", name, b.ColumnNames())
	}
	return c
}

// dirEntries lists the names in dir.
func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func parquetGenericWriter[T any](w io.Writer) *parquet.GenericWriter[T] {
	return parquet.NewGenericWriter[T](w)
}
