package flow

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// RemoveConfig configures the removal stage.
type RemoveConfig struct {
	// OutputDir receives the deduplicated files, at the same paths relative
	// to InputRoot as the inputs.
	OutputDir string `json:"output_dir"`
	// OutputRoot is the prepared output directory (dataio.PrepareOutput)
	// whose records list the written files: OutputDir or a parent of it
	// (default OutputDir). OutputMode is its dataio.OutputMode.
	OutputRoot string `json:"output_root,omitempty"`
	OutputMode string `json:"output_mode,omitempty"`
	InputRoot  string `json:"input_root"`
	// Duplicates are the id-list files of ids to remove.
	Duplicates []string `json:"duplicates"`
	// RemovedIDsDir, if set, receives part-<group>.jsonl files listing the
	// input's own ids (IDField) of the removed documents, one JSON value per
	// line: a JSONL id exactly as in the input, a Parquet string as a JSON
	// string and an integer as a number.
	RemovedIDsDir string `json:"removed_ids_dir,omitempty"`
	IDField       string `json:"id_field,omitempty"`
	TextField     string `json:"text_field,omitempty"`
	// ListOnly writes no dataset: the stage only lists the removed
	// documents' ids into RemovedIDsDir (--no-remove with
	// --removed-ids-out). OutputDir is then ignored.
	ListOnly bool `json:"list_only,omitempty"`
}

// RemoveStage copies each input file to the output, leaving out the
// documents whose ids are in the removal list. JSONL lines are copied byte
// for byte; Parquet files keep their schema.
type RemoveStage struct {
	stage.Base
	typ  string // the registered type, which names the stage in errors
	cfg  RemoveConfig
	dups []int64        // the removal ids of the file group being copied
	out  *dataio.Output // per actor, from Setup; nil with ListOnly
}

// NewRemoveStage returns the stage, registered as typ (fuzzy_remove,
// exact_remove).
func NewRemoveStage(typ string, cfg RemoveConfig) (*RemoveStage, error) {
	if cfg.OutputDir == "" && !cfg.ListOnly {
		return nil, errors.New(typ + ": output_dir is required")
	}
	if cfg.ListOnly && cfg.RemovedIDsDir == "" {
		return nil, errors.New(typ + ": list_only needs removed_ids_dir")
	}
	if cfg.OutputRoot == "" {
		cfg.OutputRoot = cfg.OutputDir
	}
	if _, err := dataio.ParseOutputMode(cfg.OutputMode); err != nil {
		return nil, fmt.Errorf("%s: output_mode %w", typ, err)
	}
	return &RemoveStage{Base: stage.Base{StageName: "remove", Batch: 1,
		In: stage.Spec{Kinds: []string{task.KindFileGroup}}, Out: stage.Spec{Kinds: []string{task.KindFileGroup}}}, typ: typ, cfg: cfg}, nil
}

// Setup implements stage.Stage: it opens the output directory, which the
// workflow prepared for this run.
func (s *RemoveStage) Setup(context.Context, *stage.Worker) error {
	if s.cfg.ListOnly {
		return nil
	}
	mode, _ := dataio.ParseOutputMode(s.cfg.OutputMode)
	out, err := dataio.OpenOutput(s.cfg.OutputRoot, mode)
	if err != nil {
		return fmt.Errorf("%s: %w", s.typ, err)
	}
	s.out = out
	return nil
}

// loadDups reads the removal ids in [lo, hi) from every duplicates file,
// sorted. Memory is proportional to the duplicates of one file group, not of
// the whole dataset; the files are small (8 bytes per duplicate, compressed).
func (s *RemoveStage) loadDups(ctx context.Context, lo, hi int64) error {
	s.dups = s.dups[:0]
	for _, p := range s.cfg.Duplicates {
		r, err := dataio.OpenIDListFile(p, dataio.DedupIDColumn, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", s.typ, err)
		}
		for {
			ids, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return fmt.Errorf("%s: %s: %w", s.typ, p, err)
			}
			for _, id := range ids {
				if id >= lo && id < hi {
					s.dups = append(s.dups, id)
				}
			}
			if ctx.Err() != nil {
				r.Close()
				return ctx.Err()
			}
		}
		r.Close()
	}
	slices.Sort(s.dups)
	s.dups = slices.Compact(s.dups)
	return nil
}

