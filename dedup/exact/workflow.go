// Package exact is Sluice's exact-deduplication workflow, NeMo Curator's
// scheme on Sluice's machinery:
//
//	ids → hash (MD5 of each text, shuffled by hash) → removal
//
// A document's key is the MD5 digest of its text's UTF-8 bytes, with no
// normalisation (or, with Normalize, of the text as fuzzy dedup's
// --normalize shingles it). Documents with equal keys form a group; in each
// group the document with the smallest id — the earliest in input order —
// is kept and the others are removed. The ids, the cache with resumption,
// the lossless removal, the output rules and the summary are fuzzy dedup's
// (package flow). See docs/exact-dedup.md.
package exact

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluice-data/sluice/dedup/internal/flow"
	"github.com/sluice-data/sluice/dedup/ledger"
	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/internal/version"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/report"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// ErrConfig is wrapped by errors in the workflow's configuration. It is
// the same value as fuzzy.ErrConfig.
var ErrConfig = flow.ErrConfig

// Config is everything `sluice dedup exact` takes.
type Config struct {
	Inputs []string `json:"inputs"`
	Output string   `json:"output"`
	// Cache holds intermediates; default Output/_cache.
	Cache       string `json:"cache"`
	InputFormat string `json:"input_format"` // "", "jsonl" or "parquet"
	TextField   string `json:"text_field"`
	IDField     string `json:"id_field"`
	OnBadRecord string `json:"on_bad_record"` // fail | skip

	// Normalize hashes the text lower-cased with punctuation and white
	// space collapsed (the normalisation of fuzzy dedup's --normalize),
	// instead of the raw text (NeMo Curator's scheme).
	Normalize bool `json:"normalize"`
	// MemoryLimit bounds the rows the hash shuffle buffers before spilling
	// (bytes, 0 = unlimited; DefaultConfig sets DefaultMemoryLimit).
	MemoryLimit int64 `json:"memory_limit"`

	FilesPerPartition int   `json:"files_per_partition"`
	BlockSize         int64 `json:"block_size"`

	NoRemove      bool   `json:"no_remove"`
	RemovedIDsOut string `json:"removed_ids_out"`

	// Overwrite lets the run replace the output of an earlier finished run
	// in Output — only the files Sluice wrote there; others are kept — and
	// an existing RemovedIDsOut file (see docs/safety.md).
	Overwrite bool `json:"overwrite"`
	// RemoveCache deletes this run's cache entry after a successful run
	// (and the cache directory, if that leaves it empty).
	RemoveCache bool `json:"remove_cache"`

	// InputsInOrder takes Inputs, which must then be files, in the order
	// given instead of sorted: ids, and so which document of a group is
	// kept, follow that order (pipeline steps use it). Not a flag.
	InputsInOrder bool `json:"-"`

	// SplitBytes is the size above which an uncompressed JSONL file (or a
	// Parquet file of several row groups) is read by several hash tasks,
	// one per section (default DefaultSplitBytes).
	SplitBytes int64 `json:"split_bytes"`
}

// Defaults of Config.
const (
	DefaultSplitBytes  = 16 << 20
	DefaultMemoryLimit = 4 << 30
)

// DefaultConfig returns the defaults: text in "text", ids in "id", stop at
// the first bad record, a 4 GiB bound on the shuffle's buffered rows.
func DefaultConfig() Config {
	return Config{TextField: "text", IDField: "id", OnBadRecord: "fail", MemoryLimit: DefaultMemoryLimit}
}

// CacheDir returns the directory for intermediates: Cache, or by default
// Output/_cache.
func (c Config) CacheDir() string {
	if c.Cache != "" {
		return c.Cache
	}
	return dataio.JoinPath(c.Output, "_cache")
}

