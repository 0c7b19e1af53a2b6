package fuzzy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"reflect"
	"strings"

	"github.com/sluice-data/sluice/dedup/fuzzy/minhash"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// Check validates the configuration and the inputs without doing any work
// or writing anything: the errors a run would meet before its first phase
// (bad parameters, missing or empty inputs, an --id-field the inputs lack)
// wrap ErrConfig. Run makes the same checks.
func (w *Workflow) Check(ctx context.Context) error {
	c, err := w.normalize()
	if err != nil {
		return err
	}
	_, _, err = w.prepare(ctx, c)
	return err
}

// inputList is what prepare found for a configuration.
type inputList struct {
	cfg    Config
	files  []string
	groups [][]string
}

// prepare lists and groups the input files deterministically and checks
// the --id-field (see checkInputs and checkIDField), once per
// configuration: Check and Run share the result.
func (w *Workflow) prepare(ctx context.Context, c Config) ([]string, [][]string, error) {
	if l := w.listed; l != nil && reflect.DeepEqual(l.cfg, c) {
		return l.files, l.groups, nil
	}
	files, groups, err := checkInputs(c, w.logger())
	if err != nil {
		return nil, nil, err
	}
	if err := checkIDField(ctx, c, files); err != nil {
		return nil, nil, err
	}
	w.listed = &inputList{c, files, groups}
	return files, groups, nil
}

// logger returns the workflow's logger, or one that discards.
func (w *Workflow) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}

// checkCounts rejects negative counts and conflicting grouping settings.
// (Zero means the default for the library; the CLI rejects an explicit 0.)
func checkCounts(c Config) error {
	for _, f := range []struct {
		flag string
		v    int64
	}{
		{"--char-ngrams", int64(c.CharNgrams)}, {"--bands", int64(c.Bands)}, {"--rows", int64(c.Rows)},
		{"--bands-per-iteration", int64(c.BandsPerIteration)}, {"--hash-bits", int64(c.HashBits)},
		{"--files-per-partition", int64(c.FilesPerPartition)}, {"--blocksize", c.BlockSize},
	} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s %d must not be negative", ErrConfig, f.flag, f.v)
		}
	}
	if c.FilesPerPartition > 0 && c.BlockSize > 0 {
		return fmt.Errorf("%w: --files-per-partition and --blocksize both group the input files: give one, not both", ErrConfig)
	}
	return nil
}

// inputExtensions returns the file name endings picked up in input
// directories for an --input-format ("" = both formats).
func inputExtensions(format string) []string {
	switch format {
	case "jsonl":
		return dataio.JSONLExtensions()
	case "parquet":
		return dataio.ParquetExtensions()
	}
	return dataio.DefaultExtensions()
}

// checkInputs lists and groups the input files deterministically. An input
// path that cannot be read, and inputs that hold no file to read, are
// configuration errors; what the directory walks skipped is logged.
func checkInputs(c Config, log *slog.Logger) ([]string, [][]string, error) {
	for _, in := range c.Inputs {
		if _, err := os.Stat(in); err != nil {
			return nil, nil, fmt.Errorf("%w: --input %s: %s", ErrConfig, in, pathProblem(err))
		}
	}
	// The output and cache directories may sit inside an input directory
	// (--input data --output data/dedup): their files are never inputs.
	fp := dataio.FilePartitioning{Paths: c.Inputs, FilesPerPartition: c.FilesPerPartition, BlockSize: c.BlockSize,
		Exclude: []string{c.Output, c.Cache}, Extensions: inputExtensions(c.InputFormat)}
	l, err := fp.List()
	if err != nil {
		return nil, nil, fmt.Errorf("list the inputs: %s", strings.TrimPrefix(err.Error(), "dataio: "))
	}
	logSkipped(log, l.Skipped)
	if len(l.Files) == 0 {
		msg := fmt.Sprintf("--input %s: no input files: none of the names ends in %s", strings.Join(c.Inputs, ", "),
			strings.Join(fp.Extensions, ", "))
		if n := len(l.Skipped); n > 0 {
			msg += fmt.Sprintf(" (%d skipped, first %s: %s)", n, l.Skipped[0].Path, l.Skipped[0].Reason)
		}
		return nil, nil, fmt.Errorf("%w: %s", ErrConfig, msg)
	}
	groups, err := fp.GroupFiles(l.Files)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	log.Info("inputs", "files", len(l.Files), "file_groups", len(groups), "skipped", len(l.Skipped))
	return l.Files, groups, nil
}

// logSkipped logs, at INFO, what the directory walks left out: one line per
// reason, with the count and the first few paths.
func logSkipped(log *slog.Logger, skipped []dataio.Skipped) {
	for _, s := range dataio.SummarizeSkipped(skipped, 10) {
		log.Info("skipped input paths", "count", s.Count, "reason", s.Reason, "paths", s.Paths)
	}
}

// pathProblem says in words why a path could not be used.
func pathProblem(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// failedError describes the tasks a phase lost by the first one's cause
// (a bad record's file:line, an unreadable file), not by the executor's
// failure policy, which dedup does not expose. It wraps err, so that
// errors.Is still sees executor.ErrTooManyFailures.
func failedError(err error, failed []*task.Failed) error {
	msg := failed[0].Err
	if n := len(failed) - 1; n > 0 {
		msg += fmt.Sprintf(" (%d more tasks failed too)", n)
	}
	return &causeError{msg: msg, err: err}
}

// causeError shows msg and wraps err.
type causeError struct {
	msg string
	err error
}

func (e *causeError) Error() string { return e.msg }
func (e *causeError) Unwrap() error { return e.err }

// checkMinHashParams checks the MinHash parameters (after defaults) in the
// flags' terms, before any work.
func checkMinHashParams(c Config) error {
	switch {
	case c.CharNgrams > minhash.MaxCharNgrams:
		return fmt.Errorf("%w: --char-ngrams %d: at most %d", ErrConfig, c.CharNgrams, minhash.MaxCharNgrams)
	case c.Bands*c.Rows > minhash.MaxNumPerm:
		return fmt.Errorf("%w: --bands %d × --rows %d = %d permutations: at most %d", ErrConfig, c.Bands, c.Rows, c.Bands*c.Rows, minhash.MaxNumPerm)
	case c.Seed > math.MaxUint32:
		return fmt.Errorf("%w: --seed %d: at most 2^32-1 = %d (NeMo Curator's numpy seed range)", ErrConfig, c.Seed, uint64(math.MaxUint32))
	}
	return nil
}
