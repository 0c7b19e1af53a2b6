// Package jsonl provides the JSON Lines source and sink stages:
//
//   - jsonl_reader, a composite of file_partitioning (the start task,
//     task.Empty, becomes one FileGroup per partition of the input files)
//     and jsonl_read_files (each FileGroup becomes DocumentBatches);
//   - jsonl_writer, which writes each DocumentBatch to its own file.
//
// Reading and writing are done by package dataio (github.com/sluice-data/sluice/io),
// whose rules for lines, blank lines and bad records apply.
//
// # Task ids
//
// Ids are deterministic, so that a rerun names the same tasks: a FileGroup's
// id is its content id (task.FileGroup.ContentID, "fg_" and a hash of its
// sorted paths), the i-th batch read from it is "<group id>_<i>", and every
// later plain stage appends "_0" (task.DeriveIDs). jsonl_writer names its
// files after the ids of the batches it receives.
package jsonl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Registry names of the stage types of this package.
const (
	ReaderType    = "jsonl_reader"
	PartitionType = "file_partitioning"
	ReadFilesType = "jsonl_read_files"
	WriterType    = "jsonl_writer"
)

// ByteSize is a size in bytes that JSON decodes from a number or a string
// such as "256MiB" (see dataio.ParseByteSize).
type ByteSize int64

// UnmarshalJSON implements json.Unmarshaler.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		var n int64
		if err := json.Unmarshal(data, &n); err != nil {
			return fmt.Errorf("size %s: want a number of bytes or a string such as \"256MiB\"", data)
		}
		*b = ByteSize(n)
		return nil
	}
	n, err := dataio.ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = ByteSize(n)
	return nil
}

// PartitionConfig configures the file_partitioning stage.
type PartitionConfig struct {
	// Paths lists input files and directories (walked recursively).
	Paths []string `json:"paths,omitempty"`
	// Extensions are the file name endings picked up in directories
	// (default dataio.DefaultExtensions()).
	Extensions []string `json:"extensions,omitempty"`
	// FilesPerPartition groups that many files per FileGroup.
	FilesPerPartition int `json:"files_per_partition,omitempty"`
	// BlockSize groups files greedily up to this many bytes per FileGroup.
	// With neither this nor FilesPerPartition, each file is a group.
	BlockSize ByteSize `json:"block_size,omitempty"`
	// Dataset is the dataset name set on the FileGroups.
	Dataset string `json:"dataset,omitempty"`
}

// ReadFilesConfig configures the jsonl_read_files stage.
type ReadFilesConfig struct {
	// Dataset is the dataset name set on the batches.
	Dataset string `json:"dataset,omitempty"`
	// TextField and IDField name the text and id fields (default "text" and
	// "id"; IDField "-" reads no id).
	TextField string `json:"text_field,omitempty"`
	IDField   string `json:"id_field,omitempty"`
	// BatchRows bounds the rows per batch (default dataio.DefaultBatchRows).
	BatchRows int `json:"batch_rows,omitempty"`
	// OnBadRecord is "fail" (default: the FileGroup's task fails) or "skip".
	OnBadRecord string `json:"on_bad_record,omitempty"`
	// QuarantineDir, with on_bad_record "skip", receives one
	// "<file group id>.jsonl" file per FileGroup that had bad records.
	QuarantineDir string `json:"quarantine_dir,omitempty"`
	// OmitRaw leaves the raw-line column out of batches; the writer then
	// serialises columns instead of copying lines.
	OmitRaw bool `json:"omit_raw,omitempty"`
}

// ReaderConfig configures the jsonl_reader composite: the union of
// PartitionConfig and ReadFilesConfig, plus Dir.
type ReaderConfig struct {
	Paths []string `json:"paths,omitempty"`
	// Dir is one more input directory, appended to Paths.
	Dir               string   `json:"dir,omitempty"`
	Extensions        []string `json:"extensions,omitempty"`
	FilesPerPartition int      `json:"files_per_partition,omitempty"`
	BlockSize         ByteSize `json:"block_size,omitempty"`
	Dataset           string   `json:"dataset,omitempty"`
	TextField         string   `json:"text_field,omitempty"`
	IDField           string   `json:"id_field,omitempty"`
	BatchRows         int      `json:"batch_rows,omitempty"`
	OnBadRecord       string   `json:"on_bad_record,omitempty"`
	QuarantineDir     string   `json:"quarantine_dir,omitempty"`
	OmitRaw           bool     `json:"omit_raw,omitempty"`
}

