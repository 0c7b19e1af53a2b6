package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// Output safety for the workflow (docs/safety.md): the paths are checked
// before anything is created, the output directory is prepared once by
// dataio.PrepareOutput, and every file the workflow and its removal actors
// write there goes through a dataio.Output, which records it.

// CheckPaths refuses overlapping paths before any work: an input equal to
// or inside the output, the cache or --removed-ids-out (the output and the
// cache may sit inside an input directory: they are never read as input),
// and an output inside the cache.
func CheckPaths(c IO) error {
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
		if fi, err := dataio.Stat(context.Background(), c.RemovedIDsOut); err == nil && fi.IsDir {
			return dataio.RejectOutput("--removed-ids-out %s is a directory; name a file", c.RemovedIDsOut)
		}
	}
	return nil
}

// OutputMode is the dataio mode of the run's output.
func OutputMode(c IO) dataio.OutputMode {
	if c.Overwrite {
		return dataio.OutputOverwrite
	}
	return dataio.OutputError
}

// PrepareOutput prepares the output directory for the run and opens it for
// the driver's own files. Every file the run will write at a known path is
// reserved: a file Sluice did not write there refuses the run before any
// work, in every mode. The files of an interrupted run (no summary.json)
// are replaced without --overwrite, so that the same command resumes.
func PrepareOutput(c IO, files []string, log *slog.Logger) (*dataio.Output, error) {
	mode := OutputMode(c)
	reserved := []string{"id_map.json", "summary.json", "quarantine.jsonl", "report.html"}
	if !c.NoRemove {
		root := CommonDir(files)
		for _, f := range files {
			reserved = append(reserved, "deduplicated/"+filepath.ToSlash(OutputRel(root, f)))
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
func checkRemovedIDsOut(c IO, files []string) error {
	for _, f := range files {
		if dataio.PathWithin(c.RemovedIDsOut, f) {
			return dataio.RejectOutput("--removed-ids-out %s is the input file %s", c.RemovedIDsOut, f)
		}
	}
	if _, err := dataio.Lstat(context.Background(), c.RemovedIDsOut); err == nil && !c.Overwrite {
		return dataio.RejectOutput("--removed-ids-out %s already exists; pass --overwrite to replace it", c.RemovedIDsOut)
	}
	return nil
}

// relInside returns path relative to dir ("/"-separated) if it lies inside.
func relInside(dir, path string) (string, bool) {
	if !dataio.PathWithin(path, dir) {
		return "", false
	}
	if dataio.IsURL(dir) || dataio.IsURL(path) {
		rel, ok := dataio.RelPath(dir, path)
		return rel, ok && rel != "."
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

// WriteToOutput writes the output file rel with write, recording it.
func WriteToOutput(dst *dataio.Output, rel string, write func(path string) error) error {
	path, err := dst.Begin(rel)
	if err != nil {
		return err
	}
	if err := write(path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return dst.Commit(path, 0)
}

// CopyToOutput writes the concatenation of srcs to the output file rel.
func CopyToOutput(dst *dataio.Output, srcs []string, rel string) error {
	return WriteToOutput(dst, rel, func(path string) error { return concatFiles(srcs, path) })
}

// writeRemovedIDs writes the per-group id lists to --removed-ids-out, in
// the format its extension names (writeRemovedIDsTo); a file inside
// --output is recorded as written by Sluice.
func writeRemovedIDs(c IO, dst *dataio.Output, parts []string) error {
	if rel, ok := relInside(c.Output, c.RemovedIDsOut); ok {
		return WriteToOutput(dst, rel, func(path string) error { return writeRemovedIDsTo(parts, path, c.IDField) })
	}
	if err := writeRemovedIDsTo(parts, c.RemovedIDsOut, c.IDField); err != nil {
		return fmt.Errorf("--removed-ids-out: %w", err)
	}
	return nil
}

// WriteFileAtomic writes b to path (a local path or a URL) atomically: a
// hidden temporary file renamed into place, or one PUT.
func WriteFileAtomic(path string, b []byte) error {
	return dataio.WriteFile(context.Background(), path, b)
}

// CountWritten counts the records in the files the removal tasks wrote, as
// they are on disk (JSONL: non-blank lines; Parquet: the footer's row
// count), a few files at a time.
func CountWritten(ctx context.Context, tasks []task.Task) (int64, error) {
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

// WriteSummary writes v, indented, as the output's summary.json, last: its
// presence marks a finished run.
func WriteSummary(dst *dataio.Output, v any) error {
	b, _ := json.MarshalIndent(v, "", "  ")
	return WriteToOutput(dst, "summary.json", func(path string) error { return WriteFileAtomic(path, append(b, '\n')) })
}

// concatFiles writes the concatenation of srcs (missing ones skipped) to
// dst atomically (local paths or URLs).
func concatFiles(srcs []string, dst string) error {
	ctx := context.Background()
	out, err := dataio.Create(ctx, dst)
	if err != nil {
		return err
	}
	for _, s := range srcs {
		in, err := dataio.OpenStream(ctx, s, 0, -1)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			out.Abort()
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if err != nil {
			out.Abort()
			return err
		}
	}
	return out.Commit()
}