// io is the part of the configuration the shared phases use.
func (c Config) io() flow.IO {
	return flow.IO{Inputs: c.Inputs, Output: c.Output, Cache: c.Cache, InputFormat: c.InputFormat, TextField: c.TextField,
		IDField: c.IDField, OnBadRecord: c.OnBadRecord, FilesPerPartition: c.FilesPerPartition, BlockSize: c.BlockSize,
		NoRemove: c.NoRemove, RemovedIDsOut: c.RemovedIDsOut, Overwrite: c.Overwrite, RemoveCache: c.RemoveCache, SplitBytes: c.SplitBytes,
		InOrder: c.InputsInOrder}
}

// Summary is the workflow's final report, also written as Output/summary.json.
type Summary struct {
	// Records counts every input record: Documents (hashed) + BadRecords.
	Records int64 `json:"records"`
	// RecordsWritten counts the records removal wrote (kept documents and
	// bad records, which stay in the output); Records = RecordsWritten +
	// Duplicates is checked at the end of every run that removes.
	RecordsWritten int64 `json:"records_written"`
	Documents      int64 `json:"documents"`
	Duplicates     int64 `json:"duplicates"`
	Kept           int64 `json:"kept"`
	// DuplicateGroups counts the texts held by more than one document.
	DuplicateGroups int64 `json:"duplicate_groups"`
	// EmptyDocuments counts documents whose hashed text is empty (they
	// are duplicates of each other, as in NeMo Curator).
	EmptyDocuments int64               `json:"empty_documents"`
	BadRecords     int64               `json:"bad_records"`
	EmptyFiles     int64               `json:"empty_files"`
	TextBytes      int64               `json:"text_bytes"`
	LargestGroups  []flow.LargestGroup `json:"largest_groups"`
	Phases         []flow.PhaseSummary `json:"phases"`
	WallSec        float64             `json:"wall_seconds"`
	// CPUSec sums the phases' CPU time (calls on every node, and the
	// driver's own phase); HeadCPUSec is the CPU time of the process that
	// ran the workflow (see fuzzy.Summary).
	CPUSec     float64            `json:"cpu_seconds"`
	HeadCPUSec float64            `json:"head_cpu_seconds"`
	Nodes      []flow.NodeSummary `json:"nodes,omitempty"`
	// PeakRSSBytes is the largest peak RSS of the head process and of the
	// processes that ran the calls.
	PeakRSSBytes  int64  `json:"peak_rss_bytes"`
	CacheDir      string `json:"cache_dir"`
	CacheRemoved  bool   `json:"cache_removed,omitempty"`
	Quarantine    string `json:"quarantine,omitempty"`
	RemovedIDsOut string `json:"removed_ids_out,omitempty"`
	OutputDir     string `json:"deduplicated_dir,omitempty"`
	Params        Config `json:"params"`
	SluiceVersion string `json:"sluice_version"`
	StartedAt     string `json:"started_at"`
	FinishedAt    string `json:"finished_at"`
	// Audit: the removal ledger, the sources, the group-size histogram and
	// the report.
	flow.Audit
}

// Workflow runs exact deduplication on a runtime.
type Workflow struct {
	Cfg      Config
	Runtime  runtime.Runtime
	Executor executor.Config
	Registry *stage.Registry
	Logger   *slog.Logger

	listed  *flow.Inputs // the inputs Check listed
	written []string     // the files the last Run wrote in Output/deduplicated
}

// Written returns the files the last successful Run wrote in
// Output/deduplicated (none with NoRemove), in file-group order.
func (w *Workflow) Written() []string { return append([]string(nil), w.written...) }

// Check validates the configuration and the inputs without doing any work
// or writing anything: the errors a run would meet before its first phase
// (bad parameters, missing or empty inputs, an --id-field the inputs lack)
// wrap ErrConfig. Run makes the same checks.
func (w *Workflow) Check(ctx context.Context) error {
	c, err := w.normalize()
	if err != nil {
		return err
	}
	_, err = flow.Prepare(ctx, c.io(), w.logger(), &w.listed)
	return err
}

// logger returns the workflow's logger, or one that discards.
func (w *Workflow) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}