// Split returns the configurations of the two parts.
func (c ReaderConfig) Split() (PartitionConfig, ReadFilesConfig) {
	paths := c.Paths
	if c.Dir != "" {
		paths = append(append([]string(nil), paths...), c.Dir)
	}
	ext := c.Extensions
	if len(ext) == 0 {
		ext = JSONLExtensions() // directories may hold Parquet files too
	}
	return PartitionConfig{Paths: paths, Extensions: ext, FilesPerPartition: c.FilesPerPartition, BlockSize: c.BlockSize, Dataset: c.Dataset},
		ReadFilesConfig{Dataset: c.Dataset, TextField: c.TextField, IDField: c.IDField, BatchRows: c.BatchRows,
			OnBadRecord: c.OnBadRecord, QuarantineDir: c.QuarantineDir, OmitRaw: c.OmitRaw}
}

// JSONLExtensions returns the file name endings jsonl_reader picks up in
// directories by default: dataio.DefaultExtensions without Parquet.
func JSONLExtensions() []string {
	var out []string
	for _, e := range dataio.DefaultExtensions() {
		if dataio.FormatOf("x"+e) != dataio.Parquet {
			out = append(out, e)
		}
	}
	return out
}

// ---- file_partitioning -------------------------------------------------------

// Partition is the file_partitioning stage: given the start task it lists
// the input files and returns one FileGroup per partition. It expects a
// single start task per call (its batch size is 1).
type Partition struct {
	stage.Base
	cfg PartitionConfig
	log *slog.Logger // set by Setup
}

// NewPartition returns a file_partitioning stage named "file_partitioning".
func NewPartition(cfg PartitionConfig) (*Partition, error) {
	if len(cfg.Paths) == 0 {
		return nil, errors.New("paths: no input files or directories")
	}
	if cfg.FilesPerPartition < 0 || cfg.BlockSize < 0 {
		return nil, errors.New("files_per_partition and block_size must not be negative")
	}
	if cfg.FilesPerPartition > 0 && cfg.BlockSize > 0 {
		return nil, errors.New("set files_per_partition or block_size, not both")
	}
	return &Partition{
		Base: stage.Base{StageName: PartitionType, Batch: 1, StageKind: stage.FanOut,
			In: stage.Spec{Kinds: []string{task.KindEmpty}}, Out: stage.Spec{Kinds: []string{task.KindFileGroup}}},
		cfg: cfg,
	}, nil
}

// InputPaths implements dataio.InputStage: no output may overlap them.
func (p *Partition) InputPaths() []string { return p.cfg.Paths }

// Setup implements stage.Stage: it keeps the actor's logger.
func (p *Partition) Setup(_ context.Context, w *stage.Worker) error {
	if w != nil {
		p.log = w.Logger
	}
	return nil
}

// list lists the input files, or says in the config's words why it cannot.
func (p *Partition) list() (dataio.FilePartitioning, dataio.Listing, error) {
	part := dataio.FilePartitioning{Paths: p.cfg.Paths, Extensions: p.cfg.Extensions,
		FilesPerPartition: p.cfg.FilesPerPartition, BlockSize: int64(p.cfg.BlockSize)}
	for _, path := range p.cfg.Paths {
		if _, err := dataio.Stat(context.Background(), path); err != nil {
			return part, dataio.Listing{}, fmt.Errorf("paths: %s: %w", path, pathProblem(err))
		}
	}
	l, err := part.List()
	if err != nil {
		return part, l, fmt.Errorf("paths: %s", strings.TrimPrefix(err.Error(), "dataio: "))
	}
	if len(l.Files) == 0 {
		exts := part.Extensions
		if exts == nil {
			exts = dataio.DefaultExtensions()
		}
		return part, l, fmt.Errorf("paths %s: no input files (names ending in %s; %d other paths skipped)",
			strings.Join(p.cfg.Paths, ", "), strings.Join(exts, ", "), len(l.Skipped))
	}
	return part, l, nil
}