func (s *RemoveStage) isDup(id int64) bool {
	_, found := slices.BinarySearch(s.dups, id)
	return found
}

// ProcessBatch implements stage.Stage.
func (s *RemoveStage) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	var out []task.Task
	for _, t := range ts {
		files, err := FileRanges(t)
		if err != nil {
			return nil, err
		}
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for _, f := range files {
			lo, hi = min(lo, f.Base), max(hi, f.Base+f.Count)
		}
		if err := s.loadDups(ctx, lo, hi); err != nil {
			return nil, err
		}
		var dropped [][]int64
		var stats []dataio.CopyStats
		var written []string
		if s.cfg.ListOnly {
			dropped, stats = s.listDropped(files)
		} else if written, dropped, stats, err = s.copyFiles(ctx, files); err != nil {
			return nil, err
		}
		var kept, ndropped int64
		var removedIDs []string
		for i, f := range files {
			kept += stats[i].Kept
			ndropped += stats[i].Dropped
			if s.cfg.RemovedIDsDir != "" && len(dropped[i]) > 0 {
				ids, err := s.originalIDs(ctx, f.Path, dropped[i])
				if err != nil {
					return nil, err
				}
				removedIDs = append(removedIDs, ids...)
			}
		}
		if s.cfg.RemovedIDsDir != "" {
			if err := writeLines(ctx, dataio.JoinPath(s.cfg.RemovedIDsDir, "part-"+t.Meta()[MetaGroup]+".jsonl"), removedIDs); err != nil {
				return nil, err
			}
		}
		o := &task.FileGroup{Header: task.HeaderOf(t), Paths: written}
		o.Meta()[MetaKept] = strconv.FormatInt(kept, 10)
		o.Meta()[MetaDropped] = strconv.FormatInt(ndropped, 10)
		out = append(out, o)
	}
	return out, nil
}

// listDropped returns, without copying (ListOnly), each file's dropped
// row indexes and counts: they follow from the removal ids.
func (s *RemoveStage) listDropped(files []FileRange) ([][]int64, []dataio.CopyStats) {
	dropped := make([][]int64, len(files))
	stats := make([]dataio.CopyStats, len(files))
	for i, f := range files {
		lo, _ := slices.BinarySearch(s.dups, f.Base)
		hi, _ := slices.BinarySearch(s.dups, f.Base+f.Count)
		for _, id := range s.dups[lo:hi] {
			dropped[i] = append(dropped[i], id-f.Base)
		}
		stats[i] = dataio.CopyStats{Kept: f.Count - int64(len(dropped[i])), Dropped: int64(len(dropped[i]))}
	}
	return dropped, stats
}

// copyFiles writes the input files without their duplicates to their
// places under OutputDir, together: one batch record for all of them
// (dataio.Output.BeginFiles), each written under a temporary name, and one
// sync before they are renamed into place (dataio.WriteBatch), so that a
// group of many small files does not pay a record write, an fsync and a
// record rewrite per file. It returns the written paths and, per file, the
// dropped row indexes and the counts. Every error is returned: a write that
// fails (a full disk) fails the task, and leaves none of the group's files
// not yet renamed.
func (s *RemoveStage) copyFiles(ctx context.Context, files []FileRange) ([]string, [][]int64, []dataio.CopyStats, error) {
	rels := make([]string, len(files))
	for i, f := range files {
		rel, ok := dataio.RelPath(s.cfg.OutputRoot, dataio.JoinPath(s.cfg.OutputDir, filepath.ToSlash(OutputRel(s.cfg.InputRoot, f.Path))))
		if !ok {
			return nil, nil, nil, fmt.Errorf("%s: %s is not inside %s", s.typ, s.cfg.OutputDir, s.cfg.OutputRoot)
		}
		rels[i] = rel
	}
	dsts, err := s.out.BeginFiles(rels)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", s.typ, err)
	}
	batch := dataio.NewWriteBatch()
	defer batch.Abort()
	dropped := make([][]int64, len(files))
	stats := make([]dataio.CopyStats, len(files))
	rows := make([]int64, len(files))
	for i, f := range files {
		if stats[i], err = s.copyFile(ctx, batch, f, dsts[i], &dropped[i]); err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %s: %w", s.typ, f.Path, err)
		}
		rows[i] = stats[i].Kept
	}
	if err := batch.Publish(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", s.typ, err)
	}
	if err := s.out.CommitFiles(dsts, rows); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", s.typ, err)
	}
	return dsts, dropped, stats, nil
}

