package parquet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/jsonl"
	"github.com/sluice-data/sluice/task"
)

// WriterConfig configures the parquet_writer stage.
type WriterConfig struct {
	// Dir is the output directory, prepared by Setup.
	Dir string `json:"dir"`
	// Compression is "zstd" (default), "snappy", "gzip", "lz4" or "none".
	Compression string `json:"compression,omitempty"`
	// RowGroupRows and RowGroupBytes bound a row group (defaults
	// dataio.DefaultRowGroupRows rows and dataio.DefaultRowGroupBytes
	// uncompressed bytes).
	RowGroupRows  int64          `json:"row_group_rows,omitempty"`
	RowGroupBytes jsonl.ByteSize `json:"row_group_bytes,omitempty"`
	// PageVersion is the data page version, 1 (default) or 2.
	PageVersion int `json:"page_version,omitempty"`
	// IncludeInternal also writes the readers' provenance columns
	// (_sluice_file, _sluice_row).
	IncludeInternal bool `json:"include_internal,omitempty"`
	// Output is what the stage returns per written batch: "files" (default),
	// a FileGroup holding the written path, or "batches", the batch itself.
	Output string `json:"output,omitempty"`
}

// Writer is the parquet_writer stage. Each input DocumentBatch is written
// to "<dir>/<task id>.parquet" (characters other than letters, digits, ".",
// "_" and "-" in the id become "_", as for jsonl_writer), under a temporary
// name renamed into place, so a retried or abandoned attempt never leaves a
// partial file and each batch gives exactly one file. Columns read from
// Parquet keep their Parquet type; see dataio.ParquetWriter. A batch of
// zero rows gives a file with the schema and no rows.
type Writer struct {
	stage.Base
	cfg  WriterConfig
	opts dataio.ParquetWriterOptions
}

// NewWriter returns a parquet_writer stage named "parquet_writer".
func NewWriter(cfg WriterConfig) (*Writer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("dir: no output directory")
	}
	if cfg.RowGroupRows < 0 || cfg.RowGroupBytes < 0 {
		return nil, errors.New("row_group_rows and row_group_bytes must not be negative")
	}
	opts := dataio.ParquetWriterOptions{RowGroupRows: cfg.RowGroupRows, RowGroupBytes: int64(cfg.RowGroupBytes),
		Compression: cfg.Compression, PageVersion: cfg.PageVersion, IncludeInternal: cfg.IncludeInternal}
	if err := opts.Check(); err != nil {
		return nil, err
	}
	out := stage.Spec{Kinds: []string{task.KindFileGroup}}
	switch cfg.Output {
	case "", "files":
		cfg.Output = "files"
	case "batches":
		out = stage.Spec{Kinds: []string{task.KindDocumentBatch}}
	default:
		return nil, fmt.Errorf("output %q: want files or batches", cfg.Output)
	}
	return &Writer{Base: stage.Base{StageName: WriterType, Batch: 1, In: stage.Spec{Kinds: []string{task.KindDocumentBatch}}, Out: out}, cfg: cfg, opts: opts}, nil
}

// Config returns the writer's configuration, defaults applied.
func (w *Writer) Config() WriterConfig { return w.cfg }

// Setup implements stage.Stage: it prepares the output directory.
func (w *Writer) Setup(context.Context, *stage.Worker) error {
	if err := w.prepareDir(); err != nil {
		return fmt.Errorf("%s: %w", w.Name(), err)
	}
	return nil
}

// prepareDir is the one place where the output directory is prepared.
func (w *Writer) prepareDir() error {
	return os.MkdirAll(w.cfg.Dir, 0o755)
}

// PathFor returns the file a batch with id is written to.
func (w *Writer) PathFor(id string) string {
	return filepath.Join(w.cfg.Dir, jsonl.FileName(id)+".parquet")
}

// ProcessBatch implements stage.Stage.
func (w *Writer) ProcessBatch(ctx context.Context, tasks []task.Task) ([]task.Task, error) {
	out := make([]task.Task, 0, len(tasks))
	for _, t := range tasks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, ok := t.(*task.DocumentBatch)
		if !ok {
			return nil, fmt.Errorf("%s: task %s is a %s, want a document batch", w.Name(), t.ID(), t.Kind())
		}
		path := w.PathFor(b.ID())
		rows, err := w.write(path, b)
		if err != nil {
			return nil, fmt.Errorf("%s: batch %s: %w", w.Name(), b.ID(), err)
		}
		if w.cfg.Output == "batches" {
			out = append(out, b)
			continue
		}
		fg := &task.FileGroup{Header: task.HeaderOf(b), Paths: []string{path}}
		delete(fg.Meta(), dataio.MetaParquetKeyValue) // written to the file; not needed further
		delete(fg.Meta(), dataio.MetaParquetFields)
		fg.Meta()["parquet.rows"] = strconv.FormatInt(rows, 10)
		out = append(out, fg)
	}
	return out, nil
}

func (w *Writer) write(path string, b *task.DocumentBatch) (int64, error) {
	pw, err := dataio.CreateParquet(path, w.opts)
	if err != nil {
		return 0, err
	}
	if err := pw.Write(b); err != nil {
		pw.Abort()
		return 0, err
	}
	rows := pw.Rows()
	if err := pw.Close(); err != nil {
		return 0, err
	}
	return rows, nil
}
