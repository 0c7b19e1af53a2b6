package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/pipeline"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stages/builtin"
	"github.com/sluice-data/sluice/task"
	"github.com/spf13/cobra"
)

// runFlags are the flags of `sluice run`. Those that correspond to the
// YAML's executor section override it when given.
type runFlags struct {
	mode              string
	maxFailedFraction float64
	failedManifest    string
	summaryJSON       string
	report            string
	cpus              float64
	workers           int
	gpus              int
	dryRun            bool
	cache             string
	cluster           clusterFlags
}

func (a *app) runCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run PIPELINE.yaml",
		Short: "Run a pipeline described in YAML",
		Long: "Run a pipeline described in YAML on this machine and print a per-stage summary to stderr.\n" +
			"Flags override the YAML's executor section. Relative paths in the YAML are relative to its directory;\n" +
			"paths given as flags are relative to the working directory.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runPipeline(cmd, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.mode, "mode", "", "execution mode: streaming or stage-by-stage")
	fl.Float64Var(&f.maxFailedFraction, "max-failed-fraction", 0, "fraction of a stage's tasks that may fail before the run aborts")
	fl.StringVar(&f.failedManifest, "failed-manifest", "", "JSONL file receiving one line per failed task")
	fl.StringVar(&f.summaryJSON, "summary-json", "", "write the run summary as JSON to this file")
	fl.StringVar(&f.report, "report", "", "write an HTML report of the run (per-stage tasks, records, time, CPU, retries, failures) to this file (default: beside --summary-json, as its name with .html); never overwrites a file Sluice did not write")
	fl.Float64Var(&f.cpus, "cpus", 0, "CPU budget for actors (default: the number of logical CPUs)")
	fl.IntVar(&f.workers, "workers", 0, "alias of --cpus with a whole number")
	fl.IntVar(&f.gpus, "gpus", 0, "GPUs available to actors (-1: detect with nvidia-smi)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "load and check the pipeline, print its stages and exit")
	fl.StringVar(&f.cache, "cache", "", "directory where steps (dedup_exact, dedup_fuzzy) keep their files, each in CACHE/STEP (overrides the file's cache:; default: the first writer's dir/_cache)")
	f.cluster.add(fl)
	return cmd
}

// runSummary is what --summary-json writes.
type runSummary struct {
	Pipeline string `json:"pipeline"`
	// Status is "ok", "tasks_failed", "aborted" or "interrupted".
	Status      string          `json:"status"`
	ExitCode    int             `json:"exit_code"`
	Error       string          `json:"error,omitempty"`
	OutputTasks int             `json:"output_tasks"`
	FailedTasks []string        `json:"failed_tasks"`
	Report      executor.Report `json:"report"`
	// Records accounts for the documents: read = kept + removed + failed.
	Records *pipeline.Records `json:"records,omitempty"`
	// Manifest is the failed-task manifest, if any.
	Manifest string `json:"failed_manifest,omitempty"`
	// StartedAt and FinishedAt are RFC 3339 times in UTC; HTMLReport is
	// the report --report wrote.
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at"`
	HTMLReport string `json:"html_report,omitempty"`
}

