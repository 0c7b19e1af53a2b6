package dataio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-data/sluice/internal/s3test"
)

// BenchmarkS3Throughput writes a 64 MiB object through the S3 backend
// (multipart, 8 MiB parts) and reads it back (one streaming GET with
// read-ahead, and 8 ranged reads of 8 MiB through Open), against the real
// versitygw on 127.0.0.1, with local-disk writes and reads of the same
// bytes as the baseline. MB/s is in the benchmark's own throughput column.
//
//	go test -run '^$' -bench S3Throughput -benchtime 5x -count 3 ./io/
func BenchmarkS3Throughput(b *testing.B) {
	srv := s3test.Shared(b)
	SetS3Options(S3Options{Endpoint: srv.Endpoint, Region: "us-east-1", Credentials: s3test.Credentials()})
	b.Cleanup(func() { SetS3Options(S3Options{}) })
	bucket := srv.Bucket(b)
	data := benchCorpus(64 << 20)
	local := filepath.Join(b.TempDir(), "obj.jsonl")
	ctx := context.Background()
	for _, c := range []struct{ name, path string }{{"local", local}, {"s3", "s3://" + bucket + "/bench/obj.jsonl"}} {
		b.Run("put/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				w, err := Create(ctx, c.path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
				if err := w.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("get/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				r, err := OpenStream(ctx, c.path, 0, -1)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, r)
				r.Close()
				if err != nil || n != int64(len(data)) {
					b.Fatalf("read %d bytes: %v", n, err)
				}
			}
		})
		b.Run("ranged/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			buf := make([]byte, 8<<20)
			for b.Loop() {
				f, err := Open(ctx, c.path)
				if err != nil {
					b.Fatal(err)
				}
				for off := int64(0); off < f.Size(); off += int64(len(buf)) {
					if _, err := f.ReadAt(buf[:min(int64(len(buf)), f.Size()-off)], off); err != nil {
						b.Fatal(fmt.Errorf("at %d: %w", off, err))
					}
				}
				f.Close()
			}
		})
	}
	os.Remove(local)
}
