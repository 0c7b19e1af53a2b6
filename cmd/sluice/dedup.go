package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stages/builtin"
	"github.com/spf13/cobra"
)

func (a *app) dedupCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dedup", Short: "Deduplicate a dataset (exact or fuzzy)",
		// `sluice dedup DIR` names no method: say what to type instead of
		// cobra's "unknown command".
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				in := strings.Join(args, " ")
				return usageErr(fmt.Errorf("sluice dedup needs a method first: sluice dedup fuzzy --input %s --output DIR, or sluice dedup exact --input %s --output DIR", in, in))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.exactCmd(), a.fuzzyCmd())
	return cmd
}

// ioFlags points at the fields of a dedup workflow's configuration that
// the flags both dedup commands share set.
type ioFlags struct {
	cluster                                               *clusterFlags // where the job runs: --listen, --nats, …
	inputs                                                *[]string
	output, cache, inputFormat, textField, idField, onBad *string
	filesPerPartition                                     *int
	noRemove, overwrite, removeCache                      *bool
	removedIDsOut                                         *string
	memoryLimit, blockSize, mode, scratch                 *string
	workers                                               *int
}

// addIOFlags defines the flags both dedup commands share; what names what
// the memory limit bounds.
func addIOFlags(cmd *cobra.Command, f ioFlags, memoryWhat string) {
	fl := cmd.Flags()
	fl.StringSliceVar(f.inputs, "input", nil, "input files or directories, local paths or s3:// URLs (repeatable, or given as arguments); directories are walked for JSON Lines (.jsonl, .json, plain or .gz/.zst/.zstd) and .parquet files, and the files skipped are logged")
	fl.StringVar(f.output, "output", "", "output directory, a local path or an s3:// prefix (required)")
	fl.StringVar(f.cache, "cache", "", "cache directory for intermediates, a local directory or an s3:// prefix (default OUTPUT/_cache)")
	fl.StringVar(f.scratch, "scratch", "", "local directory for shuffle spills and, with an s3:// cache, local copies of the stores --verify-threshold reads (default CACHE/_spill for a local cache, else the system temp directory); see docs/storage.md")
	fl.StringVar(f.inputFormat, "input-format", "", "jsonl or parquet (default: by file extension)")
	fl.StringVar(f.textField, "text-field", *f.textField, "field holding the document text")
	fl.StringVar(f.idField, "id-field", *f.idField, "the input's own id field, used by --removed-ids-out: every record must then hold a non-empty string or a number there (else it is a bad record, see --on-bad-record)")
	fl.StringVar(f.onBad, "on-bad-record", *f.onBad, "fail: stop at the first bad record (naming file:line and field); skip: quarantine it and count it")
	fl.StringVar(f.memoryLimit, "memory-limit", "4GiB", "memory for buffered "+memoryWhat+" shuffle rows, shared by its actors, before they spill sorted runs to the scratch directory (--scratch; with --listen or --nats: to each worker's --scratch), e.g. 256MiB, 16GiB (0: unlimited)")
	fl.IntVar(f.filesPerPartition, "files-per-partition", 0, "input files per file group (default: one file per group)")
	fl.StringVar(f.blockSize, "blocksize", "", "group input files into groups of about this size, e.g. 1GiB (instead of --files-per-partition)")
	fl.IntVar(f.workers, "workers", 0, "CPU budget for actors (default: the number of logical CPUs)")
	fl.StringVar(f.mode, "mode", string(executor.Streaming), "executor mode: streaming or stage-by-stage")
	fl.BoolVar(f.noRemove, "no-remove", false, "find duplicates but do not write the deduplicated dataset (--removed-ids-out still lists the removed ids)")
	fl.StringVar(f.removedIDsOut, "removed-ids-out", "", "also list the --id-field values of removed documents in this file, by its extension: .jsonl or .json, one JSON value per line (each id exactly as in the input); .parquet, one string column named after --id-field; anything else, one id per line (then an id holding a line break is a bad record)")
	fl.BoolVar(f.overwrite, "overwrite", false, "replace the output of an earlier run in --output (only the files Sluice wrote there; others are kept) and an existing --removed-ids-out file")
	fl.BoolVar(f.removeCache, "remove-cache", false, "delete this run's cache entry after a successful run (and the cache directory, if that leaves it empty); a re-run then starts from scratch")
	f.cluster.add(fl)
}

