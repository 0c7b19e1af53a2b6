// Package parquet provides the Parquet source and sink stages:
//
//   - parquet_reader, a composite of file_partitioning (the start task
//     becomes one FileGroup per partition of the input files) and
//     parquet_read_files (each FileGroup becomes DocumentBatches);
//   - parquet_writer, which writes each DocumentBatch to its own file.
//
// Reading and writing are done by package dataio
// (github.com/sluice-data/sluice/io): batches keep every column of the
// input with its Parquet type (nulls, nested structs, lists and maps,
// timestamps, decimals, field ids), and parquet_writer writes them back
// with that type, so that parquet_reader → parquet_writer keeps the schema.
//
// Task ids follow the jsonl package: the i-th batch read from a file group
// is "<group id>_<i>", and parquet_writer names its files after the ids of
// the batches it receives.
package parquet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/jsonl"
	"github.com/sluice-data/sluice/task"
)

// Registry names of the stage types of this package.
const (
	ReaderType    = "parquet_reader"
	ReadFilesType = "parquet_read_files"
	WriterType    = "parquet_writer"
)

// Metadata keys set on every batch read: the file its rows come from, and
// their 1-based row numbers in that file, "FIRST-LAST" inclusive, so that
// a failed task can be traced to the records it held.
const (
	MetaSourceFile = task.MetaSourceFile
	MetaSourceRows = task.MetaSourceRows
)

// ReadFilesConfig configures the parquet_read_files stage.
type ReadFilesConfig struct {
	// Dataset is the dataset name set on the batches.
	Dataset string `json:"dataset,omitempty"`
	// TextField names the text column (default "text"), a string or
	// binary column.
	TextField string `json:"text_field,omitempty"`
	// Columns, when set, lists the only columns read (the text column is
	// always read).
	Columns []string `json:"columns,omitempty"`
	// DropColumns lists columns left out.
	DropColumns []string `json:"drop_columns,omitempty"`
	// BatchRows bounds the rows per batch (default dataio.DefaultBatchRows).
	BatchRows int `json:"batch_rows,omitempty"`
	// OnBadRecord is "fail" (default) or "skip": a row whose text is null
	// or not UTF-8 is a bad record.
	OnBadRecord string `json:"on_bad_record,omitempty"`
	// QuarantineDir, with on_bad_record "skip", receives one
	// "<file group id>.jsonl" file per FileGroup that had bad records.
	QuarantineDir string `json:"quarantine_dir,omitempty"`
}

// ReadFiles is the parquet_read_files stage: each FileGroup becomes the
// DocumentBatches of its files, the i-th with id "<group id>_<i>". A batch
// holds rows of one file, and carries that file's key/value metadata for
// parquet_writer.
type ReadFiles struct {
	stage.Base
	cfg  ReadFilesConfig
	opts dataio.ReadOptions
}

// NewReadFiles returns a parquet_read_files stage named "parquet_read_files".
func NewReadFiles(cfg ReadFilesConfig) (*ReadFiles, error) {
	opts := dataio.ReadOptions{Dataset: cfg.Dataset, TextField: cfg.TextField, IDField: "-", BatchRows: cfg.BatchRows,
		Columns: cfg.Columns, DropColumns: cfg.DropColumns, FileMetadata: true}
	switch cfg.OnBadRecord {
	case "", "fail":
		if cfg.QuarantineDir != "" {
			return nil, errors.New(`quarantine_dir needs on_bad_record "skip"`)
		}
	case "skip":
		opts.OnBadRecord = dataio.Skip
	default:
		return nil, fmt.Errorf("on_bad_record %q: want fail or skip", cfg.OnBadRecord)
	}
	if cfg.BatchRows < 0 {
		return nil, errors.New("batch_rows must not be negative")
	}
	if cfg.Columns != nil && cfg.DropColumns != nil {
		return nil, errors.New("set columns or drop_columns, not both")
	}
	text := cfg.TextField
	if text == "" {
		text = dataio.DefaultTextField
	}
	if slices.Contains(cfg.DropColumns, text) {
		return nil, fmt.Errorf("drop_columns: %q is the text column (text_field), which cannot be left out", text)
	}
	return &ReadFiles{
		Base: stage.Base{StageName: ReadFilesType, Batch: 1, StageKind: stage.FanOut,
			In:  stage.Spec{Kinds: []string{task.KindFileGroup}},
			Out: stage.Spec{Kinds: []string{task.KindDocumentBatch}, Columns: append(append([]string{text}, cfg.Columns...), dataio.FileColumn, dataio.RowColumn)}},
		cfg: cfg, opts: opts,
	}, nil
}

// ProcessBatch implements stage.Stage.
func (r *ReadFiles) ProcessBatch(ctx context.Context, tasks []task.Task) ([]task.Task, error) {
	var out []task.Task
	for _, t := range tasks {
		g, ok := t.(*task.FileGroup)
		if !ok {
			return nil, fmt.Errorf("%s: task %s is a %s, want a file group", r.Name(), t.ID(), t.Kind())
		}
		batches, err := r.read(ctx, g)
		if err != nil {
			return nil, err
		}
		out = append(out, batches...)
	}
	return out, nil
}