// Validate checks the parameters, not the inputs (which Check lists): the
// errors a run would meet in its configuration wrap ErrConfig. Inputs and
// Output may be empty.
func (c Config) Validate() error {
	v := &Workflow{Cfg: c, Registry: stage.NewRegistry()}
	if len(c.Inputs) == 0 {
		v.Cfg.Inputs = []string{"."}
	}
	if c.Output == "" {
		v.Cfg.Output = "."
	}
	_, err := v.normalize()
	return err
}

func (w *Workflow) normalize() (Config, error) {
	c := w.Cfg
	d := DefaultConfig()
	if len(c.Inputs) == 0 {
		return c, fmt.Errorf("%w: exact: no --input given", ErrConfig)
	}
	if c.Output == "" {
		return c, fmt.Errorf("%w: exact: --output is required", ErrConfig)
	}
	c.Cache = c.CacheDir()
	if c.TextField == "" {
		c.TextField = d.TextField
	}
	if c.IDField == "" {
		c.IDField = d.IDField
	}
	if c.OnBadRecord == "" {
		c.OnBadRecord = d.OnBadRecord
	}
	if _, err := flow.ParsePolicy(c.OnBadRecord); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := flow.CheckGrouping(c.io()); err != nil {
		return c, err
	}
	if c.MemoryLimit < 0 {
		return c, fmt.Errorf("%w: exact: --memory-limit %d must not be negative", ErrConfig, c.MemoryLimit)
	}
	if c.SplitBytes <= 0 {
		c.SplitBytes = DefaultSplitBytes
	}
	if err := flow.CheckInputFormat("exact", c.InputFormat); err != nil {
		return c, err
	}
	if w.Registry == nil {
		return c, fmt.Errorf("%w: exact: no stage registry", ErrConfig)
	}
	return c, nil
}

// Run executes every phase and writes Output/summary.json.
func (w *Workflow) Run(ctx context.Context) (*Summary, error) {
	start, cpu0 := time.Now(), executor.ProcessCPU()
	c, err := w.normalize()
	if err != nil {
		return nil, err
	}
	sum := &Summary{Params: c, SluiceVersion: strings.TrimPrefix(version.Short(), "sluice "), StartedAt: start.UTC().Format(time.RFC3339)}
	sum.ParamsHash = ledger.ParamsHash(paramsForHash(c))
	run, err := flow.Begin(ctx, c.io(), flow.Runner{Runtime: w.Runtime, Executor: w.Executor, Registry: w.Registry, Logger: w.Logger, MemoryLimit: c.MemoryLimit,
		Workflow: "dedup exact", Plan: flow.PlanPhases(c.io(), "ids", "hash")},
		&w.listed, func(inputKey string) string { return "ex-" + cacheKey(c, inputKey) }, start, cpu0)
	if err != nil {
		return nil, err
	}
	sum.CacheDir = run.Root
	p := &phases{w: w, r: run.Runner, c: c, sum: sum, dst: run.Dst, root: run.Root}
	if err := p.run(ctx, run.Inputs); err != nil {
		return nil, err
	}
	err = run.End(sum, flow.Ending{CacheRemoved: &sum.CacheRemoved, FinishedAt: &sum.FinishedAt, WallSec: &sum.WallSec, CPUSec: &sum.CPUSec,
		HeadCPUSec: &sum.HeadCPUSec, Nodes: &sum.Nodes, Phases: sum.Phases, PeakRSSBytes: &sum.PeakRSSBytes,
		Audit: &sum.Audit, Report: func() report.Doc { return ReportDoc(sum) }})
	if err != nil {
		return nil, err
	}
	return sum, nil
}