type fuzzyFlags struct {
	cfg         fuzzy.Config
	preset      string
	scratch     string
	memoryLimit string
	blockSize   string
	workers     int
	mode        string
	cluster     clusterFlags
}

func (a *app) fuzzyCmd() *cobra.Command {
	f := fuzzyFlags{cfg: fuzzy.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "fuzzy [--input] PATH... --output DIR",
		Short: "Fuzzy deduplication: MinHash → LSH → connected components → removal",
		Long: `Find near-duplicate documents and write the dataset without them.

Phases: ids (a contiguous id range per file group, in input order), MinHash
(NeMo Curator's scheme, or --scheme oph), LSH (band ranges over shuffle actors), connected
components (a collective group), and removal. In each group of near-duplicates
the earliest document in input order is kept.

Outputs in --output: deduplicated/ (same format and layout as the input; JSONL
lines byte-identical), duplicates/*.parquet (removed ids, sorted),
ledger/part.N.parquet (the removal ledger: one row per removed document with
the document kept instead, the group, their similarity and a hash of the
parameters; 'sluice explain --output DIR ID' shows a row and both texts),
report.html (one self-contained page of charts built from the summary),
id_map.json (id ranges per file), summary.json, and quarantine.jsonl with
--on-bad-record=skip. Intermediates are cached in --cache under a key of the
parameters: a re-run resumes from finished phases; other parameters never reuse
stale intermediates, and entries whose input files changed are pruned (logged,
with their size). See docs/fuzzy-dedup.md.

Sluice never deletes or overwrites a file it did not write (docs/safety.md).
An --input that is, or lies inside, --output or --cache is refused before any
work (exit 2). An --output that holds the result of an earlier finished run,
or files Sluice did not write, is refused unless --overwrite is given;
--overwrite removes only the files Sluice wrote there and keeps the others.
The files of an interrupted run are replaced without --overwrite: the same
command resumes it.`,
		// Positional arguments are inputs, as if given with --input.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.cfg.Inputs = append(f.cfg.Inputs, args...)
			if f.preset != "" {
				p, err := fuzzy.LookupPreset(f.preset)
				if err != nil {
					return usageErr(err)
				}
				p.Apply(&f.cfg, cmd.Flags().Changed) // explicit flags win
			}
			return a.runFuzzy(cmd, &f)
		},
	}
	fl := cmd.Flags()
	c := &f.cfg
	addIOFlags(cmd, ioFlags{inputs: &c.Inputs, output: &c.Output, cache: &c.Cache, inputFormat: &c.InputFormat, textField: &c.TextField,
		idField: &c.IDField, onBad: &c.OnBadRecord, filesPerPartition: &c.FilesPerPartition, noRemove: &c.NoRemove,
		overwrite: &c.Overwrite, removeCache: &c.RemoveCache, removedIDsOut: &c.RemovedIDsOut, memoryLimit: &f.memoryLimit,
		blockSize: &f.blockSize, mode: &f.mode, workers: &f.workers, scratch: &f.scratch, cluster: &f.cluster}, "LSH")
	fl.IntVar(&c.CharNgrams, "char-ngrams", c.CharNgrams, "shingle width in characters")
	fl.IntVar(&c.Bands, "bands", c.Bands, "LSH bands (at most 65535)")
	fl.IntVar(&c.Rows, "rows", c.Rows, "rows (hashes) per band; permutations = bands × rows")
	fl.IntVar(&c.BandsPerIteration, "bands-per-iteration", c.BandsPerIteration, "bands per LSH shuffle pass: fewer bounds memory, more takes fewer passes")
	fl.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the MinHash permutation parameters (with --scheme oph: of the shingle hash)")
	fl.IntVar(&c.HashBits, "hash-bits", c.HashBits, "32 or 64")
	fl.StringVar(&f.preset, "preset", "", presetHelp())
	fl.StringVar(&c.Scheme, "scheme", c.Scheme, "MinHash signature scheme: nemo (NeMo Curator's permutations, signatures identical to NeMo's) or oph (one-permutation hashing with optimal densification: signatures 3-6x faster, the whole run about 1.4x, the same LSH candidate curve and duplicates found; Jaccard estimates noisier only for documents with fewer shingles than bands x rows; signatures not comparable with NeMo's; 32-bit only)")
	fl.BoolVar(&c.Normalize, "normalize", false, "shingle lower-cased text with punctuation and white space collapsed, so case, punctuation and spacing edits do not count (default: raw text, NeMo Curator's scheme)")
	fl.Float64Var(&c.VerifyThreshold, "verify-threshold", 0, "keep only candidate pairs whose shingle Jaccard is ≥ this (0: off); exact, from shingle hashes the MinHash phase then keeps (estimated from signatures with --hash-bits 64)")
	return cmd
}

