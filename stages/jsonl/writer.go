package jsonl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// WriterConfig configures the jsonl_writer stage.
type WriterConfig struct {
	// Dir is the output directory, created by Setup.
	Dir string `json:"dir"`
	// Extension ends every file name (default ".jsonl"); ".jsonl.gz" and
	// ".jsonl.zst" compress.
	Extension string `json:"extension,omitempty"`
	// Mode is what happens when Dir already holds files (see
	// dataio.OutputMode and docs/safety.md): "error" (default: refuse),
	// "overwrite" (remove only the files Sluice wrote there earlier) or
	// "append" (keep them and add files, renaming colliding names).
	Mode string `json:"mode,omitempty"`
	// Records is "auto" (default: copy the raw lines of batches that carry
	// the reader's raw-line column, serialise the columns of others), "raw"
	// (require raw lines) or "columns" (always serialise the columns).
	Records string `json:"records,omitempty"`
	// RawJSONColumns names String columns holding JSON text to write verbatim.
	RawJSONColumns []string `json:"raw_json_columns,omitempty"`
	// AppendColumns names columns added to each raw line as extra keys.
	AppendColumns []string `json:"append_columns,omitempty"`
	// Output is what the stage returns per written batch: "files" (default),
	// a FileGroup holding the written path, or "batches", the batch itself.
	Output string `json:"output,omitempty"`
	// NaN says what becomes of NaN and infinite floats, which JSON cannot
	// represent: "error" (default), "null" or "string" ("NaN",
	// "Infinity", "-Infinity").
	NaN string `json:"nan,omitempty"`
}

// Writer is the jsonl_writer stage. Each input DocumentBatch is written to
// "<dir>/<task id><extension>" (characters other than letters, digits, ".",
// "_" and "-" in the id become "_"). Files are written under a temporary name
// and renamed into place, so a retried or abandoned attempt never leaves a
// partial file, and a retry overwrites the same name: each batch gives
// exactly one file. A batch of zero rows gives an empty file. Every file is
// written through dataio.Output, which records it and refuses to replace a
// file Sluice did not write (see docs/safety.md); in append mode a name an
// earlier run used gets a suffix ("-1").
type Writer struct {
	stage.Base
	cfg  WriterConfig
	mode dataio.OutputMode
	opts dataio.JSONLWriterOptions
	out  *dataio.Output // per actor, from Setup
}

// NewWriter returns a jsonl_writer stage named "jsonl_writer".
func NewWriter(cfg WriterConfig) (*Writer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("dir: no output directory")
	}
	if cfg.Extension == "" {
		cfg.Extension = ".jsonl"
	}
	if strings.ContainsAny(cfg.Extension, `/\`) {
		return nil, fmt.Errorf("extension %q must not contain a path separator", cfg.Extension)
	}
	mode, err := dataio.ParseOutputMode(cfg.Mode)
	if err != nil {
		if cfg.Mode == "auto" || cfg.Mode == "raw" || cfg.Mode == "columns" {
			return nil, fmt.Errorf("mode %q: mode says what happens to an existing output (error, overwrite or append); the line format is now set by records: %s", cfg.Mode, cfg.Mode)
		}
		return nil, fmt.Errorf("mode %v", err)
	}
	nan, err := dataio.ParseNaNPolicy(cfg.NaN)
	if err != nil {
		return nil, fmt.Errorf("nan: %w", err)
	}
	opts := dataio.JSONLWriterOptions{RawJSONColumns: cfg.RawJSONColumns, AppendColumns: cfg.AppendColumns, NaN: nan}
	switch cfg.Records {
	case "", "auto":
		opts.Mode = dataio.Auto
	case "raw":
		opts.Mode = dataio.RawLines
	case "columns":
		opts.Mode = dataio.ColumnObjects
	default:
		return nil, fmt.Errorf("records %q: want auto, raw or columns", cfg.Records)
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
	in := stage.Spec{Kinds: []string{task.KindDocumentBatch}}
	if opts.Mode == dataio.RawLines {
		in.Columns = []string{dataio.RawColumn}
	}
	in.Columns = append(in.Columns, cfg.AppendColumns...)
	return &Writer{Base: stage.Base{StageName: WriterType, Batch: 1, In: in, Out: out}, cfg: cfg, mode: mode, opts: opts}, nil
}

// OutputTarget implements dataio.OutputStage: pipeline.Run prepares the
// directory once, before the run.
func (w *Writer) OutputTarget() dataio.OutputTarget {
	return dataio.OutputTarget{Dir: w.cfg.Dir, Mode: w.mode}
}

// Config returns the writer's configuration, defaults applied.
func (w *Writer) Config() WriterConfig { return w.cfg }

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
	return dataio.JoinPath(w.cfg.Dir, FileName(id)+w.cfg.Extension)
}

// FileName turns a task id into a safe file name stem.
func FileName(id string) string {
	if id == "" {
		return "_"
	}
	b := []byte(id)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || (c == '.' && i > 0)
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
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
		path, err := w.out.Begin(FileName(b.ID()) + w.cfg.Extension)
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
		fg.Meta()["jsonl.rows"] = strconv.FormatInt(rows, 10)
		out = append(out, fg)
	}
	return out, nil
}

func (w *Writer) write(path string, b *task.DocumentBatch) (int64, error) {
	jw, err := dataio.CreateJSONL(path, w.opts)
	if err != nil {
		return 0, err
	}
	if err := jw.Write(b); err != nil {
		jw.Abort()
		return 0, err
	}
	rows := jw.Rows()
	if err := jw.Close(); err != nil {
		return 0, err
	}
	return rows, nil
}
