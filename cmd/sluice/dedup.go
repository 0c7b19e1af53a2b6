package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stages/builtin"
	"github.com/spf13/cobra"
)

func (a *app) dedupCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dedup", Short: "Deduplicate a dataset (fuzzy)"}
	cmd.AddCommand(a.fuzzyCmd())
	return cmd
}

type fuzzyFlags struct {
	cfg         fuzzy.Config
	memoryLimit string
	blockSize   string
	workers     int
	mode        string
}

func (a *app) fuzzyCmd() *cobra.Command {
	f := fuzzyFlags{cfg: fuzzy.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "fuzzy --input PATH... --output DIR",
		Short: "Fuzzy deduplication: MinHash → LSH → connected components → removal",
		Long: `Find near-duplicate documents and write the dataset without them.

Phases: ids (a contiguous id range per file group, in input order), MinHash
(NeMo Curator's scheme), LSH (band ranges over shuffle actors), connected
components (a collective group), and removal. In each group of near-duplicates
the earliest document in input order is kept.

Outputs in --output: deduplicated/ (same format and layout as the input; JSONL
lines byte-identical), duplicates/*.parquet (removed ids, sorted), id_map.json
(id ranges per file), summary.json, and quarantine.jsonl with
--on-bad-record=skip. Intermediates are cached in --cache under a key of the
parameters: a re-run resumes from finished phases; other parameters never reuse
stale intermediates. See docs/fuzzy-dedup.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runFuzzy(cmd, &f) },
	}
	fl := cmd.Flags()
	c := &f.cfg
	fl.StringSliceVar(&c.Inputs, "input", nil, "input files or directories (repeatable; JSONL .jsonl/.jsonl.gz/.jsonl.zst or .parquet)")
	fl.StringVar(&c.Output, "output", "", "output directory (required)")
	fl.StringVar(&c.Cache, "cache", "", "cache directory for intermediates (default OUTPUT/_cache)")
	fl.StringVar(&c.InputFormat, "input-format", "", "jsonl or parquet (default: by file extension)")
	fl.StringVar(&c.TextField, "text-field", c.TextField, "field holding the document text")
	fl.StringVar(&c.IDField, "id-field", c.IDField, "the input's own id field, used by --removed-ids-out")
	fl.StringVar(&c.OnBadRecord, "on-bad-record", c.OnBadRecord, "fail: stop at the first bad record (naming file:line and field); skip: quarantine it and count it")
	fl.IntVar(&c.CharNgrams, "char-ngrams", c.CharNgrams, "shingle width in characters")
	fl.IntVar(&c.Bands, "bands", c.Bands, "LSH bands (at most 65535)")
	fl.IntVar(&c.Rows, "rows", c.Rows, "rows (hashes) per band; permutations = bands × rows")
	fl.IntVar(&c.BandsPerIteration, "bands-per-iteration", c.BandsPerIteration, "bands per LSH shuffle pass: fewer bounds memory, more takes fewer passes")
	fl.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the MinHash permutation parameters")
	fl.IntVar(&c.HashBits, "hash-bits", c.HashBits, "32 or 64")
	fl.BoolVar(&c.Normalize, "normalize", false, "shingle lower-cased text with punctuation and white space collapsed, so case, punctuation and spacing edits do not count (default: raw text, NeMo Curator's scheme)")
	fl.Float64Var(&c.VerifyThreshold, "verify-threshold", 0, "keep only candidate pairs whose shingle Jaccard is ≥ this (0: off); exact, from shingle hashes the MinHash phase then keeps (estimated from signatures with --hash-bits 64)")
	fl.StringVar(&f.memoryLimit, "memory-limit", "4GiB", "memory for buffered LSH shuffle rows, shared by the LSH actors, before they spill sorted runs to the cache directory, e.g. 256MiB, 16GiB (0: unlimited)")
	fl.IntVar(&c.FilesPerPartition, "files-per-partition", 0, "input files per file group (default: one file per group)")
	fl.StringVar(&f.blockSize, "blocksize", "", "group input files into groups of about this size, e.g. 1GiB (instead of --files-per-partition)")
	fl.IntVar(&f.workers, "workers", 0, "CPU budget for actors (default: the number of logical CPUs)")
	fl.StringVar(&f.mode, "mode", string(executor.Streaming), "executor mode: streaming or stage-by-stage")
	fl.BoolVar(&c.NoRemove, "no-remove", false, "find duplicates but do not write the deduplicated dataset (--removed-ids-out still lists the removed ids)")
	fl.StringVar(&c.RemovedIDsOut, "removed-ids-out", "", "also write the --id-field values of removed documents, one per line")
	return cmd
}

func (a *app) runFuzzy(cmd *cobra.Command, f *fuzzyFlags) error {
	c := f.cfg
	if len(c.Inputs) == 0 || c.Output == "" {
		return usageErr(errors.New("dedup fuzzy: --input and --output are required"))
	}
	var err error
	if c.MemoryLimit, err = dataio.ParseByteSize(f.memoryLimit); err != nil {
		return usageErr(fmt.Errorf("--memory-limit: %w", err))
	}
	if f.blockSize != "" {
		if c.BlockSize, err = dataio.ParseByteSize(f.blockSize); err != nil {
			return usageErr(fmt.Errorf("--blocksize: %w", err))
		}
	}
	if f.workers < 0 {
		return usageErr(fmt.Errorf("--workers %d must not be negative", f.workers))
	}
	mode := executor.Mode(f.mode)
	if mode != executor.Streaming && mode != executor.StageByStage {
		return usageErr(fmt.Errorf("--mode %q: want streaming or stage-by-stage", f.mode))
	}
	// Shuffle spills go under the cache directory, on the disk the user
	// chose for intermediates, not the system temp dir (often a small tmpfs).
	scratch := filepath.Join(c.CacheDir(), "_spill")
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return failedErr(fmt.Errorf("dedup fuzzy: spill directory: %w", err))
	}
	defer os.Remove(scratch) // only when empty: every shuffle removes its own files
	rt, err := local.New(local.Options{CPUs: float64(f.workers), Logger: a.logger, ScratchDir: scratch})
	if err != nil {
		return failedErr(err)
	}
	defer rt.Close()
	exCfg := executor.Config{Mode: mode, Logger: a.logger, ShuffleMemoryLimit: c.MemoryLimit}
	if isTerminal(a.stderr) {
		exCfg.Progress = a.stderr
	}
	w := &fuzzy.Workflow{Cfg: c, Runtime: rt, Executor: exCfg, Registry: builtin.Registry(), Logger: a.logger}
	sum, err := w.Run(cmd.Context())
	if err != nil {
		if errors.Is(err, fuzzy.ErrConfig) {
			return usageErr(err)
		}
		if cmd.Context().Err() != nil {
			return failedErr(fmt.Errorf("interrupted (%w); the same command resumes from the phases that finished", err))
		}
		return failedErr(err)
	}
	a.printFuzzySummary(sum)
	return nil
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
	for i, g := range s.LargestGroups {
		if i == 3 {
			break
		}
		fmt.Fprintf(w, "largest group #%d\tid %d, %d documents\n", i+1, g.Group, g.Size)
	}
	for _, p := range s.Phases {
		state := fmt.Sprintf("%.2fs wall, %.2fs CPU", p.WallSec, p.CPUSec)
		if p.Resumed {
			state = "resumed from cache"
		}
		fmt.Fprintf(w, "phase %s\t%s\n", p.Name, state)
	}
	if len(s.Nodes) > 1 {
		for _, n := range s.Nodes {
			fmt.Fprintf(w, "node %s\t%.2fs CPU in %d calls, peak RSS %.1f MiB\n", n.ID, n.CPUSec, n.Calls, float64(n.PeakRSSBytes)/(1<<20))
		}
	}
	fmt.Fprintf(w, "total\t%.2fs wall, %.2fs CPU, peak RSS %.1f MiB\n", s.WallSec, s.CPUSec, float64(s.PeakRSSBytes)/(1<<20))
	fmt.Fprintf(w, "head process\t%.2fs CPU\n", s.HeadCPUSec)
	fmt.Fprintf(w, "summary\t%s\n", "summary.json in the output directory")
	w.Flush()
}