func (a *app) runPipeline(cmd *cobra.Command, path string, f *runFlags) error {
	ctx := cmd.Context()
	flags := cmd.Flags()
	spec, err := pipeline.LoadFile(path, builtin.Registry())
	if err != nil {
		return configErr(err)
	}
	cfg := spec.Executor
	if flags.Changed("mode") {
		switch m := executor.Mode(f.mode); m {
		case executor.Streaming, executor.StageByStage:
			cfg.Mode = m
		default:
			return usageErr(fmt.Errorf("--mode %q: want %s or %s", f.mode, executor.Streaming, executor.StageByStage))
		}
	}
	if flags.Changed("max-failed-fraction") {
		if f.maxFailedFraction < 0 || f.maxFailedFraction > 1 {
			return usageErr(fmt.Errorf("--max-failed-fraction %g is outside [0, 1]", f.maxFailedFraction))
		}
		cfg.MaxFailedFraction = f.maxFailedFraction
	}
	if flags.Changed("failed-manifest") {
		cfg.FailedManifest = f.failedManifest
	}
	cpus := f.cpus
	if flags.Changed("workers") {
		if flags.Changed("cpus") {
			return usageErr(errors.New("--workers and --cpus are the same setting; give one"))
		}
		cpus = float64(f.workers)
	}
	if cpus < 0 {
		return usageErr(fmt.Errorf("--cpus %g must not be negative", cpus))
	}
	if err := f.cluster.prepare(flags, &f.cache); err != nil {
		return usageErr(err)
	}
	if flags.Changed("cache") {
		spec.Cache = f.cache
	}
	p, err := spec.Pipeline()
	if err != nil {
		return configErr(err)
	}
	// What would fail once reached, such as a missing input, fails now.
	if err := p.Preflight(ctx); err != nil {
		return configErr(fmt.Errorf("%s: %w", path, err))
	}
	if f.dryRun {
		fmt.Fprint(a.stdout, p.Describe())
		return nil
	}
	htmlReport, err := a.reportTarget(f)
	if err != nil {
		return err
	}
	a.logger.Debug("pipeline", "description", p.Describe())

	// The metrics and dashboard addresses are taken before anything is
	// written, so that a bad one fails first.
	obs, err := a.observe(ctx, "sluice run "+path)
	if err != nil {
		return err
	}
	defer obs.close(ctx)

	// Outputs are checked (and, with mode: overwrite, cleared of Sluice's
	// earlier files) before any work; a refusal is a configuration error.
	if err := p.PrepareOutputs(a.logger); err != nil {
		if errors.Is(err, dataio.ErrOutputRejected) || errors.Is(err, dataio.ErrStorageSetup) {
			return configErr(err)
		}
		return failedErr(err)
	}

	var rt runtime.Runtime
	if f.cluster.enabled() {
		// Workers spill to their own --scratch. The pipeline file's
		// directory is where its relative paths point: it must be shared.
		rt, err = a.startCluster(ctx, &f.cluster, filepath.Dir(path))
	} else {
		// Steps spill their shuffles under the cache, on the disk chosen for
		// intermediates, not in the system temp dir (often a small tmpfs).
		var scratch string
		if c := p.Cache(); c != "" {
			scratch = filepath.Join(c, "_spill")
			defer os.Remove(scratch) // only when empty
		}
		var lrt *local.Runtime
		if lrt, err = local.New(local.Options{CPUs: cpus, GPUs: f.gpus, Logger: a.logger, ScratchDir: scratch}); err != nil {
			err = failedErr(fmt.Errorf("start local runtime: %w", err))
		}
		rt = lrt
	}
	if err != nil {
		return err
	}
	defer rt.Close()
	cfg.Logger = a.logger
	if isTerminal(a.stderr) {
		cfg.Progress = a.stderr
	}
	cfg = obs.config(cfg)
	a.logger.Info("pipeline starting", "pipeline", p.Name(), "stages", len(p.Stages()), "mode", cfg.Mode.OrDefault())
	started := now()
	res, runErr := p.Execute(ctx, pipeline.Runner{Runtime: rt, Config: cfg}, nil)
	if res == nil {
		res = &pipeline.Result{Report: executor.Report{Mode: cfg.Mode}}
	}
	out, rep := res.Out, res.Report
	fmt.Fprintln(a.stderr)
	if err := rep.WriteTable(a.stderr); err != nil {
		return failedErr(err)
	}

	sum := runSummary{Pipeline: p.Name(), Status: "ok", OutputTasks: len(out), FailedTasks: []string{}, Report: rep,
		Manifest: cfg.FailedManifest, StartedAt: started, FinishedAt: now(), HTMLReport: htmlReport}
	for _, ft := range res.Failed {
		sum.FailedTasks = append(sum.FailedTasks, ft.ID())
	}
	if runErr == nil || errors.As(runErr, new(*executor.TasksFailedError)) {
		sum.Records = &res.Records
		fmt.Fprintf(a.stderr, "records: %s\n", res.Records)
	}
	var result error
	var tfe *executor.TasksFailedError
	switch {
	case runErr == nil:
		a.logger.Info("pipeline finished", "pipeline", p.Name(), "output_tasks", len(out))
	case errors.As(runErr, &tfe):
		sum.Status = "tasks_failed"
		result = failedErr(errors.New(runErr.Error() + describeFailed(res.Failed, cfg.FailedManifest)))
	case ctx.Err() != nil && errors.Is(runErr, context.Canceled):
		sum.Status = "interrupted"
		result = failedErr(fmt.Errorf("interrupted: %w", runErr))
	default:
		sum.Status = "aborted"
		result = failedErr(errors.New("run aborted: " + runErr.Error() + describeFailed(res.Failed, cfg.FailedManifest)))
	}
	if result != nil {
		sum.ExitCode, sum.Error = exitFailed, runErr.Error()
	}
	if err := a.writeReport(&sum); err != nil && result == nil {
		result = err
	}
	if f.summaryJSON != "" {
		if err := writeJSON(f.summaryJSON, sum); err != nil {
			a.logger.Error("cannot write the summary", "path", f.summaryJSON, "err", err)
			if result == nil {
				result = failedErr(err)
			}
		}
	}
	obs.finish(ctx, result, sum)
	return result
}

// maxDescribedFailures bounds the failed tasks the last line names.
const maxDescribedFailures = 3

// describeFailed names the first failed tasks, with the records they held
// and their error, and the manifest that lists them all: "" when none
// failed.
func describeFailed(failed []*task.Failed, manifest string) string {
	if len(failed) == 0 {
		return ""
	}
	var b strings.Builder
	for i, ft := range failed[:min(len(failed), maxDescribedFailures)] {
		if i == 0 {
			b.WriteString("; failed: ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "task %s", ft.ID())
		if srcs, _ := task.Sources(ft); len(srcs) > 0 {
			fmt.Fprintf(&b, " (%s)", task.DescribeSources(srcs))
		}
		fmt.Fprintf(&b, " in stage %s: %s", ft.Stage, ft.Err)
	}
	if n := len(failed) - maxDescribedFailures; n > 0 {
		fmt.Fprintf(&b, "; and %d more", n)
	}
	if manifest != "" {
		b.WriteString("; every failed task and its records are in the failed-task manifest " + manifest)
	}
	return b.String()
}

// writeJSON writes v, indented, to path, creating its directory.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
