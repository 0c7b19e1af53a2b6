package flow

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"reflect"
	"strings"

	dataio "github.com/sluice-data/sluice/io"
)

// Inputs is what Prepare found for a configuration: the input files, sorted,
// and their groups.
type Inputs struct {
	io     IO
	Files  []string
	Groups [][]string
}

// Prepare lists and groups the input files deterministically and checks
// the --id-field (see CheckInputs and CheckIDField), once per
// configuration: when *cached holds the result for the same IO it is
// returned, else the result is stored there (a workflow's Check and Run
// share it).
func Prepare(ctx context.Context, c IO, log *slog.Logger, cached **Inputs) (*Inputs, error) {
	if l := *cached; l != nil && reflect.DeepEqual(l.io, c) {
		return l, nil
	}
	if err := CheckStorage(ctx, c); err != nil {
		return nil, err
	}
	files, groups, err := CheckInputs(c, log)
	if err != nil {
		return nil, err
	}
	if err := CheckIDField(ctx, c, files); err != nil {
		return nil, err
	}
	*cached = &Inputs{c, files, groups}
	return *cached, nil
}

// CheckStorage checks, before any work, that every object store the run
// uses can be reached with the configured credentials: the inputs' buckets
// can be listed, and an object can be written and removed under the
// output, the cache and --removed-ids-out. Set-up problems (credentials
// refused, access denied, a missing bucket, a bad endpoint) wrap ErrConfig;
// others (the store cannot be reached) are returned as they are.
func CheckStorage(ctx context.Context, c IO) error {
	type use struct {
		flag, path string
		write      bool
	}
	var uses []use
	for _, in := range c.Inputs {
		uses = append(uses, use{"--input", in, false})
	}
	uses = append(uses, use{"--output", c.Output, true}, use{"--cache", c.Cache, true})
	if c.RemovedIDsOut != "" {
		uses = append(uses, use{"--removed-ids-out", dataio.DirOf(c.RemovedIDsOut), true})
	}
	for _, u := range uses {
		err := dataio.CheckStorage(ctx, u.path, u.write)
		switch {
		case err == nil:
		case errors.Is(err, dataio.ErrStorageSetup):
			return fmt.Errorf("%w: %s %s: %w", ErrConfig, u.flag, u.path, err)
		default:
			return fmt.Errorf("%s %s: %w", u.flag, u.path, err)
		}
	}
	return nil
}

// InputExtensions returns the file name endings picked up in input
// directories for an --input-format ("" = both formats).
func InputExtensions(format string) []string {
	switch format {
	case "jsonl":
		return dataio.JSONLExtensions()
	case "parquet":
		return dataio.ParquetExtensions()
	}
	return dataio.DefaultExtensions()
}

// CheckInputs lists and groups the input files deterministically. An input
// path that cannot be read, and inputs that hold no file to read, are
// configuration errors; what the directory walks skipped is logged.
func CheckInputs(c IO, log *slog.Logger) ([]string, [][]string, error) {
	for _, in := range c.Inputs {
		if _, err := dataio.Stat(context.Background(), in); err != nil {
			return nil, nil, fmt.Errorf("%w: --input %s: %s", ErrConfig, in, PathProblem(err))
		}
	}
	if c.InOrder {
		return inputsInOrder(c, log)
	}
	// The output and cache directories may sit inside an input directory
	// (--input data --output data/dedup): their files are never inputs.
	fp := dataio.FilePartitioning{Paths: c.Inputs, FilesPerPartition: c.FilesPerPartition, BlockSize: c.BlockSize,
		Exclude: []string{c.Output, c.Cache}, Extensions: InputExtensions(c.InputFormat)}
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

// PathProblem says in words why a path could not be used.
func PathProblem(err error) string {
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

// inputsInOrder groups the input files in the order given (IO.InOrder).
func inputsInOrder(c IO, log *slog.Logger) ([]string, [][]string, error) {
	seen := map[string]bool{}
	for _, in := range c.Inputs {
		if fi, err := dataio.Stat(context.Background(), in); err != nil || !fi.Regular {
			return nil, nil, fmt.Errorf("%w: input %s is not a file (inputs taken in order must be files)", ErrConfig, in)
		}
		if seen[in] {
			return nil, nil, fmt.Errorf("%w: input %s is given twice", ErrConfig, in)
		}
		seen[in] = true
	}
	fp := dataio.FilePartitioning{FilesPerPartition: c.FilesPerPartition, BlockSize: c.BlockSize}
	groups, err := fp.GroupFiles(c.Inputs)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	log.Info("inputs", "files", len(c.Inputs), "file_groups", len(groups), "order", "as given")
	return c.Inputs, groups, nil
}
