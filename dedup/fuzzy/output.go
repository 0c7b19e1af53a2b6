package fuzzy

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// Output safety for the workflow (docs/safety.md): the paths are checked
// before anything is created, the output directory is prepared once by
// dataio.PrepareOutput, and every file the workflow and its removal actors
// write there goes through a dataio.Output, which records it.

// checkPaths refuses overlapping paths before any work: an input equal to
// or inside the output, the cache or --removed-ids-out (the output and the
// cache may sit inside an input directory: they are never read as input),
// and an output inside the cache.
func checkPaths(c Config) error {
	out := dataio.NamedPath{Path: c.Output, Name: "--output"}
	cache := dataio.NamedPath{Path: c.Cache, Name: "--cache"}
	ids := dataio.NamedPath{Path: c.RemovedIDsOut, Name: "--removed-ids-out"}
	for _, p := range c.Inputs {
		in := dataio.NamedPath{Path: p, Name: "--input"}
		if err := dataio.CheckOverlap(in, out, true); err != nil {
			return err
		}
		if err := dataio.CheckOverlap(in, cache, true); err != nil {
			return err
		}
		if c.RemovedIDsOut != "" {
			if err := dataio.CheckOverlap(in, ids, true); err != nil {
				return err
			}
		}
	}
	if dataio.PathWithin(c.Output, c.Cache) {
		return dataio.RejectOutput("%s lies inside %s: give the cache a directory of its own (the default is OUTPUT/_cache)", out, cache)
	}
	if c.RemovedIDsOut != "" {
		if fi, err := os.Stat(c.RemovedIDsOut); err == nil && fi.IsDir() {
			return dataio.RejectOutput("--removed-ids-out %s is a directory; name a file", c.RemovedIDsOut)
		}
	}
	return nil
}

// outputMode is the dataio mode of the run's output.
func outputMode(c Config) dataio.OutputMode {
	if c.Overwrite {
		return dataio.OutputOverwrite
	}
	return dataio.OutputError
}

// prepareOutput prepares the output directory for the run and opens it for
// the driver's own files. Every file the run will write at a known path is
// reserved: a file Sluice did not write there refuses the run before any
// work, in every mode. The files of an interrupted run (no summary.json)
// are replaced without --overwrite, so that the same command resumes.
func prepareOutput(c Config, files []string, log *slog.Logger) (*dataio.Output, error) {
	mode := outputMode(c)
	reserved := []string{"id_map.json", "summary.json", "quarantine.jsonl", "report.html"}
	if !c.NoRemove {
		root := commonDir(files)
		for _, f := range files {
			reserved = append(reserved, "deduplicated/"+filepath.ToSlash(outputRel(root, f)))
		}
	}
	if c.RemovedIDsOut != "" {
		if rel, ok := relInside(c.Output, c.RemovedIDsOut); ok {
			reserved = append(reserved, rel)
		} else if err := checkRemovedIDsOut(c, files); err != nil {
			return nil, err
		}
	}
	_, err := dataio.PrepareOutput(c.Output, dataio.PrepareOptions{Name: "--output", Mode: mode, Remedy: "pass --overwrite",
		Skip: []string{c.Cache}, Complete: "summary.json", Reserved: reserved, Logger: log})
	if err != nil {
		return nil, err
	}
	return dataio.OpenOutput(c.Output, mode)
}

// checkRemovedIDsOut refuses a --removed-ids-out file outside the output
// that is an input file or already exists (unless --overwrite: the user
// named this very file).
func checkRemovedIDsOut(c Config, files []string) error {
	for _, f := range files {
		if dataio.PathWithin(c.RemovedIDsOut, f) {
			return dataio.RejectOutput("--removed-ids-out %s is the input file %s", c.RemovedIDsOut, f)
		}
	}
	if _, err := os.Lstat(c.RemovedIDsOut); err == nil && !c.Overwrite {
		return dataio.RejectOutput("--removed-ids-out %s already exists; pass --overwrite to replace it", c.RemovedIDsOut)
	}
	return nil
}

// relInside returns path relative to dir ("/"-separated) if it lies inside.
func relInside(dir, path string) (string, bool) {
	if !dataio.PathWithin(path, dir) {
		return "", false
	}
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return "", false
	}
	rel, err := filepath.Rel(ad, ap)
	if err != nil || !filepath.IsLocal(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// outputRel is where input file path goes under deduplicated/: its path
// relative to root, the inputs' common directory, or its base name when it
// does not lie under root.
func outputRel(root, path string) string {
	rel, err := filepath.Rel(root, path)
	if err != nil || !filepath.IsLocal(rel) {
		return filepath.Base(path)
	}
	return rel
}

// writeToOutput writes the output file rel with write, recording it.
func writeToOutput(dst *dataio.Output, rel string, write func(path string) error) error {
	path, err := dst.Begin(rel)
	if err != nil {
		return err
	}
	if err := write(path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return dst.Commit(path, 0)
}

// copyToOutput writes the concatenation of srcs to the output file rel.
func copyToOutput(dst *dataio.Output, srcs []string, rel string) error {
	return writeToOutput(dst, rel, func(path string) error { return concatFiles(srcs, path) })
}

// writeRemovedIDs writes the per-group id lists to --removed-ids-out, in
// the format its extension names (writeRemovedIDsTo); a file inside
// --output is recorded as written by Sluice.
func writeRemovedIDs(c Config, dst *dataio.Output, parts []string) error {
	if rel, ok := relInside(c.Output, c.RemovedIDsOut); ok {
		return writeToOutput(dst, rel, func(path string) error { return writeRemovedIDsTo(parts, path, c.IDField) })
	}
	if err := writeRemovedIDsTo(parts, c.RemovedIDsOut, c.IDField); err != nil {
		return fmt.Errorf("--removed-ids-out: %w", err)
	}
	return nil
}

// writeFileAtomic writes b to path through a hidden temporary file.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// countWritten counts the records in the files the removal tasks wrote, as
// they are on disk (JSONL: non-blank lines; Parquet: the footer's row
// count), a few files at a time.
func countWritten(ctx context.Context, tasks []task.Task) (int64, error) {
	var paths []string
	for _, t := range tasks {
		if fg, ok := t.(*task.FileGroup); ok {
			paths = append(paths, fg.Paths...)
		}
	}
	var (
		mu       sync.Mutex
		total    int64
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan string)
	for range min(4, len(paths)) {
		wg.Go(func() {
			for p := range next {
				n, err := dataio.CountRecordsContext(ctx, p)
				mu.Lock()
				total += n
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	return total, firstErr
}