// Preflight implements pipeline.Preflighter: every input path exists and
// they hold at least one file to read.
func (p *Partition) Preflight(context.Context) error {
	_, _, err := p.list()
	return err
}

// ProcessBatch implements stage.Stage. Inputs that are missing or hold no
// file are permanent errors: retrying cannot bring them back.
func (p *Partition) ProcessBatch(ctx context.Context, tasks []task.Task) ([]task.Task, error) {
	part, l, err := p.list()
	if err != nil {
		return nil, stage.Permanent(fmt.Errorf("%s: %w", p.Name(), err))
	}
	if p.log != nil {
		for _, s := range dataio.SummarizeSkipped(l.Skipped, 10) {
			p.log.Info("skipped input paths", "stage", p.Name(), "count", s.Count, "reason", s.Reason, "paths", s.Paths)
		}
	}
	groups, err := part.GroupFiles(l.Files)
	if err != nil {
		return nil, stage.Permanent(fmt.Errorf("%s: %w", p.Name(), err))
	}
	if len(tasks) == 0 {
		return nil, nil
	}
	fgs := dataio.NewFileGroups(p.cfg.Dataset, groups)
	out := make([]task.Task, len(fgs))
	for i, g := range fgs {
		out[i] = g
	}
	return out, ctx.Err()
}

