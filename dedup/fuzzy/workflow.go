// Package fuzzy is Sluice's CPU fuzzy-deduplication workflow:
//
//	ids → MinHash → LSH (band iterations over shuffle actors) → edges →
//	connected components (a collective group) → duplicates → removal
//
// Each phase runs on the executor as its own pipeline, with its outputs kept
// in a cache directory versioned by the parameters that determine them, so a
// re-run resumes from the finished phases and a run with other parameters
// never mixes stale intermediates. See docs/fuzzy-dedup.md.
package fuzzy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/sluice-data/sluice/dedup/fuzzy/minhash"
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
// the same value as exact.ErrConfig.
var ErrConfig = flow.ErrConfig

// Config is everything `sluice dedup fuzzy` takes.
type Config struct {
	Inputs []string `json:"inputs"`
	Output string   `json:"output"`
	// Cache holds intermediates; default Output/_cache.
	Cache       string `json:"cache"`
	InputFormat string `json:"input_format"` // "", "jsonl" or "parquet"
	TextField   string `json:"text_field"`
	IDField     string `json:"id_field"`
	OnBadRecord string `json:"on_bad_record"` // fail | skip

	CharNgrams        int    `json:"char_ngrams"`
	Bands             int    `json:"bands"`
	Rows              int    `json:"rows"`
	BandsPerIteration int    `json:"bands_per_iteration"`
	Seed              uint64 `json:"seed"`
	HashBits          int    `json:"hash_bits"`
	// Scheme is the MinHash signature scheme: "nemo" (NeMo Curator's,
	// the default) or "oph" (one-permutation hashing, faster, not
	// comparable with NeMo's signatures); see docs/fuzzy-dedup.md.
	Scheme          string  `json:"scheme"`
	VerifyThreshold float64 `json:"verify_threshold"`
	// Normalize shingles lower-cased text with punctuation and white space
	// collapsed, instead of the raw text (NeMo Curator's scheme).
	Normalize bool `json:"normalize"`
	// MemoryLimit bounds the rows the LSH shuffle buffers before spilling
	// (bytes, 0 = unlimited; DefaultConfig sets DefaultMemoryLimit).
	MemoryLimit int64 `json:"memory_limit"`

	FilesPerPartition int   `json:"files_per_partition"`
	BlockSize         int64 `json:"block_size"`

	NoRemove      bool   `json:"no_remove"`
	RemovedIDsOut string `json:"removed_ids_out"`

	// Overwrite lets the run replace the output of an earlier finished run
	// in Output — only the files Sluice wrote there; others are kept — and
	// an existing RemovedIDsOut file. Without it such a run is refused; the
	// files of an interrupted run are replaced either way (see
	// docs/safety.md).
	Overwrite bool `json:"overwrite"`
	// RemoveCache deletes this run's cache entry after a successful run
	// (and the cache directory, if that leaves it empty).
	RemoveCache bool `json:"remove_cache"`

	// InputsInOrder takes Inputs, which must then be files, in the order
	// given instead of sorted: ids, and so which document of a group is
	// kept, follow that order (pipeline steps use it). Not a flag.
	InputsInOrder bool `json:"-"`

	// SplitBytes is the size above which an uncompressed JSONL file is read
	// by several MinHash tasks, one per section of about this size, so that
	// one large file still keeps every actor busy (default DefaultSplitBytes).
	SplitBytes int64 `json:"split_bytes"`
}

// CacheDir returns the directory for intermediates: Cache, or by default
// Output/_cache.
func (c Config) CacheDir() string {
	if c.Cache != "" {
		return c.Cache
	}
	return dataio.JoinPath(c.Output, "_cache")
}

// DefaultConfig returns NeMo Curator's defaults: 24-character shingles,
// 20 bands × 13 rows (260 permutations), seed 42, 32-bit hashes, 5 bands per
// LSH iteration — and a 4 GiB bound on the LSH shuffle's buffered rows
// (DefaultMemoryLimit).
func DefaultConfig() Config {
	return Config{TextField: "text", IDField: "id", OnBadRecord: "fail", CharNgrams: 24, Bands: 20, Rows: 13,
		BandsPerIteration: 5, Seed: 42, HashBits: 32, Scheme: string(minhash.SchemeNeMo), MemoryLimit: DefaultMemoryLimit}
}

