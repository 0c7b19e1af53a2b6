package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluice-data/sluice/dedup/ledger"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// Reading documents again after a run: for the removal ledger (which
// names both documents of every removal by file and record), the audit
// (the texts of sampled and described documents) and `sluice explain`
// (through package dedup/idmap).

// idMapFile is the layout of id_map.json (see AssignIDs).
type idMapFile struct {
	TotalIDs int64 `json:"total_ids"`
	Groups   []struct {
		Files []FileRange `json:"files"`
	} `json:"groups"`
}

// ReadIDMap reads the files of an id_map.json, ordered by first id, with
// relative paths joined to workDir (the run's working directory; "" keeps
// them as they are).
func ReadIDMap(path, workDir string) ([]FileRange, error) {
	b, err := dataio.ReadFile(context.Background(), path)
	if err != nil {
		return nil, fmt.Errorf("id map: %w", err)
	}
	var m idMapFile
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("id map %s: %w", path, err)
	}
	var files []FileRange
	for _, g := range m.Groups {
		files = append(files, g.Files...)
	}
	if workDir != "" {
		for i := range files {
			if !dataio.IsURL(files[i].Path) && !filepath.IsAbs(files[i].Path) {
				files[i].Path = filepath.Join(workDir, files[i].Path)
			}
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].Base < files[j].Base })
	return files, nil
}

// IDFiles returns the files of the ids phase's tasks, ordered by first id.
func IDFiles(idTasks []task.Task) ([]FileRange, error) {
	var files []FileRange
	for _, t := range idTasks {
		fr, err := FileRanges(t)
		if err != nil {
			return nil, err
		}
		files = append(files, fr...)
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].Base < files[j].Base })
	return files, nil
}

// FileIndex is the index of the file (of files, ordered by first id)
// whose range holds id, or -1.
func FileIndex(files []FileRange, id int64) int {
	i := sort.Search(len(files), func(i int) bool { return files[i].Base+files[i].Count > id })
	if i == len(files) || id < files[i].Base {
		return -1
	}
	return i
}

// LocateID returns the file holding document id and its 1-based record
// number, or "" when no file's range holds it.
func LocateID(files []FileRange, id int64) (string, int64) {
	i := FileIndex(files, id)
	if i < 0 {
		return "", 0
	}
	return files[i].Path, id - files[i].Base + 1
}