// pathProblem is the cause of a failed stat, without the Go operation.
// Errors of object stores name the bucket and key themselves.
func pathProblem(err error) error {
	var s3e *dataio.S3Error
	if errors.As(err, &s3e) {
		return err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ---- jsonl_read_files --------------------------------------------------------

// ReadFiles is the jsonl_read_files stage: each FileGroup becomes the
// DocumentBatches of its files, the i-th with id "<group id>_<i>".
type ReadFiles struct {
	stage.Base
	cfg  ReadFilesConfig
	opts dataio.ReadOptions
}

// NewReadFiles returns a jsonl_read_files stage named "jsonl_read_files".
func NewReadFiles(cfg ReadFilesConfig) (*ReadFiles, error) {
	opts := dataio.ReadOptions{Dataset: cfg.Dataset, TextField: cfg.TextField, IDField: cfg.IDField,
		BatchRows: cfg.BatchRows, OmitRaw: cfg.OmitRaw}
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
	return &ReadFiles{
		Base: stage.Base{StageName: ReadFilesType, Batch: 1, StageKind: stage.FanOut,
			In: stage.Spec{Kinds: []string{task.KindFileGroup}}, Out: stage.Spec{Kinds: []string{task.KindDocumentBatch}, Columns: outputColumns(opts)}},
		cfg: cfg, opts: opts,
	}, nil
}

// outputColumns lists the columns every batch carries.
func outputColumns(o dataio.ReadOptions) []string {
	text, id := o.TextField, o.IDField
	if text == "" {
		text = dataio.DefaultTextField
	}
	if id == "" {
		id = dataio.DefaultIDField
	}
	cols := []string{text}
	if id != "-" {
		cols = append(cols, id)
	}
	cols = append(cols, dataio.FileColumn, dataio.RowColumn)
	if !o.OmitRaw {
		cols = append(cols, dataio.RawColumn)
	}
	return cols
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

// read reads one file group.
func (r *ReadFiles) read(ctx context.Context, g *task.FileGroup) (out []task.Task, err error) {
	opts := r.opts
	if opts.Dataset == "" {
		opts.Dataset = g.Dataset()
	}
	if err := notParquet(g.Paths); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Name(), err)
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
	rd, err := dataio.NewReader(g.Paths, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: file group %s: %w", r.Name(), g.ID(), err)
	}
	defer rd.Close()
	for i := 0; ; i++ {
		b, err := rd.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: file group %s: %w", r.Name(), g.ID(), err)
		}
		b.TaskID = g.ID() + "_" + strconv.Itoa(i)
		out = append(out, b)
	}
	st := rd.Stats()
	stage.Count(ctx, stage.CounterRecordsRead, st.Rows)
	stage.Count(ctx, stage.CounterBytesRead, st.Bytes)
	for _, b := range out {
		setSources(b.(*task.DocumentBatch))
		meta := b.Meta()
		meta["jsonl.file_group"] = g.ID()
		meta["jsonl.bad_records"] = strconv.FormatInt(st.BadRecords, 10)
	}
	return out, nil
}

// setSources records in b's metadata the files and record ranges its rows
// came from (task.MetaSourceFile, task.MetaSourceRows), so that a failure
// downstream can say which records it lost.
func setSources(b *task.DocumentBatch) {
	fc, rc := b.Column(dataio.FileColumn), b.Column(dataio.RowColumn)
	if fc == nil || rc == nil {
		return
	}
	var files []string
	var first, last []int64
	for i, f := range fc.Strings {
		row := rc.Ints[i] + 1 // RowColumn counts from 0
		if n := len(files); n > 0 && files[n-1] == f {
			last[n-1] = row
			continue
		}
		files, first, last = append(files, f), append(first, row), append(last, row)
	}
	if len(files) > 0 {
		task.SetSources(b, files, first, last)
	}
}

// notParquet rejects Parquet files, which parquet_reader reads.
func notParquet(paths []string) error {
	for _, p := range paths {
		if dataio.FormatOf(p) == dataio.Parquet {
			return fmt.Errorf("%s is a Parquet file; jsonl_reader reads JSON Lines, parquet_reader reads Parquet", p)
		}
	}
	return nil
}

// ---- jsonl_reader (composite) -----------------------------------------------

// Reader is the jsonl_reader composite stage. A pipeline expands it into a
// file_partitioning stage named "<name>_partition" and a jsonl_read_files
// stage named "<name>". It implements stage.Stage only so that a registry
// can build it; its ProcessBatch is never called.
type Reader struct {
	stage.Base
	cfg ReaderConfig
	reg *stage.Registry
}

// NewReader returns a jsonl_reader composite named "jsonl_reader". Its parts
// are validated now.
func NewReader(cfg ReaderConfig) (*Reader, error) {
	pc, rc := cfg.Split()
	if _, err := NewPartition(pc); err != nil {
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
// registry (see Register), its parts are built by the same registry, so
// that they carry descriptors other processes can rebuild them from.
func (r *Reader) Decompose() ([]stage.Stage, error) {
	pc, rc := r.cfg.Split()
	return DecomposeReader(r.reg, r.Name(), pc, ReadFilesType, rc, func() (stage.Stage, error) { return NewReadFiles(rc) })
}

// DecomposeReader returns the parts of a file reader composite named name:
// a file_partitioning stage "<name>_partition" configured by pc, and a
// stage "<name>" of type readType configured by readCfg. With a registry,
// the parts are built by it, so that they carry descriptors other
// processes can rebuild them from; without one, newRead builds the second.
func DecomposeReader(reg *stage.Registry, name string, pc PartitionConfig, readType string, readCfg any, newRead func() (stage.Stage, error)) ([]stage.Stage, error) {
	partName := name + "_partition"
	if reg != nil {
		p, err := buildPart(reg, PartitionType, partName, pc)
		if err != nil {
			return nil, err
		}
		f, err := buildPart(reg, readType, name, readCfg)
		if err != nil {
			return nil, err
		}
		return []stage.Stage{p, f}, nil
	}
	p, err := NewPartition(pc)
	if err != nil {
		return nil, err
	}
	f, err := newRead()
	if err != nil {
		return nil, err
	}
	return []stage.Stage{stage.With(p, stage.WithName(partName)), stage.With(f, stage.WithName(name))}, nil
}

func buildPart(reg *stage.Registry, typ, name string, cfg any) (stage.Stage, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return reg.Build(stage.Descriptor{Type: typ, Name: name, Config: b})
}

// ProcessBatch implements stage.Stage; a composite is never run.
func (r *Reader) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	return nil, fmt.Errorf("%s: jsonl_reader is a composite stage; build the pipeline to expand it", r.Name())
}
