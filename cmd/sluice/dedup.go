package main

import (
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
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stages/builtin"
	"github.com/spf13/cobra"
)

func (a *app) dedupCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dedup", Short: "Deduplicate a dataset (fuzzy)",
		// `sluice dedup DIR` names no method: say what to type instead of
		// cobra's "unknown command".
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr(fmt.Errorf("sluice dedup needs a method first: sluice dedup fuzzy --input %s --output DIR", strings.Join(args, " ")))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.fuzzyCmd())
	return cmd
}

type fuzzyFlags struct {
	cfg         fuzzy.Config
	preset      string
	memoryLimit string
	blockSize   string
	workers     int
	mode        string
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
	fl.StringSliceVar(&c.Inputs, "input", nil, "input files or directories (repeatable, or given as arguments); directories are walked for JSON Lines (.jsonl, .json, plain or .gz/.zst/.zstd) and .parquet files, and the files skipped are logged")
	fl.StringVar(&c.Output, "output", "", "output directory (required)")
	fl.StringVar(&c.Cache, "cache", "", "cache directory for intermediates (default OUTPUT/_cache)")
	fl.StringVar(&c.InputFormat, "input-format", "", "jsonl or parquet (default: by file extension)")
	fl.StringVar(&c.TextField, "text-field", c.TextField, "field holding the document text")
	fl.StringVar(&c.IDField, "id-field", c.IDField, "the input's own id field, used by --removed-ids-out: every record must then hold a non-empty string or a number there (else it is a bad record, see --on-bad-record)")
	fl.StringVar(&c.OnBadRecord, "on-bad-record", c.OnBadRecord, "fail: stop at the first bad record (naming file:line and field); skip: quarantine it and count it")
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
	fl.StringVar(&f.memoryLimit, "memory-limit", "4GiB", "memory for buffered LSH shuffle rows, shared by the LSH actors, before they spill sorted runs to the cache directory, e.g. 256MiB, 16GiB (0: unlimited)")
	fl.IntVar(&c.FilesPerPartition, "files-per-partition", 0, "input files per file group (default: one file per group)")
	fl.StringVar(&f.blockSize, "blocksize", "", "group input files into groups of about this size, e.g. 1GiB (instead of --files-per-partition)")
	fl.IntVar(&f.workers, "workers", 0, "CPU budget for actors (default: the number of logical CPUs)")
	fl.StringVar(&f.mode, "mode", string(executor.Streaming), "executor mode: streaming or stage-by-stage")
	fl.BoolVar(&c.NoRemove, "no-remove", false, "find duplicates but do not write the deduplicated dataset (--removed-ids-out still lists the removed ids)")
	fl.StringVar(&c.RemovedIDsOut, "removed-ids-out", "", "also list the --id-field values of removed documents in this file, by its extension: .jsonl or .json, one JSON value per line (each id exactly as in the input); .parquet, one string column named after --id-field; anything else, one id per line (then an id holding a line break is a bad record)")
	fl.BoolVar(&c.Overwrite, "overwrite", false, "replace the output of an earlier run in --output (only the files Sluice wrote there; others are kept) and an existing --removed-ids-out file")
	fl.BoolVar(&c.RemoveCache, "remove-cache", false, "delete this run's cache entry after a successful run (and the cache directory, if that leaves it empty); a re-run then starts from scratch")
	return cmd
}

func (a *app) runFuzzy(cmd *cobra.Command, f *fuzzyFlags) error {
	c := f.cfg
	if len(c.Inputs) == 0 || c.Output == "" {
		return usageErr(errors.New("dedup fuzzy: --input and --output are required"))
	}
	var err error
	if c.MemoryLimit, err = parseSize(f.memoryLimit); err != nil {
		return usageErr(fmt.Errorf("--memory-limit: %w", err))
	}
	if f.blockSize != "" {
		if c.BlockSize, err = parseSize(f.blockSize); err != nil {
			return usageErr(fmt.Errorf("--blocksize: %w", err))
		}
	}
	if err := checkFuzzyFlags(cmd, f, c); err != nil {
		return usageErr(err)
	}
	mode := executor.Mode(f.mode)
	if mode != executor.Streaming && mode != executor.StageByStage {
		return usageErr(fmt.Errorf("--mode %q: want streaming or stage-by-stage", f.mode))
	}
	// Inputs and parameters are checked before anything is written.
	w := &fuzzy.Workflow{Cfg: c, Registry: builtin.Registry(), Logger: a.logger}
	if err := w.Check(cmd.Context()); err != nil {
		if errors.Is(err, fuzzy.ErrConfig) {
			return usageErr(err)
		}
		return failedErr(err)
	}
	// Shuffle spills go under the cache directory, on the disk the user
	// chose for intermediates, not the system temp dir (often a small tmpfs).
	// The directory is created only when a shuffle starts, after the
	// workflow has checked the paths.
	scratch := filepath.Join(c.CacheDir(), "_spill")
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
	w.Runtime, w.Executor = rt, exCfg
	sum, err := w.Run(cmd.Context())
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
		fmt.Fprintf(w, "largest group #%d\tid %d, %d documents%s\n", i+1, g.Group, g.Size, describeMembers(g.Members))
	}
	for _, p := range s.Phases {
		state := fmt.Sprintf("%.2fs wall, %.2fs CPU", p.WallSec, p.CPUSec)
		if p.Resumed {
			state = "resumed from cache"
		}
		fmt.Fprintf(w, "phase %s\t%s\n", p.Name, state)
	}
	fmt.Fprintf(w, "total\t%.2fs wall, %.2fs CPU, peak RSS %.1f MiB\n", s.WallSec, s.CPUSec, float64(s.PeakRSSBytes)/(1<<20))
	fmt.Fprintf(w, "summary\t%s\n", "summary.json in the output directory")
	w.Flush()
}

// zeroMeansDefault lists the numeric flags of dedup fuzzy whose zero value
// stands for "not given": given explicitly, 0 is an error rather than
// silently the default.
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

// checkFuzzyFlags rejects flag values a run must not silently reinterpret.
func checkFuzzyFlags(cmd *cobra.Command, f *fuzzyFlags, c fuzzy.Config) error {
	fl := cmd.Flags()
	values := map[string]int64{
		"char-ngrams": int64(c.CharNgrams), "bands": int64(c.Bands), "rows": int64(c.Rows),
		"bands-per-iteration": int64(c.BandsPerIteration), "hash-bits": int64(c.HashBits),
		"workers": int64(f.workers), "files-per-partition": int64(c.FilesPerPartition), "blocksize": c.BlockSize,
	}
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
