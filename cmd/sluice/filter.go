package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/pipeline"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/builtin"
	"github.com/sluice-data/sluice/stages/filter"
	"github.com/sluice-data/sluice/text"
	"github.com/spf13/cobra"
)

type filterFlags struct {
	preset            string
	inputs            []string
	output            string
	rejected          string
	textField         string
	idField           string
	onBadRecord       string
	quarantine        string
	filesPerPartition int
	blockSize         string
	workers           int
	summaryJSON       string
	list              bool
	cluster           clusterFlags
}

func (a *app) filterCmd() *cobra.Command {
	var f filterFlags
	cmd := &cobra.Command{
		Use:   "filter --preset gopher|c4|fineweb|nemo --input PATH... --output DIR [--rejected DIR]",
		Short: "Apply a preset of heuristic quality filters (Gopher, C4, FineWeb, NeMo Curator's)",
		Long: `Apply a preset of heuristic quality filters to a dataset, in one pass per document.

Presets (rules and thresholds in docs/filters.md; list them with --list):
  gopher   Gopher quality and repetition rules (Rae et al. 2021)
  c4       C4 page cleaning (Raffel et al. 2020); rewrites the text, keeping
           the lines that end with terminal punctuation and have 5+ words
  fineweb  FineWeb's chain (Penedo et al. 2024): Gopher repetition, Gopher
           quality, C4 (rewrites the text), FineWeb rules
  nemo     NeMo Curator's English heuristic pipeline (28 filters)

Input is JSONL (.jsonl, .json, .gz, .zst) or Parquet, one format per run;
--output receives one file per input batch in the input's format (empty
when the batch lost every record). A kept JSONL record is written byte for
byte as read, unless a rule rewrote its text, in which case only its text
field changes; Parquet output keeps the input's columns and types. --rejected receives every dropped record
with "rejected_by" (the rule) and "rejected_score" added. The summary
accounts for every record: read = kept + dropped per rule, plus the bad
records --on-bad-record skip quarantines; the command exits 1 if they do not
add up. The output, rejected and quarantine directories must be new or empty
and outside the inputs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runFilter(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.preset, "preset", "", "rule set: gopher, c4, fineweb or nemo (required)")
	fl.StringSliceVar(&f.inputs, "input", nil, "input files or directories (repeatable; JSONL or Parquet)")
	fl.StringVar(&f.output, "output", "", "output directory for the kept records (required; must be new or empty)")
	fl.StringVar(&f.rejected, "rejected", "", "directory receiving the dropped records, each with rejected_by and rejected_score (must be new or empty)")
	fl.StringVar(&f.textField, "text-field", dataio.DefaultTextField, "field holding the document text")
	fl.StringVar(&f.idField, "id-field", dataio.DefaultIDField, "field holding the document id (\"-\" for none)")
	fl.StringVar(&f.onBadRecord, "on-bad-record", "fail", "fail: stop at the first bad record (naming file:line and field); skip: quarantine it (needs --quarantine) and count it")
	fl.StringVar(&f.quarantine, "quarantine", "", "with --on-bad-record skip: directory receiving the bad records")
	fl.IntVar(&f.filesPerPartition, "files-per-partition", 0, "input files per task (default: one file per task)")
	fl.StringVar(&f.blockSize, "blocksize", "", "group input files into tasks of about this size, e.g. 1GiB (instead of --files-per-partition)")
	fl.IntVar(&f.workers, "workers", 0, "CPU budget for actors (default: the number of logical CPUs)")
	fl.StringVar(&f.summaryJSON, "summary-json", "", "also write the summary as JSON to this file")
	fl.BoolVar(&f.list, "list", false, "list the presets with their rules, and the filter types, then exit")
	f.cluster.add(fl)
	return cmd
}

func (a *app) runFilter(cmd *cobra.Command, f *filterFlags) (ferr error) {
	if f.list {
		return writeFilterList(a.stdout)
	}
	if err := f.cluster.prepare(cmd.Flags(), append([]*string{&f.output, &f.rejected, &f.quarantine}, ptrs(f.inputs)...)...); err != nil {
		return usageErr(err)
	}
	reader, qf, writer, err := f.descriptors()
	if err != nil {
		return usageErr(err)
	}
	reg := builtin.Registry()
	p := pipeline.New("filter-" + f.preset)
	for _, d := range []stage.Descriptor{reader, qf, writer} {
		s, err := reg.Build(d)
		if err != nil {
			return usageErr(err)
		}
		p.Add(s)
	}
	if err := p.Build(); err != nil {
		return usageErr(err)
	}
	var rt runtime.Runtime
	if f.cluster.enabled() {
		// The output's parent is on the shared filesystem: the output goes there.
		rt, err = a.startCluster(cmd.Context(), &f.cluster, filepath.Dir(f.output))
	} else if rt, err = local.New(local.Options{CPUs: float64(f.workers), Logger: a.logger}); err != nil {
		err = failedErr(err)
	}
	if err != nil {
		return err
	}
	defer rt.Close()
	cfg := executor.Config{Mode: executor.Streaming, Logger: a.logger}
	if isTerminal(a.stderr) {
		cfg.Progress = a.stderr
	}
	obs, err := a.observe(cmd.Context(), "sluice filter --preset "+f.preset)
	if err != nil {
		return err
	}
	defer obs.close(cmd.Context())
	cfg = obs.config(cfg)
	ex := executor.New(rt, cfg)
	start, cpu0 := time.Now(), executor.ProcessCPU()
	_, runErr := p.Run(cmd.Context(), ex, nil)
	sum := newFilterSummary(f, ex.Report(), time.Since(start), executor.ProcessCPU()-cpu0)
	defer func() { obs.finish(cmd.Context(), ferr, sum) }()
	if runErr != nil {
		if cmd.Context().Err() != nil {
			return failedErr(fmt.Errorf("filter: interrupted: %w", runErr))
		}
		return failedErr(fmt.Errorf("filter: %w", runErr))
	}
	if f.quarantine != "" {
		if sum.BadRecords, err = countQuarantined(f.quarantine); err != nil {
			return failedErr(fmt.Errorf("filter: counting quarantined records: %w", err))
		}
	}
	a.printFilterSummary(sum)
	if f.summaryJSON != "" {
		if err := writeJSON(f.summaryJSON, sum); err != nil {
			return failedErr(fmt.Errorf("--summary-json: %w", err))
		}
	}
	if !sum.accounted() {
		return failedErr(fmt.Errorf("filter: records do not add up: read %d, kept %d, dropped %d", sum.Read, sum.Kept, sum.Dropped))
	}
	return nil
}

// descriptors checks the flags and returns the three stages of the job.
func (f *filterFlags) descriptors() (reader, qf, writer stage.Descriptor, err error) {
	switch {
	case f.preset == "":
		return reader, qf, writer, errors.New("filter: --preset is required (gopher, c4, fineweb or nemo)")
	case len(f.inputs) == 0 || f.output == "":
		return reader, qf, writer, errors.New("filter: --input and --output are required")
	case f.onBadRecord != "fail" && f.onBadRecord != "skip":
		return reader, qf, writer, fmt.Errorf("--on-bad-record %q: want fail or skip", f.onBadRecord)
	case f.onBadRecord == "skip" && f.quarantine == "":
		return reader, qf, writer, errors.New("--on-bad-record skip needs --quarantine DIR")
	case f.onBadRecord == "fail" && f.quarantine != "":
		return reader, qf, writer, errors.New("--quarantine needs --on-bad-record skip")
	case f.filesPerPartition < 0 || f.workers < 0:
		return reader, qf, writer, errors.New("--files-per-partition and --workers must not be negative")
	}
	if _, err := text.PresetRules(f.preset); err != nil {
		return reader, qf, writer, fmt.Errorf("--preset: %w", err)
	}
	for _, dir := range []string{f.output, f.rejected, f.quarantine} {
		if err := checkFreshDir(dir, f.inputs); err != nil {
			return reader, qf, writer, err
		}
	}
	rc := map[string]any{"paths": f.inputs, "text_field": f.textField, "id_field": f.idField, "on_bad_record": f.onBadRecord,
		"files_per_partition": f.filesPerPartition, "quarantine_dir": f.quarantine}
	if f.blockSize != "" {
		if f.filesPerPartition > 0 {
			return reader, qf, writer, errors.New("give --files-per-partition or --blocksize, not both")
		}
		if _, err := dataio.ParseByteSize(f.blockSize); err != nil {
			return reader, qf, writer, fmt.Errorf("--blocksize: %w", err)
		}
		rc["block_size"] = f.blockSize
	}
	readerType, err := readerFor(f.inputs)
	if err != nil {
		return reader, qf, writer, err
	}
	writerType := "jsonl_writer"
	if readerType == "parquet_reader" {
		delete(rc, "id_field")        // Parquet rows keep every column; no id is parsed
		writerType = "parquet_writer" // the output keeps the input's format and schema
	}
	reader = descriptor(readerType, "read", rc)
	qf = descriptor(filter.QualityFilterType, f.preset, map[string]any{"preset": f.preset, "rejected_dir": f.rejected, "text_field": f.textField})
	writer = descriptor(writerType, "write", map[string]any{"dir": f.output})
	return reader, qf, writer, nil
}

// readerFor names the reader stage for the inputs: parquet_reader when
// every input file is Parquet, jsonl_reader when none is. A mix is refused:
// the two formats are read by different stages.
func readerFor(inputs []string) (string, error) {
	l, err := dataio.FilePartitioning{Paths: inputs}.List()
	if err != nil {
		return "", fmt.Errorf("--input: %s", strings.TrimPrefix(err.Error(), "dataio: "))
	}
	var pq, other int
	for _, f := range l.Files {
		if dataio.FormatOf(f) == dataio.Parquet {
			pq++
		} else {
			other++
		}
	}
	switch {
	case pq > 0 && other > 0:
		return "", fmt.Errorf("--input holds %d Parquet and %d JSON Lines files: filter one format per run", pq, other)
	case pq > 0:
		return "parquet_reader", nil
	}
	return "jsonl_reader", nil
}

func descriptor(typ, name string, cfg map[string]any) stage.Descriptor {
	b, _ := json.Marshal(cfg) // maps of strings, numbers and string slices always marshal
	return stage.Descriptor{Type: typ, Name: name, Config: b}
}

// checkFreshDir refuses an output directory that holds files (Sluice never
// overwrites what it did not write) or that lies inside an input directory
// (a later run would read it back as input).
func checkFreshDir(dir string, inputs []string) error {
	if dir == "" {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for _, in := range inputs {
		ia, err := filepath.Abs(in)
		if err != nil {
			return err
		}
		if rel, err := filepath.Rel(ia, abs); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
			return fmt.Errorf("filter: %s is inside the input %s; choose a directory outside the inputs", dir, in)
		}
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("filter: %s is not empty; give a new or empty directory (Sluice does not overwrite files it did not write)", dir)
	}
	return nil
}

// filterSummary is what `sluice filter` reports.
type filterSummary struct {
	Preset     string           `json:"preset"`
	Read       int64            `json:"records_read"`
	Kept       int64            `json:"records_kept"`
	Dropped    int64            `json:"records_dropped"`
	BadRecords int64            `json:"bad_records_skipped"`
	Rewritten  int64            `json:"texts_rewritten"`
	ByRule     map[string]int64 `json:"dropped_by_rule"`
	Rules      []string         `json:"rules"`
	WallSec    float64          `json:"wall_seconds"`
	CPUSec     float64          `json:"cpu_seconds"`
	PeakRSS    int64            `json:"peak_rss_bytes"`
	MBPerCPUs  float64          `json:"input_mb_per_cpu_second,omitempty"`
	Output     string           `json:"output"`
	Rejected   string           `json:"rejected,omitempty"`
}

func newFilterSummary(f *filterFlags, rep executor.Report, wall, cpu time.Duration) *filterSummary {
	s := &filterSummary{Preset: f.preset, ByRule: map[string]int64{}, WallSec: wall.Seconds(), CPUSec: cpu.Seconds(),
		PeakRSS: executor.PeakRSS(), Output: f.output, Rejected: f.rejected}
	if f.cluster.enabled() { // the actors ran in worker processes: add theirs
		for _, n := range rep.Nodes {
			s.CPUSec += n.CPU.Seconds()
			s.PeakRSS = max(s.PeakRSS, n.PeakRSS)
		}
	}
	rules, _ := text.PresetRules(f.preset)
	for _, r := range rules {
		s.Rules = append(s.Rules, r.Name())
	}
	for _, st := range rep.Stages {
		switch st.Name {
		case "read":
			s.Read = st.ItemsOut
		case f.preset:
			s.Kept = st.ItemsOut
			for k, v := range st.Counters {
				if rule, ok := strings.CutPrefix(k, filter.CounterDropped); ok {
					s.ByRule[rule] = v
					s.Dropped += v
				} else if k == filter.CounterRewritten {
					s.Rewritten = v
				}
			}
		}
	}
	return s
}

// accounted reports whether every record read is kept or dropped.
func (s *filterSummary) accounted() bool { return s.Read == s.Kept+s.Dropped }

func (a *app) printFilterSummary(s *filterSummary) {
	w := tabwriter.NewWriter(a.stderr, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "preset\t%s\n", s.Preset)
	fmt.Fprintf(w, "records read\t%d\n", s.Read)
	fmt.Fprintf(w, "records kept\t%d\n", s.Kept)
	fmt.Fprintf(w, "records dropped\t%d\n", s.Dropped)
	rules := make([]string, 0, len(s.ByRule))
	for r := range s.ByRule {
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, j int) bool {
		return s.ByRule[rules[i]] > s.ByRule[rules[j]] || s.ByRule[rules[i]] == s.ByRule[rules[j]] && rules[i] < rules[j]
	})
	for _, r := range rules {
		fmt.Fprintf(w, "  dropped by %s\t%d\n", r, s.ByRule[r])
	}
	if s.Rewritten > 0 {
		fmt.Fprintf(w, "texts rewritten (kept)\t%d\n", s.Rewritten)
	}
	if s.BadRecords > 0 {
		fmt.Fprintf(w, "bad records (quarantined, not read)\t%d\n", s.BadRecords)
	}
	fmt.Fprintf(w, "total\t%.2fs wall, %.2fs CPU, peak RSS %.1f MiB\n", s.WallSec, s.CPUSec, float64(s.PeakRSS)/(1<<20))
	fmt.Fprintf(w, "output\t%s\n", s.Output)
	if s.Rejected != "" {
		fmt.Fprintf(w, "rejected\t%s\n", s.Rejected)
	}
	w.Flush()
}

// countQuarantined counts the non-empty lines of the files under dir.
func countQuarantined(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<30)
		for sc.Scan() {
			if len(sc.Bytes()) > 0 {
				n++
			}
		}
		return sc.Err()
	})
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return n, err
}

// writeFilterList prints the presets with their rules, then the filter types.
func writeFilterList(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, p := range text.Presets() {
		rules, err := text.PresetRules(p.Name)
		if err != nil {
			return err
		}
		names := make([]string, len(rules))
		for i, r := range rules {
			names[i] = r.Name()
		}
		fmt.Fprintf(w, "preset %s\t%s\n\tsource: %s\n\trules: %s\n", p.Name, p.Doc, p.Source, strings.Join(names, ", "))
	}
	fmt.Fprintln(w)
	for _, s := range text.Specs() {
		var params []string
		for _, p := range s.Params {
			params = append(params, p.Name+"="+p.Default)
		}
		nemo := ""
		if s.NeMo != "" {
			nemo = " (NeMo " + s.NeMo + ")"
		}
		fmt.Fprintf(w, "filter %s\t%s%s\t%s\n", s.Type, s.Doc, nemo, strings.Join(params, " "))
	}
	return w.Flush()
}