// PhaseSummary is what one phase did.
type PhaseSummary = flow.PhaseSummary

// NodeSummary is what the calls of the whole workflow cost on one node.
type NodeSummary = flow.NodeSummary

// Summary is the workflow's final report, also written as Output/summary.json.
type Summary struct {
	// Records counts every input record: Documents (signed) + BadRecords.
	Records int64 `json:"records"`
	// RecordsWritten counts the records removal wrote (kept documents and
	// bad records, which stay in the output); Records = RecordsWritten +
	// Duplicates is checked at the end of every run that removes.
	RecordsWritten int64          `json:"records_written"`
	Documents      int64          `json:"documents"`
	Duplicates     int64          `json:"duplicates"`
	Kept           int64          `json:"kept"`
	EmptyDocuments int64          `json:"empty_documents"`
	BadRecords     int64          `json:"bad_records"`
	EmptyFiles     int64          `json:"empty_files"`
	TextBytes      int64          `json:"text_bytes"`
	CandidateEdges int64          `json:"candidate_edges"`
	Buckets        int64          `json:"buckets"`
	RejectedPairs  int64          `json:"rejected_pairs,omitempty"`
	NodesInGroups  int64          `json:"nodes_in_groups"`
	LargestGroups  []LargestGroup `json:"largest_groups"`
	Phases         []PhaseSummary `json:"phases"`
	WallSec        float64        `json:"wall_seconds"`
	// CPUSec sums the phases' CPU time (calls on every node, and the
	// driver's own phase). HeadCPUSec is the CPU time of the process that
	// ran the workflow; with the local runtime the actors run in it, so it
	// also counts what no call accounts for (garbage collection, the
	// driver's work between phases).
	CPUSec     float64       `json:"cpu_seconds"`
	HeadCPUSec float64       `json:"head_cpu_seconds"`
	Nodes      []NodeSummary `json:"nodes,omitempty"`
	// PeakRSSBytes is the largest peak RSS of the head process and of the
	// processes that ran the calls.
	PeakRSSBytes  int64  `json:"peak_rss_bytes"`
	CacheDir      string `json:"cache_dir"`
	CacheRemoved  bool   `json:"cache_removed,omitempty"`
	Quarantine    string `json:"quarantine,omitempty"`
	RemovedIDsOut string `json:"removed_ids_out,omitempty"`
	OutputDir     string `json:"deduplicated_dir,omitempty"`
	Params        Config `json:"params"`
	// SluiceVersion is the build that ran (internal/version).
	SluiceVersion string `json:"sluice_version"`
	// StartedAt and FinishedAt are RFC 3339 times in UTC.
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at"`
	// Audit: the removal ledger, the sources, the group-size histogram and
	// the report (flow.Audit); FuzzyAudit: the similarity histograms and the
	// precision sample (audit.go).
	flow.Audit
	FuzzyAudit
}

// Workflow runs fuzzy deduplication on a runtime.
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

