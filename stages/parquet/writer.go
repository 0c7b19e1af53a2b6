package parquet

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/jsonl"
	"github.com/sluice-data/sluice/task"
)

// WriterConfig configures the parquet_writer stage.
type WriterConfig struct {
	// Dir is the output directory.
	Dir string `json:"dir"`
	// Mode is what happens when Dir already holds files (see
	// dataio.OutputMode and docs/safety.md): "error" (default: refuse),
	// "overwrite" (remove only the files Sluice wrote there earlier) or
	// "append" (keep them and add files, renaming colliding names).
	Mode string `json:"mode,omitempty"`
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
// zero rows gives a file with the schema and no rows. Every file is
// written through dataio.Output, which records it and refuses to replace a
// file Sluice did not write (see docs/safety.md).
type Writer struct {
	stage.Base
	cfg  WriterConfig
	mode dataio.OutputMode
	opts dataio.ParquetWriterOptions
	out  *dataio.Output // per actor, from Setup
}

// NewWriter returns a parquet_writer stage named "parquet_writer".
func NewWriter(cfg WriterConfig) (*Writer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("dir: no output directory")
	}
	mode, err := dataio.ParseOutputMode(cfg.Mode)
	if err != nil {
		return nil, fmt.Errorf("mode %v", err)
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
	return &Writer{Base: stage.Base{StageName: WriterType, Batch: 1, In: stage.Spec{Kinds: []string{task.KindDocumentBatch}}, Out: out}, cfg: cfg, mode: mode, opts: opts}, nil
}

// Config returns the writer's configuration, defaults applied.
func (w *Writer) Config() WriterConfig { return w.cfg }

// OutputTarget implements dataio.OutputStage: pipeline.Run prepares the
// directory once, before the run.
func (w *Writer) OutputTarget() dataio.OutputTarget {
	return dataio.OutputTarget{Dir: w.cfg.Dir, Mode: w.mode}
}

// Setup implements stage.Stage: it opens the output directory, which
// dataio.PrepareOutput must have prepared for this run.
func (w *Writer) Setup(context.Context, *stage.Worker) error {
	out, err := dataio.OpenOutput(w.cfg.Dir, w.mode)
	if err != nil {
		return fmt.Errorf("%s: %w", w.Name(), err)
	}
	w.out = out
	return nil
}

// PathFor returns the file a batch with id is written to (in append mode,
// unless an earlier run used that name).
func (w *Writer) PathFor(id string) string {
	return dataio.JoinPath(w.cfg.Dir, jsonl.FileName(id)+".parquet")
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
		path, err := w.out.Begin(jsonl.FileName(b.ID()) + ".parquet")
		if err != nil {
			return nil, fmt.Errorf("%s: batch %s: %w", w.Name(), b.ID(), err)
		}
		rows, err := w.write(path, b)
		if err == nil {
			err = w.out.Commit(path, rows)
		}
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
