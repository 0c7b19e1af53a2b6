package fuzzy

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/sluice-data/sluice/dedup/fuzzy/cc"
	dataio "github.com/sluice-data/sluice/io"
)

// edgeRow is one row of an edge file: two document ids that LSH made
// candidates (and verification, if on, accepted).
type edgeRow struct {
	A int64 `parquet:"_sluice_dedup_id_a"`
	B int64 `parquet:"_sluice_dedup_id_b"`
}

// edgeWriter writes an edge file atomically (temp name, renamed on close).
type edgeWriter struct {
	path string
	f    outFile
	w    *parquet.GenericWriter[edgeRow]
	buf  []edgeRow
	n    int64
}

func createEdgeFile(path string) (*edgeWriter, error) {
	if err := dataio.MkdirAll(context.Background(), dataio.DirOf(path)); err != nil {
		return nil, err
	}
	f, err := createOut(path)
	if err != nil {
		return nil, fmt.Errorf("edge file: %w", err)
	}
	return &edgeWriter{path: path, f: f, w: parquet.NewGenericWriter[edgeRow](f, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(1<<20))}, nil
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
	if err != nil {
		e.f.Abort()
		return fmt.Errorf("edge file %s: %w", e.path, err)
	}
	if err := e.f.Commit(); err != nil {
		return fmt.Errorf("edge file %s: %w", e.path, err)
	}
	return nil
}

func (e *edgeWriter) abort() { e.f.Abort() }

// addEdges streams the edges of an edge file into g.
func addEdges(ctx context.Context, path string, g *cc.Graph) error {
	f, err := openIn(path)
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