func (a *app) runFuzzy(cmd *cobra.Command, f *fuzzyFlags) error {
	c := f.cfg
	if len(c.Inputs) == 0 || c.Output == "" {
		return usageErr(errors.New("dedup fuzzy: --input and --output are required"))
	}
	var err error
	if c.MemoryLimit, c.BlockSize, err = parseDedupSizes(f.memoryLimit, f.blockSize); err != nil {
		return usageErr(err)
	}
	values := map[string]int64{
		"char-ngrams": int64(c.CharNgrams), "bands": int64(c.Bands), "rows": int64(c.Rows),
		"bands-per-iteration": int64(c.BandsPerIteration), "hash-bits": int64(c.HashBits),
		"workers": int64(f.workers), "files-per-partition": int64(c.FilesPerPartition), "blocksize": c.BlockSize,
	}
	if err := checkDedupFlags(cmd, values); err != nil {
		return usageErr(err)
	}
	if err := f.cluster.prepare(cmd.Flags(), append([]*string{&c.Cache, &c.Output, &c.RemovedIDsOut}, ptrs(c.Inputs)...)...); err != nil {
		return usageErr(err)
	}
	w := &fuzzy.Workflow{Cfg: c, Registry: builtin.Registry(), Logger: a.logger}
	var sum *fuzzy.Summary
	err = a.runDedup(cmd, dedupJob{check: w.Check, cacheDir: c.CacheDir(), scratch: f.scratch, workers: f.workers, mode: f.mode, memoryLimit: c.MemoryLimit, cluster: &f.cluster,
		run: func(ctx context.Context, rt runtime.Runtime, ex executor.Config) (err error) {
			w.Runtime, w.Executor = rt, ex
			sum, err = w.Run(ctx)
			return err
		},
		title: "sluice dedup fuzzy", result: func() any { return summaryOrNil(sum) }})
	if err != nil {
		return err
	}
	a.printFuzzySummary(sum)
	return nil
}

// summaryOrNil is s as an any that is nil when s is.
func summaryOrNil[T any](s *T) any {
	if s == nil {
		return nil
	}
	return s
}

// dedupJob is one run of a dedup workflow, for runDedup.
type dedupJob struct {
	// check validates the configuration and inputs before any work.
	check       func(context.Context) error
	cacheDir    string
	scratch     string // --scratch
	workers     int
	mode        string
	memoryLimit int64
	cluster     *clusterFlags
	// run runs the workflow on the runtime with the executor configuration.
	run func(context.Context, runtime.Runtime, executor.Config) error
	// title names the run on the dashboard; result returns its summary
	// once run has returned (nil if none).
	title  string
	result func() any
}