// copyFile writes the input file f without its duplicates to dst, in
// batch, appending the dropped row indexes to dropped.
func (s *RemoveStage) copyFile(ctx context.Context, batch *dataio.WriteBatch, f FileRange, dst string, dropped *[]int64) (dataio.CopyStats, error) {
	if f.Count == 0 {
		if fi, serr := dataio.Stat(ctx, f.Path); serr == nil && fi.Size == 0 {
			// A zero-byte input (an empty file, counted as such) has no
			// records, and a zero-byte Parquet file not even a schema to
			// copy: mirror it as is.
			return dataio.CopyStats{}, batch.WriteFile(ctx, dst, nil)
		}
	}
	return batch.CopyFiltered(ctx, f.Path, dst, func(row int64) bool {
		if s.isDup(f.Base + row) {
			*dropped = append(*dropped, row)
			return true
		}
		return false
	})
}

// originalIDs re-reads path and returns the id field of the given rows
// (sorted), as JSON values (see idJSON). Of a Parquet file it reads only
// the id and text columns.
func (s *RemoveStage) originalIDs(ctx context.Context, path string, rows []int64) ([]string, error) {
	idField := s.cfg.IDField
	if idField == "" {
		idField = "id"
	}
	opts := dataio.ReadOptions{TextField: s.cfg.TextField, IDField: idField, OnBadRecord: dataio.Skip, OmitRaw: true}
	if dataio.FormatOf(path) == dataio.Parquet {
		opts.Columns = []string{idField}
	}
	r, err := dataio.NewReader([]string{path}, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []string
	next := 0
	for next < len(rows) {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		rowCol, idCol := b.Column(dataio.RowColumn), b.Column(idField)
		if rowCol == nil || idCol == nil {
			return nil, fmt.Errorf("%s: %s: no %q field to report removed ids", s.typ, path, idField)
		}
		for i, row := range rowCol.Ints {
			for next < len(rows) && rows[next] < row {
				next++
			}
			if next < len(rows) && rows[next] == row {
				id, err := idJSON(idCol, i, dataio.FormatOf(path) == dataio.JSONL)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: row %d: %w", s.typ, path, row+1, err)
				}
				out = append(out, id)
				next++
			}
		}
	}
	if len(out) != len(rows) {
		// Every removed document was signed, so it has a usable id; a
		// shortfall means the file changed since the ids phase.
		return nil, fmt.Errorf("%s: %s: found the ids of %d of the %d removed records; did the file change during the run?", s.typ, path, len(out), len(rows))
	}
	return out, nil
}

// idJSON returns row i's id as one line of JSON. A JSONL reader's id column
// already holds the id's raw JSON (checked by the MinHash phase to be a
// string or a number); Parquet strings and bytes become JSON strings.
func idJSON(c *task.Column, i int, rawJSON bool) (string, error) {
	switch c.Type {
	case task.String:
		if rawJSON {
			return c.Strings[i], nil
		}
		return jsonString(c.Strings[i])
	case task.Bytes:
		return jsonString(string(c.Bytes[i]))
	case task.Int64:
		return strconv.FormatInt(c.Ints[i], 10), nil
	}
	return "", fmt.Errorf("id column %q has type %s, want a string or an integer", c.Name, c.Type)
}

func writeLines(ctx context.Context, path string, lines []string) error {
	f, err := dataio.Create(ctx, path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// jsonString encodes s as a JSON string, leaving <, > and & as they are.
func jsonString(s string) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
