package fuzzy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// RemoveConfig configures the removal stage.
type RemoveConfig struct {
	// OutputDir receives the deduplicated files, at the same paths relative
	// to InputRoot as the inputs.
	OutputDir string `json:"output_dir"`
	InputRoot string `json:"input_root"`
	// Duplicates are the id-list files of ids to remove.
	Duplicates []string `json:"duplicates"`
	// RemovedIDsDir, if set, receives part-<group>.txt files listing the
	// input's own ids (IDField) of the removed documents, one per line.
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
	cfg  RemoveConfig
	dups []int64 // the removal ids of the file group being copied
}

// NewRemoveStage returns the stage.
func NewRemoveStage(cfg RemoveConfig) (*RemoveStage, error) {
	if cfg.OutputDir == "" && !cfg.ListOnly {
		return nil, errors.New("fuzzy_remove: output_dir is required")
	}
	if cfg.ListOnly && cfg.RemovedIDsDir == "" {
		return nil, errors.New("fuzzy_remove: list_only needs removed_ids_dir")
	}
	return &RemoveStage{Base: stage.Base{StageName: "remove", Batch: 1,
		In: stage.Spec{Kinds: []string{task.KindFileGroup}}, Out: stage.Spec{Kinds: []string{task.KindFileGroup}}}, cfg: cfg}, nil
}

// loadDups reads the removal ids in [lo, hi) from every duplicates file,
// sorted. Memory is proportional to the duplicates of one file group, not of
// the whole dataset; the files are small (8 bytes per duplicate, compressed).
func (s *RemoveStage) loadDups(ctx context.Context, lo, hi int64) error {
	s.dups = s.dups[:0]
	for _, p := range s.cfg.Duplicates {
		r, err := dataio.OpenIDListFile(p, dataio.DedupIDColumn, 0)
		if err != nil {
			return fmt.Errorf("fuzzy_remove: %w", err)
		}
		for {
			ids, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return fmt.Errorf("fuzzy_remove: %s: %w", p, err)
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
		files, err := fileRanges(t)
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
		var written []string
		var kept, dropped int64
		var removedIDs []string
		for _, f := range files {
			rel, err := filepath.Rel(s.cfg.InputRoot, f.Path)
			if err != nil || rel == ".." || filepath.IsAbs(rel) || len(rel) > 2 && rel[:3] == ".."+string(filepath.Separator) {
				rel = filepath.Base(f.Path)
			}
			dst := filepath.Join(s.cfg.OutputDir, rel)
			var droppedRows []int64
			var st dataio.CopyStats
			if s.cfg.ListOnly {
				// No copy: the dropped rows follow from the removal ids.
				lo, _ := slices.BinarySearch(s.dups, f.Base)
				hi, _ := slices.BinarySearch(s.dups, f.Base+f.Count)
				for _, id := range s.dups[lo:hi] {
					droppedRows = append(droppedRows, id-f.Base)
				}
				st = dataio.CopyStats{Kept: f.Count - int64(len(droppedRows)), Dropped: int64(len(droppedRows))}
			} else if err = os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return nil, err
			} else if fi, serr := os.Stat(f.Path); serr == nil && fi.Size() == 0 {
				// A zero-byte input (an empty file, counted as such) has no
				// records, and a zero-byte Parquet file not even a schema to
				// copy: mirror it as is.
				err = os.WriteFile(dst, nil, 0o644)
			} else {
				st, err = dataio.CopyFiltered(ctx, f.Path, dst, func(row int64) bool {
					if s.isDup(f.Base + row) {
						droppedRows = append(droppedRows, row)
						return true
					}
					return false
				})
			}
			if err != nil {
				return nil, fmt.Errorf("fuzzy_remove: %s: %w", f.Path, err)
			}
			kept += st.Kept
			dropped += st.Dropped
			if !s.cfg.ListOnly {
				written = append(written, dst)
			}
			if s.cfg.RemovedIDsDir != "" && len(droppedRows) > 0 {
				ids, err := s.originalIDs(ctx, f.Path, droppedRows)
				if err != nil {
					return nil, err
				}
				removedIDs = append(removedIDs, ids...)
			}
		}
		if s.cfg.RemovedIDsDir != "" {
			if err := writeLines(filepath.Join(s.cfg.RemovedIDsDir, "part-"+t.Meta()[metaGroup]+".txt"), removedIDs); err != nil {
				return nil, err
			}
		}
		o := &task.FileGroup{Header: task.HeaderOf(t), Paths: written}
		o.Meta()[metaKept] = strconv.FormatInt(kept, 10)
		o.Meta()[metaDropped] = strconv.FormatInt(dropped, 10)
		out = append(out, o)
	}
	return out, nil
}

// originalIDs re-reads path and returns the id field of the given rows
// (sorted), unquoting JSON strings.
func (s *RemoveStage) originalIDs(ctx context.Context, path string, rows []int64) ([]string, error) {
	idField := s.cfg.IDField
	if idField == "" {
		idField = "id"
	}
	r, err := dataio.NewReader([]string{path}, dataio.ReadOptions{TextField: s.cfg.TextField, IDField: idField, OnBadRecord: dataio.Skip, OmitRaw: true})
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
			return nil, fmt.Errorf("fuzzy_remove: %s: no %q field to report removed ids", path, idField)
		}
		for i, row := range rowCol.Ints {
			for next < len(rows) && rows[next] < row {
				next++
			}
			if next < len(rows) && rows[next] == row {
				out = append(out, idText(idCol, i))
				next++
			}
		}
	}
	return out, nil
}

func idText(c *task.Column, i int) string {
	switch c.Type {
	case task.String:
		v := c.Strings[i]
		var s string
		if len(v) > 0 && v[0] == '"' && json.Unmarshal([]byte(v), &s) == nil {
			return s
		}
		return v
	case task.Int64:
		return strconv.FormatInt(c.Ints[i], 10)
	case task.Float64:
		return strconv.FormatFloat(c.Floats[i], 'g', -1, 64)
	case task.Bytes:
		return string(c.Bytes[i])
	}
	return ""
}

func writeLines(path string, lines []string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