// runDedup checks a dedup job before any work (exit code 2 for what is
// wrong with flags, inputs or the output), starts the local runtime and
// runs the job, mapping its errors to exit codes.
func (a *app) runDedup(cmd *cobra.Command, j dedupJob) error {
	mode := executor.Mode(j.mode)
	if mode != executor.Streaming && mode != executor.StageByStage {
		return usageErr(fmt.Errorf("--mode %q: want streaming or stage-by-stage", j.mode))
	}
	// Inputs and parameters are checked before anything is written.
	if err := j.check(cmd.Context()); err != nil {
		if errors.Is(err, fuzzy.ErrConfig) {
			return usageErr(err)
		}
		return failedErr(err)
	}
	var rt runtime.Runtime
	if j.cluster.enabled() {
		// Workers spill to their own --scratch; the cache directory must be
		// shared, so the probe goes there.
		var err error
		if rt, err = a.startCluster(cmd.Context(), j.cluster, j.cacheDir); err != nil {
			return err
		}
	} else {
		scratch, err := scratchDir(j)
		if err != nil {
			return err
		}
		defer os.Remove(scratch) // only when empty: every shuffle removes its own files
		lrt, err := local.New(local.Options{CPUs: float64(j.workers), Logger: a.logger, ScratchDir: scratch})
		if err != nil {
			return failedErr(err)
		}
		rt = lrt
	}
	defer rt.Close()
	exCfg := executor.Config{Mode: mode, Logger: a.logger, ShuffleMemoryLimit: j.memoryLimit}
	if isTerminal(a.stderr) {
		exCfg.Progress = a.stderr
	}
	obs, err := a.observe(cmd.Context(), j.title)
	if err != nil {
		return err
	}
	defer obs.close(cmd.Context())
	err = j.run(cmd.Context(), rt, obs.config(exCfg))
	obs.finish(cmd.Context(), err, j.result())
	if err != nil {
		if errors.Is(err, fuzzy.ErrConfig) {
			return usageErr(err)
		}
		if errors.Is(err, dataio.ErrOutputRejected) {
			return configErr(err) // exit 2, refused before any work
		}
		if cmd.Context().Err() != nil {
			return failedErr(fmt.Errorf("interrupted (%w); the same command resumes from the phases that finished", err))
		}
		return failedErr(err)
	}
	return nil
}

// scratchDir is the local directory for shuffle spills: --scratch, else,
// with a local cache, CACHE/_spill, on the disk the user chose for
// intermediates rather than the system temp dir (often a small tmpfs), and
// with an s3:// cache a fresh directory in the system temp dir. The
// directory is created only when a shuffle starts, after the workflow has
// checked the paths.
func scratchDir(j dedupJob) (string, error) {
	switch {
	case j.scratch != "" && dataio.IsURL(j.scratch):
		return "", usageErr(fmt.Errorf("--scratch %s: want a local directory (spills need fast local disk)", j.scratch))
	case j.scratch != "":
		return filepath.Join(dataio.LocalPath(j.scratch), "_spill"), nil
	case dataio.IsURL(j.cacheDir):
		return filepath.Join(os.TempDir(), fmt.Sprintf("sluice-spill-%d", os.Getpid())), nil
	}
	return filepath.Join(dataio.LocalPath(j.cacheDir), "_spill"), nil
}

// parseDedupSizes parses --memory-limit and --blocksize ("" is 0).
func parseDedupSizes(memoryLimit, blockSize string) (mem, block int64, err error) {
	if mem, err = parseSize(memoryLimit); err != nil {
		return 0, 0, fmt.Errorf("--memory-limit: %w", err)
	}
	if blockSize != "" {
		if block, err = parseSize(blockSize); err != nil {
			return 0, 0, fmt.Errorf("--blocksize: %w", err)
		}
	}
	return mem, block, nil
}

func (a *app) printFuzzySummary(s *fuzzy.Summary) {
	w := tabwriter.NewWriter(a.stderr, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "records read\t%d\n", s.Records)
	if !s.Params.NoRemove {
		fmt.Fprintf(w, "records written\t%d\n", s.RecordsWritten)
	}
	fmt.Fprintf(w, "documents signed\t%d\n", s.Documents)
	fmt.Fprintf(w, "duplicates removed\t%d\n", s.Duplicates)
	fmt.Fprintf(w, "documents kept\t%d\n", s.Kept)
	fmt.Fprintf(w, "empty documents (kept, not bucketed)\t%d\n", s.EmptyDocuments)
	fmt.Fprintf(w, "bad records (quarantined)\t%d\n", s.BadRecords)
	fmt.Fprintf(w, "candidate edges\t%d\n", s.CandidateEdges)
	if s.Params.VerifyThreshold > 0 {
		fmt.Fprintf(w, "pairs rejected by verification\t%d\n", s.RejectedPairs)
	}
	printRunLines(w, s.LargestGroups, s.Phases, s.Nodes, s.WallSec, s.CPUSec, s.HeadCPUSec, s.PeakRSSBytes)
}