// cacheKey names the cache entry: the input files and every setting that
// changes which records are read and how they are hashed, and the id field
// that names documents in the ledger.
func cacheKey(c Config, inputKey string) string {
	parts := []any{"exact/v2", inputKey, c.SplitBytes, c.TextField, c.InputFormat, c.OnBadRecord, c.Normalize, "ledger-ids", c.IDField}
	if idField, singleLine := flow.IDRequirement(c.io()); idField != "" { // ids checked: other bad records
		parts = append(parts, "id", idField, singleLine)
	}
	return flow.HashKey(parts...)
}

// phases runs the workflow's phases for one Run.
type phases struct {
	w       *Workflow
	r       *flow.Runner
	c       Config
	sum     *Summary
	dst     *dataio.Output
	root    string
	idTasks []task.Task
}

// run runs the three phases, filling the summary.
func (p *phases) run(ctx context.Context, in *flow.Inputs) error {
	c, sum, r := p.c, p.sum, p.r
	// Phase 1: ids. Each file group gets a contiguous id range, in group order.
	err := r.Phase(&sum.Phases, "ids", dataio.JoinPath(p.root, "ids"), &p.idTasks, func(dir string) ([]task.Task, error) {
		return flow.AssignIDs(ctx, "exact", in.Groups, dir, c.SplitBytes)
	})
	if err != nil {
		return err
	}
	if err := flow.CopyToOutput(p.dst, []string{dataio.JoinPath(p.root, "ids", "id_map.json")}, "id_map.json"); err != nil {
		return err
	}
	dupFiles, err := p.hash(ctx)
	if err != nil {
		return err
	}
	sum.Kept = sum.Documents - sum.Duplicates
	sum.Records = sum.Documents + sum.BadRecords

	// Phase 3: removal (never cached: it writes the output). With
	// --no-remove it runs only to list the removed ids, if asked to.
	res, err := r.Remove(ctx, c.io(), flow.Removal{Type: "exact_remove", Files: in.Files, NumGroups: len(in.Groups), IDTasks: p.idTasks,
		Duplicates: dupFiles, DuplicateCount: sum.Duplicates, Records: sum.Records, RemovedDir: dataio.JoinPath(p.root, "removed_ids"), Dst: p.dst})
	if err != nil {
		return err
	}
	if res.Phase != nil {
		sum.Phases = append(sum.Phases, *res.Phase)
	}
	sum.OutputDir, sum.RecordsWritten, sum.RemovedIDsOut = res.OutputDir, res.RecordsWritten, res.RemovedIDsOut
	p.w.written = res.Written
	return nil
}

// hash runs phase 2: every document's MD5 shuffled by hash, the duplicates
// of each group written by the rank owning it. It fills the counts, copies
// the duplicates files and the quarantine to the output, and returns the
// duplicates files.
func (p *phases) hash(ctx context.Context) ([]string, error) {
	c, sum := p.c, p.sum
	idField, idSingleLine := flow.IDRequirement(c.io())
	readTasks := flow.SectionTasks(p.idTasks)
	var out []task.Task
	err := p.r.Phase(&sum.Phases, "hash", dataio.JoinPath(p.root, "hash"), &out, func(dir string) ([]task.Task, error) {
		st, err := p.r.Build("exact_hash", HashConfig{OutputDir: dir, TextField: c.TextField, OnBadRecord: c.OnBadRecord,
			Normalize: c.Normalize, IDField: idField, IDSingleLine: idSingleLine, NumPartitions: numPartitions(len(readTasks)),
			Ledger: &LedgerConfig{IDMap: dataio.JoinPath(p.root, "ids", "id_map.json"), IDField: c.IDField, ParamsHash: sum.ParamsHash}})
		if err != nil {
			return nil, err
		}
		return p.r.Execute(ctx, st, readTasks)
	})
	if err != nil {
		return nil, err
	}
	dupFiles, ledgerParts, quarantines, top, err := p.collect(out)
	if err != nil {
		return nil, err
	}
	members := make(map[int64][]int64)
	for _, g := range top {
		members[g.Group] = g.Members
	}
	flow.DescribeGroups(ctx, c.io(), p.r.Logger, sum.LargestGroups, members, p.idTasks, originalIDs(top))
	if len(quarantines) > 0 {
		sum.Quarantine = dataio.JoinPath(c.Output, "quarantine.jsonl")
		if err := flow.CopyToOutput(p.dst, quarantines, "quarantine.jsonl"); err != nil {
			return nil, err
		}
	}
	for _, f := range dupFiles {
		if err := flow.CopyToOutput(p.dst, []string{f}, "duplicates/"+dataio.BaseOf(f)); err != nil {
			return nil, err
		}
	}
	return dupFiles, p.audit(ctx, ledgerParts)
}

