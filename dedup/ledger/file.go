package ledger

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	dataio "github.com/sluice-data/sluice/io"
)

// rowsPerGroup bounds a row group: explain reads whole row groups whose
// bloom filters may hold the id it looks for. (A variable for tests.)
var rowsPerGroup int64 = 1 << 16

// Writer writes one ledger part atomically: under a hidden temporary name
// in the same directory, renamed into place by Close. Write it at the path
// a dataio.Output's Begin returns, then Commit that path, so the output's
// records know the file is Sluice's (docs/safety.md).
type Writer struct {
	path string
	f    dataio.Writer // atomic: a temporary file renamed by Commit, or an upload
	bw   *bufio.Writer
	w    *parquet.GenericWriter[Row]
	buf  []Row
	n    int64
	err  error
	out  *dataio.Output // set by CreateOutput: Close commits there
}

// Create starts a ledger part at path, a local path (its directory is
// created) or an object-store URL.
func Create(path string) (*Writer, error) {
	f, err := dataio.Create(context.Background(), path)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := parquet.NewGenericWriter[Row](bw, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(rowsPerGroup),
		parquet.BloomFilters(parquet.SplitBlockFilter(10, "original_id"), parquet.SplitBlockFilter(10, "kept_original_id")),
		parquet.CreatedBy("sluice", "ledger", "1"))
	return &Writer{path: path, f: f, bw: bw, w: w}, nil
}

// CreateOutput starts ledger part n in a prepared output directory
// (OUTPUT/ledger/part.N.parquet) through the output's records of written
// files (docs/safety.md): it refuses a file Sluice did not write there, and
// Close commits the file with its row count. For a workflow writing its
// ledger straight into the output (dedup/fuzzy writes it in the cache and
// copies it).
func CreateOutput(out *dataio.Output, n int) (*Writer, error) {
	path, err := out.Begin(Dir + "/" + PartName(n))
	if err != nil {
		return nil, err
	}
	w, err := Create(path)
	if err != nil {
		return nil, err
	}
	w.out = out
	return w, nil
}

// Write appends rows.
func (w *Writer) Write(rows ...Row) error {
	if w.err != nil {
		return w.err
	}
	w.buf = append(w.buf, rows...)
	w.n += int64(len(rows))
	if len(w.buf) >= 8192 {
		return w.flush()
	}
	return nil
}

func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := w.w.Write(w.buf); err != nil {
		w.fail(fmt.Errorf("ledger %s: %w", w.path, err))
		return w.err
	}
	w.buf = w.buf[:0]
	return nil
}

// Rows is the number of rows written so far.
func (w *Writer) Rows() int64 { return w.n }

// Close finishes the file and renames it into place.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	err := w.flush()
	if err == nil {
		if err = w.w.Close(); err == nil {
			err = w.bw.Flush()
		}
	}
	if err == nil {
		err = w.f.Commit()
	}
	if err != nil {
		w.f.Abort()
		w.err = fmt.Errorf("ledger %s: %w", w.path, err)
		return w.err
	}
	w.err = fmt.Errorf("ledger %s: writer is closed", w.path)
	if w.out != nil {
		return w.out.Commit(w.path, w.n)
	}
	return nil
}

// Abort discards the file.
func (w *Writer) Abort() {
	if w.err == nil {
		w.err = fmt.Errorf("ledger %s: writer is aborted", w.path)
	}
	w.f.Abort()
}

func (w *Writer) fail(err error) {
	w.err = err
	w.f.Abort()
}

// part is an open ledger part.
type part struct {
	path string
	f    dataio.File
	pf   *parquet.File
}

func openPart(path string) (*part, error) {
	f, err := dataio.Open(context.Background(), path)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	pf, err := parquet.OpenFile(f, f.Size(), parquet.SkipPageIndex(true))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ledger %s: not a readable Parquet file: %w", path, err)
	}
	for _, c := range Columns {
		if _, ok := pf.Schema().Lookup(c); !ok {
			f.Close()
			return nil, fmt.Errorf("ledger %s: no column %q: not a Sluice removal ledger", path, c)
		}
	}
	return &part{path: path, f: f, pf: pf}, nil
}

// scan calls fn with the rows of each row group that keep accepts (nil:
// every row group), in file order, a batch at a time.
func (p *part) scan(ctx context.Context, keep func(parquet.RowGroup) (bool, error), fn func([]Row) error) error {
	buf := make([]Row, 1024)
	for _, rg := range p.pf.RowGroups() {
		if keep != nil {
			ok, err := keep(rg)
			if err != nil {
				return fmt.Errorf("ledger %s: %w", p.path, err)
			}
			if !ok {
				continue
			}
		}
		r := parquet.NewGenericRowGroupReader[Row](rg)
		for {
			if err := ctx.Err(); err != nil {
				r.Close()
				return err
			}
			clear(buf) // fresh strings: fn may keep the rows it is given
			n, err := r.Read(buf)
			if n > 0 {
				if ferr := fn(buf[:n]); ferr != nil {
					r.Close()
					return ferr
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return fmt.Errorf("ledger %s: %w", p.path, err)
			}
		}
		r.Close()
	}
	return nil
}

// Scan calls fn with every row of the ledger parts (see Parts), a batch at
// a time, part by part. fn may keep rows, not the slice.
func Scan(ctx context.Context, parts []string, fn func([]Row) error) error {
	for _, path := range parts {
		p, err := openPart(path)
		if err != nil {
			return err
		}
		err = p.scan(ctx, nil, fn)
		p.f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Count returns the number of rows of the ledger parts, from their footers.
func Count(parts []string) (int64, error) {
	var n int64
	for _, path := range parts {
		p, err := openPart(path)
		if err != nil {
			return 0, err
		}
		n += p.pf.NumRows()
		p.f.Close()
	}
	return n, nil
}

// Lookup is what a ledger says about an original id.
type Lookup struct {
	// Removed is the row of the document with this id, when it was removed.
	Removed *Row
	// KeptFor holds up to maxKeptRows rows of documents removed in favour
	// of a document with this id; KeptCount counts them all.
	KeptFor   []Row
	KeptCount int64
}

const maxKeptRows = 5

// Find looks id up in the ledger parts: the row of the removed document
// with this original id, and the rows that name it as the kept document.
// Row groups whose bloom filters rule the id out are not read.
func Find(ctx context.Context, parts []string, id string) (*Lookup, error) {
	out := &Lookup{}
	val := parquet.ValueOf(id)
	for _, path := range parts {
		p, err := openPart(path)
		if err != nil {
			return nil, err
		}
		ci, _ := p.pf.Schema().Lookup("original_id")
		ki, _ := p.pf.Schema().Lookup("kept_original_id")
		keep := func(rg parquet.RowGroup) (bool, error) {
			for _, c := range []int{ci.ColumnIndex, ki.ColumnIndex} {
				bf := rg.ColumnChunks()[c].BloomFilter()
				if bf == nil {
					return true, nil // no filter: read the row group
				}
				ok, err := bf.Check(val)
				if err != nil || ok {
					return true, err
				}
			}
			return false, nil
		}
		err = p.scan(ctx, keep, func(rows []Row) error {
			for _, r := range rows {
				if r.OriginalID != nil && *r.OriginalID == id && out.Removed == nil {
					out.Removed = &r
				}
				if r.KeptOriginalID != nil && *r.KeptOriginalID == id {
					out.KeptCount++
					if len(out.KeptFor) < maxKeptRows {
						out.KeptFor = append(out.KeptFor, r)
					}
				}
			}
			return nil
		})
		p.f.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