// read reads one file group, file by file.
func (r *ReadFiles) read(ctx context.Context, g *task.FileGroup) (out []task.Task, err error) {
	opts := r.opts
	if opts.Dataset == "" {
		opts.Dataset = g.Dataset()
	}
	if r.cfg.QuarantineDir != "" {
		q := dataio.NewLazyQuarantine(dataio.JoinPath(r.cfg.QuarantineDir, g.ID()+".jsonl"))
		opts.Quarantine = q
		defer func() {
			if cerr := q.Close(err == nil); cerr != nil && err == nil {
				err = fmt.Errorf("%s: %w", r.Name(), cerr)
			}
		}()
	}
	var bad int64
	for _, path := range g.Paths {
		if dataio.FormatOf(path) != dataio.Parquet {
			return nil, fmt.Errorf("%s: %s is not a Parquet file (its name does not end in .parquet); jsonl_reader reads JSON Lines", r.Name(), path)
		}
		batches, st, err := readFile(ctx, path, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: file group %s: %w", r.Name(), g.ID(), err)
		}
		bad += st.BadRecords
		stage.Count(ctx, stage.CounterRecordsRead, st.Rows)
		stage.Count(ctx, stage.CounterBytesRead, st.Bytes)
		for _, b := range batches {
			b.TaskID = g.ID() + "_" + strconv.Itoa(len(out))
			out = append(out, b)
		}
	}
	for _, b := range out {
		b.Meta()["parquet.file_group"] = g.ID()
		b.Meta()["parquet.bad_records"] = strconv.FormatInt(bad, 10)
	}
	return out, nil
}

// readFile reads one file into batches that carry its provenance.
func readFile(ctx context.Context, path string, opts dataio.ReadOptions) ([]*task.DocumentBatch, dataio.ReadStats, error) {
	rd, err := dataio.NewParquetReader([]string{path}, opts)
	if err != nil {
		return nil, dataio.ReadStats{}, err
	}
	defer rd.Close()
	var out []*task.DocumentBatch
	for {
		b, err := rd.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, rd.Stats(), err
		}
		b.Meta()[MetaSourceFile] = path
		if rows := b.Column(dataio.RowColumn); rows != nil && len(rows.Ints) > 0 {
			b.Meta()[MetaSourceRows] = fmt.Sprintf("%d-%d", rows.Ints[0]+1, rows.Ints[len(rows.Ints)-1]+1)
		}
		out = append(out, b)
	}
	return out, rd.Stats(), nil
}

// ReaderConfig configures the parquet_reader composite: the input files
// (as file_partitioning takes them) and ReadFilesConfig.
type ReaderConfig struct {
	Paths []string `json:"paths,omitempty"`
	// Dir is one more input directory, appended to Paths.
	Dir string `json:"dir,omitempty"`
	// Extensions are the file name endings picked up in directories
	// (default ".parquet").
	Extensions        []string       `json:"extensions,omitempty"`
	FilesPerPartition int            `json:"files_per_partition,omitempty"`
	BlockSize         jsonl.ByteSize `json:"block_size,omitempty"`
	Dataset           string         `json:"dataset,omitempty"`
	TextField         string         `json:"text_field,omitempty"`
	Columns           []string       `json:"columns,omitempty"`
	DropColumns       []string       `json:"drop_columns,omitempty"`
	BatchRows         int            `json:"batch_rows,omitempty"`
	OnBadRecord       string         `json:"on_bad_record,omitempty"`
	QuarantineDir     string         `json:"quarantine_dir,omitempty"`
}

// Split returns the configurations of the two parts.
func (c ReaderConfig) Split() (jsonl.PartitionConfig, ReadFilesConfig) {
	paths := c.Paths
	if c.Dir != "" {
		paths = append(append([]string(nil), paths...), c.Dir)
	}
	ext := c.Extensions
	if len(ext) == 0 {
		ext = []string{".parquet"}
	}
	return jsonl.PartitionConfig{Paths: paths, Extensions: ext, FilesPerPartition: c.FilesPerPartition, BlockSize: c.BlockSize, Dataset: c.Dataset},
		ReadFilesConfig{Dataset: c.Dataset, TextField: c.TextField, Columns: c.Columns, DropColumns: c.DropColumns,
			BatchRows: c.BatchRows, OnBadRecord: c.OnBadRecord, QuarantineDir: c.QuarantineDir}
}

// Reader is the parquet_reader composite stage. A pipeline expands it into
// a file_partitioning stage named "<name>_partition" and a
// parquet_read_files stage named "<name>". Its ProcessBatch is never called.
type Reader struct {
	stage.Base
	cfg ReaderConfig
	reg *stage.Registry
}

// NewReader returns a parquet_reader composite named "parquet_reader". Its
// parts are validated now.
func NewReader(cfg ReaderConfig) (*Reader, error) {
	pc, rc := cfg.Split()
	if _, err := jsonl.NewPartition(pc); err != nil {
		return nil, err
	}
	r, err := NewReadFiles(rc)
	if err != nil {
		return nil, err
	}
	return &Reader{Base: stage.Base{StageName: ReaderType, In: stage.Spec{Kinds: []string{task.KindEmpty}}, Out: r.Outputs()}, cfg: cfg}, nil
}

// Config returns the reader's configuration.
func (r *Reader) Config() ReaderConfig { return r.cfg }

// Rename returns a copy of the composite whose parts are named after name
// (see pipeline.RenamableComposite).
func (r *Reader) Rename(name string) stage.Composite {
	c := *r
	c.StageName = name
	return &c
}

// Decompose implements stage.Composite. When the reader was built by a
// registry, its parts are built by the same registry, so that they carry
// descriptors other processes can rebuild them from.
func (r *Reader) Decompose() ([]stage.Stage, error) {
	pc, rc := r.cfg.Split()
	return jsonl.DecomposeReader(r.reg, r.Name(), pc, ReadFilesType, rc, func() (stage.Stage, error) { return NewReadFiles(rc) })
}

// ProcessBatch implements stage.Stage; a composite is never run.
func (r *Reader) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	return nil, fmt.Errorf("%s: parquet_reader is a composite stage; build the pipeline to expand it", r.Name())
}
