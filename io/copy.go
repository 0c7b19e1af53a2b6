package dataio

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// CopyStats reports what a filtered copy did.
type CopyStats struct {
	// Kept and Dropped count records written and left out.
	Kept, Dropped int64
	// BlankLines counts blank JSONL lines, which are not copied.
	BlankLines int64
}

// CopyFiltered copies src to dst leaving out the records for which drop
// returns true, dispatching on src's format (see FormatOf). drop receives
// 0-based record indexes within src, the values of RowColumn.
func CopyFiltered(ctx context.Context, src, dst string, drop func(row int64) bool) (CopyStats, error) {
	return copyFiltered(ctx, createWriter, src, dst, drop)
}

func copyFiltered(ctx context.Context, create createFunc, src, dst string, drop func(row int64) bool) (CopyStats, error) {
	if FormatOf(src) == Parquet {
		return copyParquetFiltered(ctx, create, src, dst, drop, ParquetWriterOptions{})
	}
	return copyJSONLFiltered(ctx, create, src, dst, drop)
}

// CopyJSONLFiltered copies the (possibly compressed) JSONL file src to dst,
// compressed according to dst's extension, leaving out the records for which
// drop returns true. Records are numbered as by JSONLReader: blank lines take
// no index and are not copied. Kept lines are copied byte for byte, valid or
// not, each followed by "\n". The copy streams: memory use does not depend on
// the file or line sizes. dst appears only if the copy succeeds.
func CopyJSONLFiltered(ctx context.Context, src, dst string, drop func(row int64) bool) (CopyStats, error) {
	return copyJSONLFiltered(ctx, createWriter, src, dst, drop)
}

func copyJSONLFiltered(ctx context.Context, create createFunc, src, dst string, drop func(row int64) bool) (CopyStats, error) {
	var st CopyStats
	in, err := openDecompressed(src)
	if err != nil {
		return st, err
	}
	defer in.Close()
	size := in.size
	out, err := createCompressedSized(ctx, create, dst, size)
	if err != nil {
		return st, err
	}
	var br *bufio.Reader
	if n := readBufferSize(size, CompressionOf(src)); n <= pooledReadBuffer {
		br = getBufio(in) // many small files allocate no buffer each
		defer putBufio(br)
	} else {
		br = bufio.NewReaderSize(in, n)
	}
	var (
		row     int64
		pending []byte // whitespace seen at the start of the current line
		decided bool   // the current line is known not to be blank
		keep    bool
		inLine  bool
		lines   int64
	)
	for {
		piece, err := br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull && err != io.EOF {
			out.abort()
			return st, fmt.Errorf("dataio: read %s (after line %d): %w", src, lines, hideEOF(err))
		}
		if len(piece) > 0 {
			inLine = true
		}
		ended := len(piece) > 0 && piece[len(piece)-1] == '\n'
		content := piece
		if ended {
			content = piece[:len(piece)-1]
		}
		if !decided {
			if isBlank(content) {
				pending = append(pending, content...)
			} else {
				decided = true
				keep = !drop(row)
				row++
				if keep {
					st.Kept++
					if _, werr := out.bw.Write(pending); werr != nil {
						out.abort()
						return st, fmt.Errorf("dataio: write %s: %w", dst, werr)
					}
				} else {
					st.Dropped++
				}
			}
		}
		if decided && keep {
			if _, werr := out.bw.Write(content); werr != nil {
				out.abort()
				return st, fmt.Errorf("dataio: write %s: %w", dst, werr)
			}
		}
		if ended || (err == io.EOF && inLine) {
			lines++
			if !decided {
				st.BlankLines++
			} else if keep {
				if werr := out.bw.WriteByte('\n'); werr != nil {
					out.abort()
					return st, fmt.Errorf("dataio: write %s: %w", dst, werr)
				}
			}
			pending, decided, keep, inLine = pending[:0], false, false, false
			if lines&4095 == 0 {
				if cerr := ctx.Err(); cerr != nil {
					out.abort()
					return st, cerr
				}
			}
		}
		if err == io.EOF {
			break
		}
	}
	return st, out.commit()
}