// printRunLines prints the end of a dedup summary to w and flushes it: the
// three largest groups, each phase, the totals and where summary.json is.
func printRunLines(w *tabwriter.Writer, groups []fuzzy.LargestGroup, phases []fuzzy.PhaseSummary, nodes []fuzzy.NodeSummary, wall, cpu, headCPU float64, rss int64) {
	for i, g := range groups {
		if i == 3 {
			break
		}
		fmt.Fprintf(w, "largest group #%d\tid %d, %d documents%s\n", i+1, g.Group, g.Size, describeMembers(g.Members))
	}
	for _, p := range phases {
		state := fmt.Sprintf("%.2fs wall, %.2fs CPU", p.WallSec, p.CPUSec)
		if p.Resumed {
			state = "resumed from cache"
		}
		fmt.Fprintf(w, "phase %s\t%s\n", p.Name, state)
	}
	if len(nodes) > 1 {
		for _, n := range nodes {
			fmt.Fprintf(w, "node %s\t%.2fs CPU in %d calls, peak RSS %.1f MiB\n", n.ID, n.CPUSec, n.Calls, float64(n.PeakRSSBytes)/(1<<20))
		}
	}
	fmt.Fprintf(w, "total\t%.2fs wall, %.2fs CPU, peak RSS %.1f MiB\n", wall, cpu, float64(rss)/(1<<20))
	fmt.Fprintf(w, "head process\t%.2fs CPU\n", headCPU)
	fmt.Fprintf(w, "summary\t%s\n", "summary.json in the output directory")
	w.Flush()
}

// zeroMeansDefault lists the numeric flags of the dedup commands whose
// zero value stands for "not given": given explicitly, 0 is an error rather
// than silently the default.
var zeroMeansDefault = map[string]string{
	"char-ngrams":         "a shingle width of at least 1 character",
	"bands":               "at least 1 band",
	"rows":                "at least 1 row per band",
	"bands-per-iteration": "at least 1 band per pass",
	"hash-bits":           "32 or 64",
	"workers":             "at least 1 CPU (leave the flag out for all logical CPUs)",
	"files-per-partition": "at least 1 file per group (leave the flag out for one file per group)",
	"blocksize":           "a positive size such as 1GiB (leave the flag out for one file per group)",
}

// checkDedupFlags rejects flag values a run must not silently reinterpret:
// an explicit value ≤ 0 of a flag in values (see zeroMeansDefault), and
// both ways of grouping the input files.
func checkDedupFlags(cmd *cobra.Command, values map[string]int64) error {
	fl := cmd.Flags()
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if v := values[name]; fl.Changed(name) && v <= 0 {
			return fmt.Errorf("--%s %s: want %s", name, fl.Lookup(name).Value.String(), zeroMeansDefault[name])
		}
	}
	if fl.Changed("files-per-partition") && fl.Changed("blocksize") {
		return errors.New("--files-per-partition and --blocksize both group the input files: give one, not both")
	}
	return nil
}

// parseSize is dataio.ParseByteSize with its errors in the user's words.
func parseSize(s string) (int64, error) {
	n, err := dataio.ParseByteSize(s)
	if err != nil {
		return 0, errors.New(strings.TrimPrefix(err.Error(), "dataio: "))
	}
	return n, nil
}

// describeMembers is ": kept ID; removed ID, ID" for a group's named
// members, by original id or else file:record.
func describeMembers(ms []fuzzy.GroupMember) string {
	var kept, removed []string
	for _, m := range ms {
		name := string(m.OriginalID)
		if name == "" {
			name = fmt.Sprintf("%s record %d", m.File, m.Record)
		}
		if m.Kept {
			kept = append(kept, name)
		} else {
			removed = append(removed, name)
		}
	}
	if len(kept)+len(removed) == 0 {
		return ""
	}
	out := ":"
	if len(kept) > 0 {
		out += " kept " + strings.Join(kept, ", ")
	}
	if len(removed) > 0 {
		if len(kept) > 0 {
			out += ";"
		}
		out += " removed " + strings.Join(removed, ", ")
	}
	return out
}

// presetHelp describes --preset and every preset.
func presetHelp() string {
	var sb strings.Builder
	sb.WriteString("set scheme, bands, rows, verification and normalization for a purpose (flags given explicitly win):")
	for _, p := range fuzzy.Presets() {
		fmt.Fprintf(&sb, " %s = %s: %s.", p.Name, p.Flags(), p.Summary)
	}
	return sb.String()
}
