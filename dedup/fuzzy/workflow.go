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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-data/sluice/dedup/fuzzy/minhash"
	"github.com/sluice-data/sluice/dedup/ledger"
	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/internal/version"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// ErrConfig is wrapped by errors in the workflow's configuration.
var ErrConfig = errors.New("invalid configuration")

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
	return filepath.Join(c.Output, "_cache")
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
type PhaseSummary struct {
	Name string `json:"name"`
	// Resumed is true when the phase's outputs came from the cache.
	Resumed bool                   `json:"resumed"`
	WallSec float64                `json:"wall_seconds"`
	CPUSec  float64                `json:"cpu_seconds"`
	Stages  []executor.StageReport `json:"stages,omitempty"`
}

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
	CPUSec         float64        `json:"cpu_seconds"`
	PeakRSSBytes   int64          `json:"peak_rss_bytes"`
	CacheDir       string         `json:"cache_dir"`
	CacheRemoved   bool           `json:"cache_removed,omitempty"`
	Quarantine     string         `json:"quarantine,omitempty"`
	RemovedIDsOut  string         `json:"removed_ids_out,omitempty"`
	OutputDir      string         `json:"deduplicated_dir,omitempty"`
	Params         Config         `json:"params"`
	// SluiceVersion is the build that ran (internal/version).
	SluiceVersion string `json:"sluice_version"`
	// StartedAt and FinishedAt are RFC 3339 times in UTC.
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at"`
	// Audit: the removal ledger, sources, histograms, the precision sample
	// and the report (audit.go).
	Audit
}

// Workflow runs fuzzy deduplication on a runtime.
type Workflow struct {
	Cfg      Config
	Runtime  runtime.Runtime
	Executor executor.Config
	Registry *stage.Registry
	Logger   *slog.Logger

	lastStages []executor.StageReport
	listed     *inputList // the inputs Check listed
}