// io is the part of the configuration the shared phases use.
func (c Config) io() flow.IO {
	return flow.IO{Inputs: c.Inputs, Output: c.Output, Cache: c.Cache, InputFormat: c.InputFormat, TextField: c.TextField,
		IDField: c.IDField, OnBadRecord: c.OnBadRecord, FilesPerPartition: c.FilesPerPartition, BlockSize: c.BlockSize,
		NoRemove: c.NoRemove, RemovedIDsOut: c.RemovedIDsOut, Overwrite: c.Overwrite, RemoveCache: c.RemoveCache, SplitBytes: c.SplitBytes,
		InOrder: c.InputsInOrder}
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
	var lshKey string
	entry := func(inputKey string) string {
		mhParts := []any{"minhash/v5", inputKey, c.SplitBytes, c.TextField, c.InputFormat, c.OnBadRecord, c.CharNgrams, c.Bands * c.Rows, c.Seed, c.HashBits, c.Normalize, storeShingles(c)}
		if idField, idSingleLine := flow.IDRequirement(c.io()); idField != "" { // ids checked: other bad records, other signatures
			mhParts = append(mhParts, "id", idField, idSingleLine)
		}
		mhParts = append(mhParts, "ledger-ids", c.IDField) // the id stores the ledger reads
		mhKey := flow.HashKey(mhParts...)
		if c.Scheme != string(minhash.SchemeNeMo) { // NeMo's keys stay as they were
			mhKey = flow.HashKey(mhKey, "scheme", c.Scheme)
		}
		lshKey = flow.HashKey("lsh/v4", mhKey, c.Bands, c.Rows, c.VerifyThreshold)
		return "mh-" + mhKey
	}
	run, err := flow.Begin(ctx, c.io(), flow.Runner{Runtime: w.Runtime, Executor: w.Executor, Registry: w.Registry, Logger: w.Logger, MemoryLimit: w.Cfg.MemoryLimit,
		Workflow: "dedup fuzzy", Plan: flow.PlanPhases(c.io(), "ids", "minhash", "lsh", "components")},
		&w.listed, entry, start, cpu0)
	if err != nil {
		return nil, err
	}
	sum.CacheDir = run.Root
	p := &phases{w: w, r: run.Runner, c: c, sum: sum, dst: run.Dst, root: run.Root, lshRoot: dataio.JoinPath(run.Root, "lsh-"+lshKey)}
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

// phases runs the workflow's phases for one Run.
type phases struct {
	w             *Workflow
	r             *flow.Runner
	c             Config
	sum           *Summary
	dst           *dataio.Output
	root, lshRoot string
	idTasks       []task.Task
}

// run runs the five phases, filling the summary.
func (p *phases) run(ctx context.Context, in *flow.Inputs) error {
	c, sum, r := p.c, p.sum, p.r
	// Phase 1: ids. Each file group gets a contiguous id range, in group order.
	err := r.Phase(&sum.Phases, "ids", dataio.JoinPath(p.root, "ids"), &p.idTasks, func(dir string) ([]task.Task, error) {
		return flow.AssignIDs(ctx, "fuzzy", in.Groups, dir, c.SplitBytes)
	})
	if err != nil {
		return err
	}
	if err := flow.CopyToOutput(p.dst, []string{dataio.JoinPath(p.root, "ids", "id_map.json")}, "id_map.json"); err != nil {
		return err
	}
	mhOut, err := p.minhash(ctx)
	if err != nil {
		return err
	}
	lshOut, err := p.lsh(ctx, mhOut)
	if err != nil {
		return err
	}
	dupFiles, err := p.components(ctx, mhOut, lshOut)
	if err != nil {
		return err
	}
	sum.Kept = sum.Documents - sum.Duplicates
	sum.Records = sum.Documents + sum.BadRecords

	// Phase 5: removal (never cached: it writes the output). With
	// --no-remove it runs only to list the removed ids, if asked to.
	res, err := r.Remove(ctx, c.io(), flow.Removal{Type: "fuzzy_remove", Files: in.Files, NumGroups: len(in.Groups), IDTasks: p.idTasks,
		Duplicates: dupFiles, DuplicateCount: sum.Duplicates, Records: sum.Records, RemovedDir: dataio.JoinPath(p.lshRoot, "removed_ids"), Dst: p.dst})
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

// minhash runs phase 2, MinHash, and counts what it read.
func (p *phases) minhash(ctx context.Context) ([]task.Task, error) {
	c, sum := p.c, p.sum
	idField, idSingleLine := flow.IDRequirement(c.io())
	var mhOut []task.Task
	err := p.r.Phase(&sum.Phases, "minhash", dataio.JoinPath(p.root, "minhash"), &mhOut, func(string) ([]task.Task, error) {
		st, err := p.r.Build("fuzzy_minhash", MinHashConfig{CacheDir: p.root, TextField: c.TextField, OnBadRecord: c.OnBadRecord,
			CharNgrams: c.CharNgrams, NumPerm: c.Bands * c.Rows, Seed: c.Seed, HashBits: c.HashBits, Scheme: c.Scheme, Normalize: c.Normalize, StoreShingles: storeShingles(c),
			IDField: idField, IDSingleLine: idSingleLine, StoreIDs: c.IDField})
		if err != nil {
			return nil, err
		}
		return p.r.Execute(ctx, st, flow.SectionTasks(p.idTasks))
	})
	if err != nil {
		return nil, err
	}
	var quarantines []string
	for _, t := range mhOut {
		m := t.Meta()
		sum.Documents += atoi(m[metaRows])
		sum.BadRecords += atoi(m[metaBad])
		sum.EmptyDocuments += atoi(m[metaEmptyDocs])
		sum.EmptyFiles += atoi(m[metaEmptyFiles])
		sum.TextBytes += atoi(m[metaBytes])
		if q := m[metaQuarantine]; q != "" {
			quarantines = append(quarantines, q)
		}
	}
	if len(quarantines) > 0 {
		sum.Quarantine = dataio.JoinPath(c.Output, "quarantine.jsonl")
		if err := flow.CopyToOutput(p.dst, quarantines, "quarantine.jsonl"); err != nil {
			return nil, err
		}
	}
	return mhOut, nil
}

// lsh runs phase 3, LSH: band ranges over shuffle actors, emitting edges.
func (p *phases) lsh(ctx context.Context, mhOut []task.Task) ([]task.Task, error) {
	c, sum := p.c, p.sum
	var lshOut []task.Task
	err := p.r.Phase(&sum.Phases, "lsh", dataio.JoinPath(p.lshRoot, "LSH"), &lshOut, func(dir string) ([]task.Task, error) {
		stores, err := storesOf(mhOut)
		if err != nil {
			return nil, err
		}
		lc := LSHConfig{OutputDir: dir, NumBands: c.Bands, Rows: c.Rows, BandsPerIteration: c.BandsPerIteration,
			NumPerm: c.Bands * c.Rows, HashBits: c.HashBits, NumPartitions: 64, VerifyThreshold: c.VerifyThreshold}
		if c.VerifyThreshold > 0 {
			lc.Stores = stores
		}
		st, err := p.r.Build("fuzzy_lsh", lc)
		if err != nil {
			return nil, err
		}
		return p.r.Execute(ctx, st, flow.CopyTasks(mhOut))
	})
	if err != nil {
		return nil, err
	}
	for _, t := range lshOut {
		sum.CandidateEdges += atoi(t.Meta()[metaEdges])
		sum.Buckets += atoi(t.Meta()[metaBuckets])
		sum.RejectedPairs += atoi(t.Meta()[metaVerified])
	}
	return lshOut, nil
}

// components runs phase 4, connected components as a collective group
// (each rank also writes its part of the removal ledger), and returns the
// duplicates files, copied to the output with the ledger.
func (p *phases) components(ctx context.Context, mhOut, lshOut []task.Task) ([]string, error) {
	sum := p.sum
	var ccOut []task.Task
	err := p.r.Phase(&sum.Phases, "components", dataio.JoinPath(p.lshRoot, "cc"), &ccOut, func(dir string) ([]task.Task, error) {
		// Every record, good or bad, takes an id: the ids phase's ranges
		// bound them.
		numIDs, err := flow.NumIDs(p.idTasks)
		if err != nil {
			return nil, err
		}
		lc, err := ledgerConfig(p.c, p.root, mhOut, sum.ParamsHash)
		if err != nil {
			return nil, err
		}
		st, err := p.r.Build("fuzzy_components", ComponentsConfig{OutputDir: dir, NumIDs: numIDs, Ledger: lc})
		if err != nil {
			return nil, err
		}
		return p.r.Execute(ctx, st, flow.CopyTasks(lshOut))
	})
	if err != nil {
		return nil, err
	}
	var dupFiles []string
	for _, t := range ccOut {
		m := t.Meta()
		sum.Duplicates += atoi(m[metaDups])
		sum.NodesInGroups += atoi(m[metaNodes])
		if tg := m[metaTopGroups]; tg != "" {
			if err := json.Unmarshal([]byte(tg), &sum.LargestGroups); err != nil {
				return nil, fmt.Errorf("components: top groups: %w", err)
			}
		}
		fg := t.(*task.FileGroup)
		dupFiles = append(dupFiles, fg.Paths[1])
	}
	p.w.describeGroups(ctx, p.c, sum.LargestGroups, ccOut, p.idTasks, mhOut)
	sort.Strings(dupFiles)
	for _, f := range dupFiles {
		if err := flow.CopyToOutput(p.dst, []string{f}, "duplicates/"+dataio.BaseOf(f)); err != nil {
			return nil, err
		}
	}
	if err := p.audit(ctx, ccOut, lshOut); err != nil {
		return nil, err
	}
	return dupFiles, nil
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
		return c, fmt.Errorf("%w: fuzzy: no --input given", ErrConfig)
	}
	if c.Output == "" {
		return c, fmt.Errorf("%w: fuzzy: --output is required", ErrConfig)
	}
	if c.Cache == "" {
		c.Cache = c.CacheDir()
	}
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
	if err := checkCounts(c); err != nil {
		return c, err
	}
	if c.CharNgrams == 0 {
		c.CharNgrams = d.CharNgrams
	}
	if c.SplitBytes <= 0 {
		c.SplitBytes = DefaultSplitBytes
	}
	if c.Bands == 0 {
		c.Bands = d.Bands
	}
	if c.Rows == 0 {
		c.Rows = d.Rows
	}
	if c.BandsPerIteration == 0 {
		c.BandsPerIteration = d.BandsPerIteration
	}
	if c.HashBits == 0 {
		c.HashBits = d.HashBits
	}
	if err := checkMinHashParams(c); err != nil {
		return c, err
	}
	if c.Bands > MaxBands {
		return c, fmt.Errorf("%w: fuzzy: --bands %d: at most %d (the bucket key stores the band in 16 bits)", ErrConfig, c.Bands, MaxBands)
	}
	if c.HashBits != 32 && c.HashBits != 64 {
		return c, fmt.Errorf("%w: fuzzy: --hash-bits %d: want 32 or 64", ErrConfig, c.HashBits)
	}
	scheme, err := minhash.ParseScheme(c.Scheme)
	if err != nil {
		return c, fmt.Errorf("%w: fuzzy: --%w", ErrConfig, err)
	}
	if c.Scheme = string(scheme); scheme == minhash.SchemeOPH && c.HashBits != 32 {
		return c, fmt.Errorf("%w: fuzzy: --scheme oph computes 32-bit signatures; --hash-bits %d is not supported", ErrConfig, c.HashBits)
	}
	if c.VerifyThreshold < 0 || c.VerifyThreshold > 1 {
		return c, fmt.Errorf("%w: fuzzy: --verify-threshold %g: want a value in [0, 1]", ErrConfig, c.VerifyThreshold)
	}
	if err := flow.CheckInputFormat("fuzzy", c.InputFormat); err != nil {
		return c, err
	}
	if w.Registry == nil {
		return c, fmt.Errorf("%w: fuzzy: no stage registry", ErrConfig)
	}
	return c, nil
}

// storeShingles reports whether the MinHash phase keeps shingle hashes:
// only for verification, which then computes exact Jaccard (32-bit hashes).
func storeShingles(c Config) bool { return c.VerifyThreshold > 0 && c.HashBits == 32 }

// DefaultSplitBytes is the default Config.SplitBytes.
const DefaultSplitBytes = 16 << 20

// DefaultMemoryLimit is DefaultConfig's MemoryLimit (the CLI's
// --memory-limit default): 4 GiB.
const DefaultMemoryLimit = 4 << 30

// MaxBands is the largest --bands: LSH bucket keys store the band index in
// 16 bits.
const MaxBands = 1<<16 - 1

// atoi parses a decimal metadata value.
func atoi(s string) int64 { return flow.Atoi(s) }
