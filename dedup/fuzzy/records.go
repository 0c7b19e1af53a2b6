package fuzzy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	dataio "github.com/sluice-data/sluice/io"
)

// ReadDocuments returns the texts of the documents with the given dedup ids,
// found through an id_map.json (OUTPUT/id_map.json): the input files as the
// run read them, relative paths taken relative to workDir (the run's
// working directory, summary.json's work_dir; "" for the current one). A
// document whose record cannot be read as a document (a bad record) is
// missing from the map; an id no file's range holds is an error.
func ReadDocuments(ctx context.Context, idMapPath, workDir, textField string, ids []int64) (map[int64]string, error) {
	files, err := readIDMapIn(idMapPath, workDir)
	if err != nil {
		return nil, err
	}
	return readTexts(ctx, files, textField, ids)
}

// readIDMapIn is readIDMap with relative paths joined to workDir.
func readIDMapIn(path, workDir string) ([]fileRange, error) {
	files, err := readIDMap(path)
	if err != nil || workDir == "" {
		return files, err
	}
	for i := range files {
		if !filepath.IsAbs(files[i].Path) {
			files[i].Path = filepath.Join(workDir, files[i].Path)
		}
	}
	return files, nil
}

// readTexts reads the texts of ids from files (ordered by first id), each
// file at most once and, for a file the ids phase cut into sections, only
// the sections that hold a wanted record.
func readTexts(ctx context.Context, files []fileRange, textField string, ids []int64) (map[int64]string, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	out := make(map[int64]string, len(ids))
	for len(ids) > 0 {
		fi := fileIndex(files, ids[0])
		if fi < 0 {
			return nil, fmt.Errorf("document %d is in no input file's id range", ids[0])
		}
		f := files[fi]
		n := 0
		for n < len(ids) && ids[n] < f.Base+f.Count {
			n++
		}
		rows := make([]int64, n)
		for i, id := range ids[:n] {
			rows[i] = id - f.Base
		}
		if err := readFileTexts(ctx, f, textField, rows, out); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return out, nil
}

// readFileTexts reads the texts of the given rows (0-based, sorted) of f
// into out, by dedup id.
func readFileTexts(ctx context.Context, f fileRange, textField string, rows []int64, out map[int64]string) error {
	opts := dataio.ReadOptions{TextField: textField, IDField: "-", OnBadRecord: dataio.Skip, OmitRaw: true}
	parquet := dataio.FormatOf(f.Path) == dataio.Parquet
	if parquet {
		opts.Columns = []string{}
	}
	if len(f.Sections) <= 1 {
		r, err := dataio.NewReader([]string{f.Path}, opts)
		if err != nil {
			return err
		}
		return collectTexts(ctx, r, f.Base, rows, out)
	}
	for _, sec := range f.Sections {
		lo, _ := slices.BinarySearch(rows, sec.FirstRow)
		hi, _ := slices.BinarySearch(rows, sec.FirstRow+sec.Rows)
		if lo == hi {
			continue
		}
		var r dataio.BatchReader
		var err error
		if parquet {
			r, err = dataio.NewParquetSectionReader(f.Path, sec, opts)
		} else {
			r, err = dataio.NewJSONLSectionReader(f.Path, sec, opts)
		}
		if err != nil {
			return err
		}
		if err := collectTexts(ctx, r, f.Base, rows[lo:hi], out); err != nil {
			return err
		}
	}
	return nil
}

// collectTexts reads r until every row of rows was seen (or the end) and
// closes it.
func collectTexts(ctx context.Context, r dataio.BatchReader, base int64, rows []int64, out map[int64]string) error {
	defer r.Close()
	next := 0
	for next < len(rows) {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		rc := b.Column(dataio.RowColumn)
		if rc == nil {
			return fmt.Errorf("reader gave no %s column", dataio.RowColumn)
		}
		texts := b.Texts()
		for i, row := range rc.Ints {
			for next < len(rows) && rows[next] < row {
				next++
			}
			if next < len(rows) && rows[next] == row {
				out[base+row] = texts[i]
				next++
			}
		}
	}
	return nil
}

// FindOriginalID looks for a record whose idField value, in the ledger's
// text form (ledger.IDText), is id, in the input files of an id_map.json
// (relative paths relative to workDir, as for ReadDocuments), reading only
// the id column (Parquet) or scanning the lines (JSONL). It returns the
// file and the 1-based record number of the first match, or "".
func FindOriginalID(ctx context.Context, idMapPath, workDir, textField, idField, id string) (file string, record int64, err error) {
	files, err := readIDMapIn(idMapPath, workDir)
	if err != nil {
		return "", 0, err
	}
	for _, f := range files {
		opts := dataio.ReadOptions{TextField: textField, IDField: idField, OnBadRecord: dataio.Skip, OmitRaw: true}
		if dataio.FormatOf(f.Path) == dataio.Parquet {
			if !parquetHasIDColumn(f.Path, idField) {
				continue
			}
			opts.Columns = []string{idField}
		}
		r, err := dataio.NewReader([]string{f.Path}, opts)
		if err != nil {
			return "", 0, err
		}
		row, err := findID(ctx, r, idField, id, dataio.FormatOf(f.Path) != dataio.Parquet)
		r.Close()
		if err != nil {
			return "", 0, fmt.Errorf("%s: %w", f.Path, err)
		}
		if row >= 0 {
			return f.Path, row + 1, nil
		}
	}
	return "", 0, nil
}

// findID returns the row of the first record of r whose id is id, or -1.
func findID(ctx context.Context, r dataio.BatchReader, idField, id string, rawJSON bool) (int64, error) {
	for {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return -1, nil
		}
		if err != nil {
			return -1, err
		}
		idc, rc := b.Column(idField), b.Column(dataio.RowColumn)
		if idc == nil || rc == nil {
			return -1, nil
		}
		for i := range rc.Ints {
			if v := idText(originalIDJSON(idc, i, rawJSON)); v != nil && *v == id {
				return rc.Ints[i], nil
			}
		}
	}
}