// Run executes every phase and writes Output/summary.json.
func (w *Workflow) Run(ctx context.Context) (*Summary, error) {
	start, cpu0 := time.Now(), executor.ProcessCPU()
	c, err := w.normalize()
	if err != nil {
		return nil, err
	}
	log := w.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sum := &Summary{Params: c, SluiceVersion: strings.TrimPrefix(version.Short(), "sluice "), StartedAt: start.UTC().Format(time.RFC3339)}
	sum.ParamsHash = ledger.ParamsHash(paramsForHash(c))

	// Nothing is created before the paths are known to be safe.
	if err := checkPaths(c); err != nil {
		return nil, err
	}
	files, groups, err := w.prepare(ctx, c)
	if err != nil {
		return nil, err
	}
	fileKey := inputKey(files)
	mhParts := []any{"minhash/v4", fileKey, c.SplitBytes, c.TextField, c.InputFormat, c.OnBadRecord, c.CharNgrams, c.Bands * c.Rows, c.Seed, c.HashBits, c.Normalize, storeShingles(c)}
	idField, idSingleLine := minhashIDConfig(c)
	if idField != "" { // ids checked: other bad records, other signatures
		mhParts = append(mhParts, "id", idField, idSingleLine)
	}
	mhParts = append(mhParts, "ledger-ids", c.IDField) // the id stores the ledger reads
	mhKey := hashKey(mhParts...)
	if c.Scheme != string(minhash.SchemeNeMo) { // NeMo's keys stay as they were
		mhKey = hashKey(mhKey, "scheme", c.Scheme)
	}
	lshKey := hashKey("lsh/v4", mhKey, c.Bands, c.Rows, c.VerifyThreshold)
	root := filepath.Join(c.Cache, "mh-"+mhKey)
	sum.CacheDir = root
	dst, err := prepareOutput(c, files, log)
	if err != nil {
		return nil, err
	}
	pruneCache(c.Cache, root, log)
	if err := writeCacheEntry(root, files); err != nil {
		return nil, dataio.RejectOutput("--cache %s: cannot write the cache: %s", c.Cache, dataio.DescribeFSError(err))
	}

	// Phase 1: ids. Each file group gets a contiguous id range, in group order.
	var idTasks []task.Task
	err = w.phase(ctx, sum, log, "ids", filepath.Join(root, "ids"), &idTasks, func(dir string) ([]task.Task, error) {
		return assignIDs(ctx, groups, dir, c.SplitBytes)
	})
	if err != nil {
		return nil, err
	}
	if err := copyToOutput(dst, []string{filepath.Join(root, "ids", "id_map.json")}, "id_map.json"); err != nil {
		return nil, err
	}

	// Phase 2: MinHash.
	var mhOut []task.Task
	err = w.phase(ctx, sum, log, "minhash", filepath.Join(root, "minhash"), &mhOut, func(string) ([]task.Task, error) {
		st, err := w.build("fuzzy_minhash", MinHashConfig{CacheDir: root, TextField: c.TextField, OnBadRecord: c.OnBadRecord,
			CharNgrams: c.CharNgrams, NumPerm: c.Bands * c.Rows, Seed: c.Seed, HashBits: c.HashBits, Scheme: c.Scheme, Normalize: c.Normalize, StoreShingles: storeShingles(c),
			IDField: idField, IDSingleLine: idSingleLine, StoreIDs: c.IDField})
		if err != nil {
			return nil, err
		}
		return w.execute(ctx, st, sectionTasks(idTasks))
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
		sum.Quarantine = filepath.Join(c.Output, "quarantine.jsonl")
		if err := copyToOutput(dst, quarantines, "quarantine.jsonl"); err != nil {
			return nil, err
		}
	}

	// Phase 3: LSH, band ranges over shuffle actors, emitting edges.
	lshRoot := filepath.Join(root, "lsh-"+lshKey)
	var lshOut []task.Task
	err = w.phase(ctx, sum, log, "lsh", filepath.Join(lshRoot, "LSH"), &lshOut, func(dir string) ([]task.Task, error) {
		stores, err := storesOf(mhOut)
		if err != nil {
			return nil, err
		}
		lc := LSHConfig{OutputDir: dir, NumBands: c.Bands, Rows: c.Rows, BandsPerIteration: c.BandsPerIteration,
			NumPerm: c.Bands * c.Rows, HashBits: c.HashBits, NumPartitions: 64, VerifyThreshold: c.VerifyThreshold}
		if c.VerifyThreshold > 0 {
			lc.Stores = stores
		}
		st, err := w.build("fuzzy_lsh", lc)
		if err != nil {
			return nil, err
		}
		return w.execute(ctx, st, copyTasks(mhOut))
	})
	if err != nil {
		return nil, err
	}
	for _, t := range lshOut {
		sum.CandidateEdges += atoi(t.Meta()[metaEdges])
		sum.Buckets += atoi(t.Meta()[metaBuckets])
		sum.RejectedPairs += atoi(t.Meta()[metaVerified])
	}

	// Phase 4: connected components as a collective group → duplicates.
	var ccOut []task.Task
	err = w.phase(ctx, sum, log, "components", filepath.Join(lshRoot, "cc"), &ccOut, func(dir string) ([]task.Task, error) {
		// Every record, good or bad, takes an id: the ids phase's ranges
		// bound them.
		var numIDs int64
		for _, t := range idTasks {
			files, err := fileRanges(t)
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				numIDs = max(numIDs, f.Base+f.Count)
			}
		}
		lc, err := ledgerConfig(c, root, mhOut, sum.ParamsHash)
		if err != nil {
			return nil, err
		}
		st, err := w.build("fuzzy_components", ComponentsConfig{OutputDir: dir, NumIDs: numIDs, Ledger: lc})
		if err != nil {
			return nil, err
		}
		return w.execute(ctx, st, copyTasks(lshOut))
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
	w.describeGroups(ctx, c, sum.LargestGroups, ccOut, idTasks, mhOut)
	sort.Strings(dupFiles)
	for _, f := range dupFiles {
		if err := copyToOutput(dst, []string{f}, "duplicates/"+filepath.Base(f)); err != nil {
			return nil, err
		}
	}
	if err := w.audit(ctx, c, dst, sum, ccOut, lshOut, idTasks); err != nil {
		return nil, err
	}
	sum.Kept = sum.Documents - sum.Duplicates
	sum.Records = sum.Documents + sum.BadRecords

	// Phase 5: removal (never cached: it writes the output). With
	// --no-remove it runs only to list the removed ids, if asked to.
	if !c.NoRemove || c.RemovedIDsOut != "" {
		outData := filepath.Join(c.Output, "deduplicated")
		rc := RemoveConfig{OutputDir: outData, OutputRoot: c.Output, OutputMode: string(outputMode(c)), InputRoot: commonDir(files),
			Duplicates: dupFiles, IDField: c.IDField, TextField: c.TextField, ListOnly: c.NoRemove}
		if !c.NoRemove {
			sum.OutputDir = outData
		}
		var removedDir string
		if c.RemovedIDsOut != "" {
			// Per-group lists, inside the cache entry (Sluice's own).
			removedDir = filepath.Join(lshRoot, "removed_ids")
			if err := os.RemoveAll(removedDir); err != nil {
				return nil, fmt.Errorf("cache: %w", err)
			}
			rc.RemovedIDsDir = removedDir
		}
		st, err := w.build("fuzzy_remove", rc)
		if err != nil {
			return nil, err
		}
		t0, c0 := time.Now(), executor.ProcessCPU()
		out, err := w.execute(ctx, st, copyTasks(idTasks))
		if err != nil {
			return nil, err
		}
		name := "removal"
		if c.NoRemove {
			name = "list removed ids"
		}
		sum.Phases = append(sum.Phases, PhaseSummary{Name: name, WallSec: time.Since(t0).Seconds(), CPUSec: (executor.ProcessCPU() - c0).Seconds(), Stages: w.lastStages})
		var dropped, kept int64
		for _, t := range out {
			dropped += atoi(t.Meta()[metaDropped])
			kept += atoi(t.Meta()[metaKept])
		}
		if dropped != sum.Duplicates {
			return nil, fmt.Errorf("removal dropped %d documents but the removal list has %d", dropped, sum.Duplicates)
		}
		if kept+dropped != sum.Records {
			return nil, fmt.Errorf("record accounting: %d records read, %d kept + %d removed", sum.Records, kept, dropped)
		}
		if !c.NoRemove {
			// The final word is what is on disk, not what the stage reported.
			onDisk, err := countWritten(ctx, out)
			if err != nil {
				return nil, fmt.Errorf("record accounting: %w", err)
			}
			if onDisk != kept {
				return nil, fmt.Errorf("record accounting: removal reported %d records kept, but the files in %s hold %d", kept, outData, onDisk)
			}
			sum.RecordsWritten = onDisk
		}
		if removedDir != "" {
			var parts []string
			for i := range groups {
				parts = append(parts, filepath.Join(removedDir, "part-"+strconv.Itoa(i)+".jsonl"))
			}
			if err := writeRemovedIDs(c, dst, parts); err != nil {
				return nil, err
			}
			os.RemoveAll(removedDir)
			sum.RemovedIDsOut = c.RemovedIDsOut
		}
	}

	if c.RemoveCache {
		if err := removeCacheEntry(c.Cache, root, log); err != nil {
			return nil, fmt.Errorf("--remove-cache: %w", err)
		}
		sum.CacheRemoved = true
	}
	sum.FinishedAt = time.Now().UTC().Format(time.RFC3339)
	sum.WallSec = time.Since(start).Seconds()
	sum.CPUSec = (executor.ProcessCPU() - cpu0).Seconds()
	sum.PeakRSSBytes = executor.PeakRSS()
	if err := writeReport(dst, sum); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(sum, "", "  ")
	// summary.json is written last: its presence marks a finished run.
	if err := writeToOutput(dst, "summary.json", func(path string) error { return writeFileAtomic(path, append(b, '\n')) }); err != nil {
		return nil, err
	}
	return sum, nil
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
	if _, err := parsePolicy(c.OnBadRecord); err != nil {
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
	switch c.InputFormat {
	case "", "jsonl", "parquet":
	default:
		return c, fmt.Errorf("%w: fuzzy: --input-format %q: want jsonl or parquet", ErrConfig, c.InputFormat)
	}
	if w.Registry == nil {
		return c, fmt.Errorf("%w: fuzzy: no stage registry", ErrConfig)
	}
	return c, nil
}

// phase runs fn unless dir holds a finished phase; outputs are kept in
// dir/_DONE.json so that a later run can resume.
func (w *Workflow) phase(ctx context.Context, sum *Summary, log *slog.Logger, name, dir string, out *[]task.Task, fn func(dir string) ([]task.Task, error)) error {
	done := filepath.Join(dir, "_DONE.json")
	if b, err := os.ReadFile(done); err == nil {
		ts, err := decodeTasks(b)
		if err == nil {
			log.Info("resuming: phase already done in cache", "phase", name, "dir", dir)
			sum.Phases = append(sum.Phases, PhaseSummary{Name: name, Resumed: true})
			*out = ts
			return nil
		}
		log.Warn("cached phase marker unreadable; starting the phase clean", "phase", name, "err", err)
	}
	if _, err := os.Stat(dir); err == nil {
		log.Info("phase was interrupted earlier; starting it clean", "phase", name, "dir", dir)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	w.lastStages = nil
	t0, c0 := time.Now(), executor.ProcessCPU()
	ts, err := fn(dir)
	if err != nil {
		return fmt.Errorf("phase %s: %w", name, err)
	}
	sum.Phases = append(sum.Phases, PhaseSummary{Name: name, WallSec: time.Since(t0).Seconds(), CPUSec: (executor.ProcessCPU() - c0).Seconds(), Stages: w.lastStages})
	b, err := encodeTasks(ts)
	if err != nil {
		return err
	}
	if err := os.WriteFile(done+".tmp", b, 0o644); err != nil {
		return err
	}
	*out = ts
	return os.Rename(done+".tmp", done)
}

// build makes a registered stage from its config, so that the stage can be
// rebuilt in another process from its descriptor.
func (w *Workflow) build(typ string, cfg any) (stage.Stage, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return w.Registry.Build(stage.Descriptor{Type: typ, Config: b})
}

// execute runs one stage on the executor and keeps its report for the phase.
func (w *Workflow) execute(ctx context.Context, st stage.Stage, in []task.Task) ([]task.Task, error) {
	ec := w.Executor
	if ec.ShuffleMemoryLimit == 0 {
		ec.ShuffleMemoryLimit = w.Cfg.MemoryLimit // the LSH shuffle's bound, unless the executor sets one
	}
	ex := executor.New(w.Runtime, ec)
	out, err := ex.Execute(ctx, []stage.Stage{st}, in)
	w.lastStages = ex.Report().Stages
	if err != nil {
		if failed := ex.FailedTasks(); len(failed) > 0 {
			return nil, failedError(err, failed)
		}
		return nil, err
	}
	return out, nil
}

// assignIDs counts the records of every file and gives each file group a
// contiguous id range, in group order (not in the order actors finish), so
// ids are the same on every run. It writes dir/id_map.json.
func assignIDs(ctx context.Context, groups [][]string, dir string, splitBytes int64) ([]task.Task, error) {
	type job struct{ g, f int }
	counts := make([][]int64, len(groups))
	sections := make([][][]dataio.Section, len(groups))
	var jobs []job
	for g, files := range groups {
		counts[g] = make([]int64, len(files))
		sections[g] = make([][]dataio.Section, len(files))
		for f := range files {
			jobs = append(jobs, job{g, f})
		}
	}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	next := make(chan job)
	for range 4 {
		wg.Go(func() {
			for j := range next {
				path := groups[j.g][j.f]
				var n int64
				var secs []dataio.Section
				var err error
				fi, serr := os.Stat(path)
				large := serr == nil && fi.Size() > splitBytes
				switch {
				case large && dataio.FormatOf(path) == dataio.JSONL && dataio.CompressionOf(path) == dataio.NoCompression:
					secs, err = dataio.SplitJSONLContext(ctx, path, splitBytes)
				case large && dataio.FormatOf(path) == dataio.Parquet:
					// Parquet sections are runs of row groups, sized by
					// uncompressed bytes (text compresses about 2–3:1).
					secs, err = dataio.SplitParquet(path, 2*splitBytes)
				}
				if secs != nil || err != nil {
					for _, s := range secs {
						n += s.Rows
					}
				} else {
					n, err = dataio.CountRecordsContext(ctx, path)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("count records: %w", err)
				}
				counts[j.g][j.f] = n
				sections[j.g][j.f] = secs
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type idGroup struct {
		Group   int         `json:"group"`
		FirstID int64       `json:"first_id"`
		Count   int64       `json:"count"`
		Files   []fileRange `json:"files"`
	}
	var idmap []idGroup
	var tasks []task.Task
	var next64 int64
	for g, files := range groups {
		ig := idGroup{Group: g, FirstID: next64}
		for f, p := range files {
			ig.Files = append(ig.Files, fileRange{Path: p, Base: next64, Count: counts[g][f], Sections: sections[g][f]})
			next64 += counts[g][f]
			ig.Count += counts[g][f]
		}
		idmap = append(idmap, ig)
		t := task.NewFileGroup("fuzzy", files)
		b, _ := json.Marshal(ig.Files)
		t.Meta()[metaFiles] = string(b)
		t.Meta()[metaGroup] = strconv.Itoa(g)
		tasks = append(tasks, t)
	}
	b, _ := json.MarshalIndent(map[string]any{"total_ids": next64, "groups": idmap}, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "id_map.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return tasks, nil
}

type storedTask struct {
	ID    string            `json:"id"`
	Paths []string          `json:"paths"`
	Meta  map[string]string `json:"meta"`
}

func encodeTasks(ts []task.Task) ([]byte, error) {
	var st []storedTask
	for _, t := range ts {
		fg, ok := t.(*task.FileGroup)
		if !ok {
			return nil, fmt.Errorf("phase output %s is %s, want a file group", t.ID(), t.Kind())
		}
		st = append(st, storedTask{ID: fg.ID(), Paths: fg.Paths, Meta: fg.Meta()})
	}
	return json.MarshalIndent(st, "", "  ")
}

func decodeTasks(b []byte) ([]task.Task, error) {
	var st []storedTask
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	var ts []task.Task
	for _, s := range st {
		for _, p := range s.Paths {
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("cached output missing: %w", err)
			}
		}
		fg := &task.FileGroup{Header: task.Header{TaskID: s.ID, Metadata: s.Meta}, Paths: s.Paths}
		ts = append(ts, fg)
	}
	return ts, nil
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

// sectionTasks returns the MinHash tasks for the file groups: a group's task
// as is, or, for a group with a split file, one task per section of that
// file, plus one task per run of consecutive unsplit files of the group.
func sectionTasks(groups []task.Task) []task.Task {
	var out []task.Task
	for _, t := range copyTasks(groups) {
		files, err := fileRanges(t)
		split := false
		for _, f := range files {
			split = split || len(f.Sections) > 1
		}
		if err != nil || !split {
			out = append(out, t)
			continue
		}
		g := t.Meta()[metaGroup]
		// A MinHash task's signature store covers one contiguous id range,
		// so each run of consecutive whole files (no split file between
		// them) gets a task of its own.
		var whole []fileRange
		wholeStart := 0
		flush := func() {
			if len(whole) > 0 {
				out = append(out, rangeTask(t, fmt.Sprintf("%s-w%d", g, wholeStart), whole))
				whole = nil
			}
		}
		for fi, f := range files {
			if len(f.Sections) <= 1 {
				if len(whole) == 0 {
					wholeStart = fi
				}
				whole = append(whole, f)
				continue
			}
			flush()
			for si := range f.Sections {
				sec := f.Sections[si]
				fr := fileRange{Path: f.Path, Base: f.Base, Count: f.Count, Section: &sec}
				out = append(out, rangeTask(t, fmt.Sprintf("%s-%d-%d", g, fi, si), []fileRange{fr}))
			}
		}
		flush()
	}
	return out
}

func rangeTask(t task.Task, group string, files []fileRange) task.Task {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	fg := &task.FileGroup{Header: task.HeaderOf(t), Paths: paths}
	b, _ := json.Marshal(files)
	fg.Meta()[metaFiles] = string(b)
	fg.Meta()[metaGroup] = group
	fg.TaskID = t.ID() + "-" + group
	return fg
}

// copyTasks gives a phase its own copies of earlier outputs (stages set ids
// on the tasks they are handed).
func copyTasks(ts []task.Task) []task.Task {
	out := make([]task.Task, len(ts))
	for i, t := range ts {
		fg := t.(*task.FileGroup)
		out[i] = &task.FileGroup{Header: task.HeaderOf(fg), Paths: append([]string(nil), fg.Paths...)}
	}
	return out
}

func inputKey(files []string) string {
	var sb strings.Builder
	for _, f := range files {
		fi, err := os.Stat(f)
		if err == nil {
			fmt.Fprintf(&sb, "%s\x00%d\x00%d\n", f, fi.Size(), fi.ModTime().UnixNano())
		} else {
			fmt.Fprintf(&sb, "%s\x00?\n", f)
		}
	}
	return sb.String()
}

func hashKey(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// commonDir is the deepest directory containing every file.
func commonDir(files []string) string {
	if len(files) == 0 {
		return ""
	}
	dir := filepath.Dir(files[0])
	for _, f := range files[1:] {
		for !strings.HasPrefix(f, dir+string(filepath.Separator)) && dir != "/" && dir != "." {
			dir = filepath.Dir(dir)
		}
	}
	return dir
}

// concatFiles writes the concatenation of srcs (missing ones skipped) to dst,
// through a hidden temporary file renamed into place.
func concatFiles(srcs []string, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := out.Name()
	for _, s := range srcs {
		in, err := os.Open(s)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			out.Close()
			os.Remove(tmp)
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if err != nil {
			out.Close()
			os.Remove(tmp)
			return err
		}
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil { // CreateTemp makes 0600
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
