package fuzzy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/sluice-data/sluice/dedup/fuzzy/cc"
)

// edgeRow is one row of an edge file: two document ids that LSH made
// candidates (and verification, if on, accepted).
type edgeRow struct {
	A int64 `parquet:"_sluice_dedup_id_a"`
	B int64 `parquet:"_sluice_dedup_id_b"`
}

// edgeWriter writes an edge file atomically (a unique temp name, renamed on close).
type edgeWriter struct {
	path, tmp string
	f         *os.File
	w         *parquet.GenericWriter[edgeRow]
	buf       []edgeRow
	n         int64
}

func createEdgeFile(path string) (*edgeWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	// A temporary name of its own: a writer of another attempt (an actor
	// given up for dead that still runs) never writes into the same file.
	f, err := createTemp(path)
	if err != nil {
		return nil, fmt.Errorf("edge file: %w", err)
	}
	return &edgeWriter{path: path, tmp: f.Name(), f: f, w: parquet.NewGenericWriter[edgeRow](f, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(1<<20))}, nil
}

func (e *edgeWriter) add(a, b int64) error {
	e.buf = append(e.buf, edgeRow{a, b})
	e.n++
	if len(e.buf) >= 8192 {
		return e.flush()
	}
	return nil
}

func (e *edgeWriter) flush() error {
	if len(e.buf) == 0 {
		return nil
	}
	if _, err := e.w.Write(e.buf); err != nil {
		return fmt.Errorf("edge file %s: %w", e.path, err)
	}
	e.buf = e.buf[:0]
	return nil
}

func (e *edgeWriter) close() error {
	err := e.flush()
	if err == nil {
		err = e.w.Close()
	}
	if cerr := e.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(e.tmp, e.path)
	}
	if err != nil {
		os.Remove(e.tmp)
		return fmt.Errorf("edge file %s: %w", e.path, err)
	}
	return nil
}

func (e *edgeWriter) abort() {
	e.f.Close()
	os.Remove(e.tmp)
}

// addEdges streams the edges of an edge file into g.
func addEdges(ctx context.Context, path string, g *cc.Graph) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("edge file: %w", err)
	}
	defer f.Close()
	r := parquet.NewGenericReader[edgeRow](f)
	defer r.Close()
	buf := make([]edgeRow, 8192)
	for {
		n, err := r.Read(buf)
		for _, e := range buf[:n] {
			if aerr := g.Add(e.A, e.B); aerr != nil {
				return fmt.Errorf("edge file %s: %w", path, aerr)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("edge file %s: %w", path, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
