package dataio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is the stream compression of a JSONL file.
type Compression uint8

// Stream compressions, chosen by file extension (see CompressionOf).
const (
	NoCompression Compression = iota
	Gzip
	Zstd
)

// String returns "none", "gzip" or "zstd".
func (c Compression) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "none"
}

// CompressionOf returns the compression implied by path's extension:
// ".gz" is gzip, ".zst" and ".zstd" are zstd, anything else is uncompressed.
// The check is case-insensitive.
func CompressionOf(path string) Compression {
	lower := strings.ToLower(path)
	switch {
	case strings.HasSuffix(lower, ".gz"):
		return Gzip
	case strings.HasSuffix(lower, ".zst"), strings.HasSuffix(lower, ".zstd"):
		return Zstd
	}
	return NoCompression
}

// Format is a file format understood by this package.
type Format uint8

// File formats, chosen by extension (see FormatOf).
const (
	JSONL Format = iota + 1
	Parquet
)

// String returns "jsonl" or "parquet".
func (f Format) String() string {
	switch f {
	case JSONL:
		return "jsonl"
	case Parquet:
		return "parquet"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// FormatOf returns Parquet for paths ending in ".parquet" (case-insensitive)
// and JSONL for everything else; a JSONL file may carry a compression
// extension after its own (".jsonl.gz").
func FormatOf(path string) Format {
	if strings.HasSuffix(strings.ToLower(path), ".parquet") {
		return Parquet
	}
	return JSONL
}

// decompressed is an open JSONL input: the file (or object stream) and,
// when compressed, the decoder reading from it. Read returns decompressed
// bytes.
type decompressed struct {
	file io.ReadCloser
	size int64 // bytes of file, -1 when unknown
	gz   *gzip.Reader
	zs   *zstd.Decoder
	r    io.Reader
}

// openDecompressed opens path and wraps it in the decoder its extension asks
// for. A zero-length compressed file is not an error: it reads as empty.
func openDecompressed(path string) (*decompressed, error) {
	return openDecompressedRange(path, 0, -1)
}

// sized is a stream that knows its length.
type sized interface{ Size() int64 }

// openDecompressedRange is openDecompressed reading length bytes from off
// (to the end when length < 0); a range is read as it is, without a
// decoder. Local files are plain os files; objects stream with read-ahead.
func openDecompressedRange(path string, off, length int64) (*decompressed, error) {
	var f io.ReadCloser
	size := int64(-1)
	if !IsURL(path) {
		sf, err := openSeq(LocalPath(path))
		if err != nil {
			return nil, fmt.Errorf("dataio: open %s: %w", path, err)
		}
		f = sf
		if off != 0 || length >= 0 {
			f = sectionCloser{io.NewSectionReader(sf, off, length), sf}
			size = length
		} else if n, err := sf.Size(); err == nil {
			size = n
		}
	} else {
		s, err := OpenStream(context.Background(), path, off, length)
		if err != nil {
			return nil, fmt.Errorf("dataio: open %s: %w", path, err)
		}
		f = s
		if sz, ok := s.(sized); ok {
			size = sz.Size()
		}
	}
	d := &decompressed{file: f, size: size, r: f}
	if off != 0 || length >= 0 {
		return d, nil
	}
	switch CompressionOf(path) {
	case Gzip:
		br := bufio.NewReaderSize(f, 256<<10)
		if _, err := br.Peek(1); err == io.EOF {
			d.r = br // empty file: nothing to decode
			return d, nil
		}
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("dataio: open gzip stream %s: %w", path, hideEOF(err))
		}
		d.gz, d.r = gz, gz
	case Zstd:
		zs, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(false))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("dataio: open zstd stream %s: %w", path, hideEOF(err))
		}
		d.zs, d.r = zs, zs
	}
	return d, nil
}

// Read implements io.Reader. A stream that ends early is reported as
// io.ErrUnexpectedEOF so that callers never mistake it for a clean end.
func (d *decompressed) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF && errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (d *decompressed) Close() error {
	if d.gz != nil {
		d.gz.Close()
	}
	if d.zs != nil {
		d.zs.Close()
	}
	return d.file.Close()
}

// compressedWriter is a buffered, possibly compressing writer over an
// atomicFile.
type compressedWriter struct {
	af  Writer
	bw  *bufio.Writer // buffers in front of the encoder (or the file)
	enc io.WriteCloser
	fbw *bufio.Writer // buffers between the encoder and the file
}

// Buffer sizes of readers and writers of whole files.
const (
	minFileBuffer = 4 << 10
	maxReadBuffer = 1 << 20
)

// readBufferSize is the buffer size for reading a file of size bytes on
// disk (-1: unknown) compressed as c: the whole content if that is smaller
// than maxReadBuffer, so that each of many small files does not cost a
// large allocation. A compressed file is taken to expand about fourfold.
func readBufferSize(size int64, c Compression) int {
	if size < 0 {
		return maxReadBuffer
	}
	if c != NoCompression {
		size = min(size, maxReadBuffer) * 4
	}
	return int(min(max(size+1, minFileBuffer), maxReadBuffer))
}

func createCompressed(ctx context.Context, path string) (*compressedWriter, error) {
	return createCompressedSized(ctx, createWriter, path, -1)
}

// createFunc creates the Writer of a file: createWriter, or a WriteBatch's.
type createFunc func(ctx context.Context, path string) (Writer, error)

// createCompressedSized is createCompressed for about size bytes of content
// (-1: unknown), which bounds its buffers, through create.
func createCompressedSized(ctx context.Context, create createFunc, path string, size int64) (*compressedWriter, error) {
	const maxWriteBuffer = 256 << 10
	bufSize := maxWriteBuffer
	if size >= 0 {
		bufSize = int(min(max(size+1, minFileBuffer), maxWriteBuffer))
	}
	af, err := create(ctx, path)
	if err != nil {
		return nil, err
	}
	w := &compressedWriter{af: af}
	switch CompressionOf(path) {
	case Gzip:
		w.fbw = bufio.NewWriterSize(af, bufSize)
		w.enc = gzip.NewWriter(w.fbw)
	case Zstd:
		w.fbw = bufio.NewWriterSize(af, bufSize)
		enc, err := zstd.NewWriter(w.fbw, zstd.WithEncoderConcurrency(1))
		if err != nil {
			af.Abort()
			return nil, fmt.Errorf("dataio: zstd encoder for %s: %w", path, err)
		}
		w.enc = enc
	}
	if w.enc != nil {
		w.bw = bufio.NewWriterSize(w.enc, bufSize)
	} else {
		w.bw = bufio.NewWriterSize(af, bufSize)
	}
	return w, nil
}

// commit flushes every layer and renames the file into place.
func (w *compressedWriter) commit() error {
	final := w.af.Name()
	if err := w.bw.Flush(); err != nil {
		w.abort()
		return fmt.Errorf("dataio: write %s: %w", final, err)
	}
	if w.enc != nil {
		if err := w.enc.Close(); err != nil {
			w.af.Abort()
			return fmt.Errorf("dataio: finish compressed stream %s: %w", final, err)
		}
		w.enc = nil
		if err := w.fbw.Flush(); err != nil {
			w.af.Abort()
			return fmt.Errorf("dataio: write %s: %w", final, err)
		}
	}
	return w.af.Commit()
}

// abort discards the output.
func (w *compressedWriter) abort() {
	if w.enc != nil {
		w.enc.Close() // releases encoder resources; output is discarded
		w.enc = nil
	}
	w.af.Abort()
}