// CopyParquetFiltered copies the Parquet file src to dst with the same schema
// and key/value metadata, leaving out the rows for which drop returns true
// (0-based row indexes within src). It streams one source row group at a
// time, a bounded number of rows at once; each source row group becomes at
// most one output row group (further split at opts.RowGroupRows), and row
// groups left empty are not written. Compression follows opts (zstd by
// default). dst appears only if the copy succeeds.
func CopyParquetFiltered(ctx context.Context, src, dst string, drop func(row int64) bool, opts ParquetWriterOptions) (CopyStats, error) {
	return copyParquetFiltered(ctx, createWriter, src, dst, drop, opts)
}

func copyParquetFiltered(ctx context.Context, create createFunc, src, dst string, drop func(row int64) bool, opts ParquetWriterOptions) (st CopyStats, err error) {
	p, err := openPQ(src)
	if err != nil {
		return st, err
	}
	defer p.close()
	if p.pf == nil {
		return st, fmt.Errorf("dataio: parquet %s: empty file has no schema to copy", src)
	}
	wopts, err := opts.writerOptions()
	if err != nil {
		return st, err
	}
	af, err := create(ctx, dst)
	if err != nil {
		return st, err
	}
	defer func() {
		if r := recover(); r != nil {
			st, err = CopyStats{}, corruptError(src, r)
		}
		if err != nil {
			af.Abort()
		}
	}()
	bw := bufio.NewWriterSize(af, 1<<20)
	w := parquet.NewWriter(bw, append(wopts, copySchema(p.pf))...)
	for _, kv := range p.pf.Metadata().KeyValueMetadata {
		w.SetKeyValueMetadata(kv.Key, kv.Value)
	}
	buf := make([]parquet.Row, 256)
	kept := make([]parquet.Row, 0, len(buf))
	var row, expected int64
	for gi, rg := range p.pf.RowGroups() {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if rg.NumRows() == 0 {
			// Arrow writes the column chunks of an empty row group as a
			// dictionary page only (data_page_offset 0): nothing to read,
			// and parquet-go's row reader cannot seek to such a chunk.
			continue
		}
		rows := rg.Rows()
		inGroup := int64(0)
		for {
			n, rerr := rows.ReadRows(buf)
			kept = kept[:0]
			for _, r := range buf[:n] {
				if drop(row) {
					st.Dropped++
				} else {
					kept = append(kept, r)
					st.Kept++
				}
				row++
			}
			if len(kept) > 0 {
				if _, werr := w.WriteRows(kept); werr != nil {
					rows.Close()
					return st, fmt.Errorf("dataio: write parquet %s: %w", dst, werr)
				}
				inGroup += int64(len(kept))
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				rows.Close()
				return st, fmt.Errorf("dataio: parquet %s: row group %d: %w", src, gi, hideEOF(rerr))
			}
			if n == 0 {
				rows.Close()
				return st, fmt.Errorf("dataio: parquet %s: row group %d: %w", src, gi, io.ErrNoProgress)
			}
		}
		rows.Close()
		expected += rg.NumRows()
		if row != expected {
			return st, fmt.Errorf("dataio: parquet %s: row group %d yielded %d rows, metadata says %d", src, gi, rg.NumRows()-(expected-row), rg.NumRows())
		}
		if inGroup > 0 {
			if err := w.Flush(); err != nil {
				return st, fmt.Errorf("dataio: write parquet %s: %w", dst, err)
			}
		}
	}
	if err := w.Close(); err != nil {
		return st, fmt.Errorf("dataio: finish parquet %s: %w", dst, err)
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("dataio: write parquet %s: %w", dst, err)
	}
	if err := af.Commit(); err != nil {
		return st, err
	}
	return st, nil
}

// copySchema returns the schema a copy of pf is written with: pf's fields,
// in order, under a plain root group. Some writers (Apache Arrow's, by
// default) mark the root repeated; parquet-go's writer would take that
// literally and shift every column's levels, writing every value as null.
func copySchema(pf *parquet.File) *parquet.Schema {
	s := pf.Schema()
	fields := s.Fields()
	g := make(orderedGroup, len(fields))
	for i, f := range fields {
		g[i] = orderedField{Node: f, name: f.Name()}
	}
	return parquet.NewSchema(s.Name(), g)
}