// audit copies the ledger into the output, checks it has one row per
// duplicate, counts the removals per source, and reads the start of the
// largest groups' described members.
func (p *phases) audit(ctx context.Context, ledgerParts []string) error {
	files, err := flow.IDFiles(p.idTasks)
	if err != nil {
		return err
	}
	if err := p.sum.AddLedger(ctx, p.c.io(), p.dst, ledgerParts, files, p.sum.Duplicates, nil); err != nil {
		return err
	}
	flow.ReadSampleTexts(ctx, p.c.io(), p.r.Logger, files, p.sum.LargestGroups, nil)
	return nil
}

// numPartitions is the hash shuffle's partition count for n input tasks:
// NeMo Curator's one per three tasks, at least 64 so that extraction (and
// a spill's merge) works on small pieces.
func numPartitions(n int) int { return max(64, n/3) }

// collect adds up the hash phase's counts and group-size histograms over
// the ranks and merges their largest groups. It returns the duplicates
// files and the ledger parts (sorted), the quarantine parts and the
// largest groups with their members.
func (p *phases) collect(out []task.Task) (dupFiles, ledgerParts, quarantines []string, largest []topGroup, err error) {
	sum := p.sum
	var top []topGroup
	for _, t := range out {
		m := t.Meta()
		sum.Documents += flow.Atoi(m[metaDocs])
		sum.BadRecords += flow.Atoi(m[metaBad])
		sum.EmptyDocuments += flow.Atoi(m[metaEmptyDocs])
		sum.EmptyFiles += flow.Atoi(m[metaEmptyFiles])
		sum.TextBytes += flow.Atoi(m[metaBytes])
		sum.Duplicates += flow.Atoi(m[metaDups])
		sum.DuplicateGroups += flow.Atoi(m[metaGroups])
		if sum.GroupSizes, err = flow.AddSizeHistogram(sum.GroupSizes, m[metaSizeHist]); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("hash: %s: %w", t.ID(), err)
		}
		var tg []topGroup
		var qs []string
		if err := json.Unmarshal([]byte(m[metaTopGroups]), &tg); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("hash: top groups of %s: %w", t.ID(), err)
		}
		if err := json.Unmarshal([]byte(m[metaQuarantine]), &qs); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("hash: quarantine parts of %s: %w", t.ID(), err)
		}
		top, quarantines = append(top, tg...), append(quarantines, qs...)
		paths := t.(*task.FileGroup).Paths
		if len(paths) < 2 {
			return nil, nil, nil, nil, fmt.Errorf("hash: task %s names no ledger part", t.ID())
		}
		dupFiles, ledgerParts = append(dupFiles, paths[0]), append(ledgerParts, paths[1])
	}
	sort.Strings(dupFiles)
	sort.Strings(ledgerParts)
	sort.Strings(quarantines)
	slices.SortFunc(top, func(a, b topGroup) int {
		if lessGroup(a.GroupSize, b.GroupSize) {
			return -1
		}
		return 1
	})
	largest = top[:min(len(top), 10)]
	sum.LargestGroups = []flow.LargestGroup{}
	for _, g := range largest {
		sum.LargestGroups = append(sum.LargestGroups, flow.LargestGroup{GroupSize: g.GroupSize})
	}
	return dupFiles, ledgerParts, quarantines, largest, nil
}