// ReadTexts reads the texts of the documents ids from files (ordered by
// first id), each file at most once and, for a file the ids phase cut into
// sections, only the sections that hold a wanted record. A record that is
// not a document (a bad record) is missing from the map; an id no file's
// range holds is an error.
func ReadTexts(ctx context.Context, files []FileRange, textField string, ids []int64) (map[int64]string, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	out := make(map[int64]string, len(ids))
	for len(ids) > 0 {
		fi := FileIndex(files, ids[0])
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
func readFileTexts(ctx context.Context, f FileRange, textField string, rows []int64, out map[int64]string) error {
	opts := dataio.ReadOptions{TextField: textField, IDField: "-", OnBadRecord: dataio.Skip, OmitRaw: true}
	if dataio.FormatOf(f.Path) == dataio.Parquet {
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
		r, err := OpenRange(FileRange{Path: f.Path, Base: f.Base, Count: f.Count, Section: &sec}, opts)
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
// text form (ledger.IDText), is id, in files, reading only the id column
// (Parquet) or scanning the lines (JSONL). It returns the file and the
// 1-based record number of the first match, or "".
func FindOriginalID(ctx context.Context, files []FileRange, textField, idField, id string) (file string, record int64, err error) {
	for _, f := range files {
		opts := dataio.ReadOptions{TextField: textField, IDField: idField, OnBadRecord: dataio.Skip, OmitRaw: true}
		parquet := dataio.FormatOf(f.Path) == dataio.Parquet
		if parquet {
			if !ParquetHasIDColumn(f.Path, idField) {
				continue
			}
			opts.Columns = []string{idField}
		}
		r, err := dataio.NewReader([]string{f.Path}, opts)
		if err != nil {
			return "", 0, err
		}
		row, err := findID(ctx, r, idField, id, !parquet)
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
			if v := IDText(OriginalIDJSON(idc, i, rawJSON)); v != nil && *v == id {
				return rc.Ints[i], nil
			}
		}
	}
}

// OriginalIDJSON is row i's id as JSON: the JSONL reader's raw JSON as is
// (a missing or null id: none); a Parquet string or binary value as a JSON
// string (empty: none); an integer in decimal; a null: none.
// ledger.IDText turns it into the ledger's text form.
func OriginalIDJSON(c *task.Column, i int, rawJSON bool) *string {
	if c == nil || c.IsNull(i) {
		return nil
	}
	var v string
	switch c.Type {
	case task.String:
		if rawJSON {
			if raw := strings.TrimSpace(c.Strings[i]); raw != "" && raw != "null" {
				return &raw
			}
			return nil
		}
		v = c.Strings[i]
	case task.Bytes:
		v = string(c.Bytes[i])
	case task.Int64:
		n := strconv.FormatInt(c.Ints[i], 10)
		return &n
	default:
		return nil
	}
	if v == "" {
		return nil
	}
	js, err := jsonString(v)
	if err != nil {
		return nil
	}
	return &js
}

// IDText is an original id's JSON (OriginalIDJSON) in the ledger's text
// form; nil stays nil.
func IDText(js *string) *string {
	if js == nil {
		return nil
	}
	return ledger.IDText(*js)
}

// KeepIDs makes opts (of ReadOptions, for path) also read the documents'
// values of field, when present and not already required: a JSONL record's
// raw JSON (never required), a Parquet file's column when it has one the
// ledger can show (ParquetHasIDColumn). It does nothing for an empty field,
// "-", or the text field.
func KeepIDs(opts *dataio.ReadOptions, path, field string) {
	text := opts.TextField
	if text == "" {
		text = dataio.DefaultTextField
	}
	if field == "" || field == "-" || field == text || opts.RequireID {
		return
	}
	if dataio.FormatOf(path) != dataio.Parquet {
		opts.IDField = field
	} else if ParquetHasIDColumn(path, field) {
		opts.IDField, opts.Columns = field, []string{field}
	}
}

// ParquetHasIDColumn reports whether the Parquet file at path has a
// top-level column name of a type the ledger can show as an id: a string or
// binary, or a signed integer. Other files are read without ids.
func ParquetHasIDColumn(path, name string) bool {
	if dataio.FormatOf(path) != dataio.Parquet {
		return false
	}
	f, err := dataio.Open(context.Background(), path)
	if err != nil {
		return false
	}
	defer f.Close()
	if f.Size() == 0 {
		return false
	}
	pf, err := parquet.OpenFile(f, f.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return false
	}
	for _, field := range pf.Schema().Fields() {
		if field.Name() != name {
			continue
		}
		if !field.Leaf() || field.Repeated() {
			return false
		}
		var lv format.LogicalTypeValue
		if lt := field.Type().LogicalType(); lt != nil {
			lv = lt.Value
		}
		switch field.Type().Kind() {
		case parquet.ByteArray:
			switch lv.(type) {
			case nil, *format.StringType, *format.EnumType, *format.JsonType:
				return true
			}
		case parquet.Int32:
			_, ok := lv.(*format.IntType)
			return lv == nil || ok
		case parquet.Int64:
			it, ok := lv.(*format.IntType)
			return lv == nil || ok && it.IsSigned
		}
		return false
	}
	return false
}

// TextStart is the first n characters of s, with runs of white space
// collapsed, and "…" when s is longer.
func TextStart(s string, n int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == ' ' || r == '\n' || r == '\t' || r == '\r' {
			space = true
			continue
		}
		need := 1
		if space && b.Len() > 0 {
			need = 2 // the collapsed white space, then r
		}
		if n < need {
			b.WriteString("…")
			break
		}
		if need == 2 {
			b.WriteByte(' ')
		}
		space = false
		if r == utf8.RuneError {
			r = '\uFFFD'
		}
		b.WriteRune(r)
		n -= need
	}
	return b.String()
}
