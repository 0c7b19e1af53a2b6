package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/sluice-data/sluice/dedup/exact"
	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/stages/builtin"
	"github.com/spf13/cobra"
)

type exactFlags struct {
	cfg         exact.Config
	memoryLimit string
	blockSize   string
	workers     int
	mode        string
	scratch     string
	cluster     clusterFlags
}

func (a *app) exactCmd() *cobra.Command {
	f := exactFlags{cfg: exact.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "exact [--input] PATH... --output DIR",
		Short: "Exact deduplication: MD5 of each text, shuffled by hash → removal",
		Long: `Find documents whose texts are byte-identical and write the dataset without
the later copies.

NeMo Curator's scheme: a document's key is the MD5 digest of its text's UTF-8
bytes, with no normalisation (--normalize hashes the text lower-cased, with
punctuation and white space collapsed, as fuzzy dedup's --normalize shingles
it). Phases: ids (a contiguous id range per file group, in input order), hash
(every key shuffled by hash to the actor owning it), and removal. In each group
of equal keys the earliest document in input order (the smallest id) is kept.

Outputs in --output: deduplicated/ (same format and layout as the input; JSONL
lines byte-identical), duplicates/*.parquet (removed ids, sorted),
ledger/part.N.parquet (the removal ledger: one row per removed document with
the document kept instead, the group and a hash of the parameters; 'sluice
explain --output DIR ID' shows a row and both texts), report.html (one
self-contained page of charts built from the summary), id_map.json (id
ranges per file), summary.json, and quarantine.jsonl with
--on-bad-record=skip. Intermediates are cached in --cache under a key of the
inputs and parameters: a re-run resumes from finished phases; entries whose
input files changed are pruned (logged, with their size). See
docs/exact-dedup.md.

Sluice never deletes or overwrites a file it did not write (docs/safety.md).
An --input that is, or lies inside, --output or --cache is refused before any
work (exit 2). An --output that holds the result of an earlier finished run,
or files Sluice did not write, is refused unless --overwrite is given;
--overwrite removes only the files Sluice wrote there and keeps the others.
The files of an interrupted run are replaced without --overwrite: the same
command resumes it.

Exit codes: 0 success; 1 the run failed; 2 usage or configuration error,
found before any work.`,
		// Positional arguments are inputs, as if given with --input.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.cfg.Inputs = append(f.cfg.Inputs, args...)
			return a.runExact(cmd, &f)
		},
	}
	c := &f.cfg
	addIOFlags(cmd, ioFlags{inputs: &c.Inputs, output: &c.Output, cache: &c.Cache, inputFormat: &c.InputFormat, textField: &c.TextField,
		idField: &c.IDField, onBad: &c.OnBadRecord, filesPerPartition: &c.FilesPerPartition, noRemove: &c.NoRemove,
		overwrite: &c.Overwrite, removeCache: &c.RemoveCache, removedIDsOut: &c.RemovedIDsOut, memoryLimit: &f.memoryLimit,
		blockSize: &f.blockSize, mode: &f.mode, workers: &f.workers, scratch: &f.scratch, cluster: &f.cluster}, "hash")
	cmd.Flags().BoolVar(&c.Normalize, "normalize", false, "hash the text lower-cased with punctuation and white space collapsed (fuzzy dedup's --normalize), so texts differing only in case, punctuation or spacing are duplicates (default: the raw UTF-8 bytes, NeMo Curator's scheme)")
	return cmd
}

func (a *app) runExact(cmd *cobra.Command, f *exactFlags) error {
	c := f.cfg
	if len(c.Inputs) == 0 || c.Output == "" {
		return usageErr(errors.New("dedup exact: --input and --output are required"))
	}
	var err error
	if c.MemoryLimit, c.BlockSize, err = parseDedupSizes(f.memoryLimit, f.blockSize); err != nil {
		return usageErr(err)
	}
	values := map[string]int64{"workers": int64(f.workers), "files-per-partition": int64(c.FilesPerPartition), "blocksize": c.BlockSize}
	if err := checkDedupFlags(cmd, values); err != nil {
		return usageErr(err)
	}
	if err := f.cluster.prepare(cmd.Flags(), append([]*string{&c.Cache, &c.Output, &c.RemovedIDsOut}, ptrs(c.Inputs)...)...); err != nil {
		return usageErr(err)
	}
	w := &exact.Workflow{Cfg: c, Registry: builtin.Registry(), Logger: a.logger}
	var sum *exact.Summary
	err = a.runDedup(cmd, dedupJob{check: w.Check, cacheDir: c.CacheDir(), scratch: f.scratch, workers: f.workers, mode: f.mode, memoryLimit: c.MemoryLimit, cluster: &f.cluster,
		run: func(ctx context.Context, rt runtime.Runtime, ex executor.Config) (err error) {
			w.Runtime, w.Executor = rt, ex
			sum, err = w.Run(ctx)
			return err
		},
		title: "sluice dedup exact", result: func() any { return summaryOrNil(sum) }})
	if err != nil {
		return err
	}
	a.printExactSummary(sum)
	return nil
}

func (a *app) printExactSummary(s *exact.Summary) {
	w := tabwriter.NewWriter(a.stderr, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "records read\t%d\n", s.Records)
	if !s.Params.NoRemove {
		fmt.Fprintf(w, "records written\t%d\n", s.RecordsWritten)
	}
	fmt.Fprintf(w, "documents hashed\t%d\n", s.Documents)
	fmt.Fprintf(w, "duplicates removed\t%d\n", s.Duplicates)
	fmt.Fprintf(w, "documents kept\t%d\n", s.Kept)
	fmt.Fprintf(w, "texts with duplicates\t%d\n", s.DuplicateGroups)
	fmt.Fprintf(w, "empty documents\t%d\n", s.EmptyDocuments)
	fmt.Fprintf(w, "bad records (quarantined)\t%d\n", s.BadRecords)
	printRunLines(w, s.LargestGroups, s.Phases, s.Nodes, s.WallSec, s.CPUSec, s.HeadCPUSec, s.PeakRSSBytes)
}
