package task

import (
	"fmt"
	"strconv"
	"strings"
)

// Metadata keys that say where a task's records came from. Every reader
// stage sets them on the tasks it produces; later stages keep them (stages
// build their outputs with HeaderOf, which copies metadata) and a Failed
// keeps its task's, so that the failed-task manifest can say which records
// a failure lost.
const (
	// MetaSourceFile is the path of the file the task's records came from.
	MetaSourceFile = "source_file"
	// MetaSourceRows is the range of those records in that file,
	// "FIRST-LAST": 1-based, inclusive record numbers. A Parquet file's
	// records are its rows; a JSONL file's are its non-blank lines (the
	// record number is the line number when the file has no blank lines).
	MetaSourceRows = "source_rows"
)

// Source is one file's share of a task's records.
type Source struct {
	File string `json:"file"`
	// Rows is "FIRST-LAST" (1-based, inclusive; see MetaSourceRows), or
	// "all" for a task that stands for whole files (a FileGroup).
	Rows string `json:"rows"`
}

// SetSources records where t's records came from: the file and the 1-based
// inclusive range [first, last] of each part, in order. A task whose
// records span several files lists one file per line in MetaSourceFile and
// the matching ranges, one per line, in MetaSourceRows.
func SetSources(t Task, files []string, first, last []int64) {
	rows := make([]string, len(files))
	for i := range files {
		rows[i] = strconv.FormatInt(first[i], 10) + "-" + strconv.FormatInt(last[i], 10)
	}
	m := t.Meta()
	m[MetaSourceFile] = strings.Join(files, "\n")
	m[MetaSourceRows] = strings.Join(rows, "\n")
}

// Sources returns where t's records came from: the sources recorded in its
// metadata or, for a FileGroup without them, each of its files whole. It
// returns nil when nothing is known.
func Sources(t Task) ([]Source, error) {
	if f, ok := t.(*Failed); ok && f.Meta()[MetaSourceFile] == "" && f.Original != nil {
		t = f.Original
	}
	m := t.Meta()
	if m[MetaSourceFile] == "" {
		if fg, ok := t.(*FileGroup); ok {
			out := make([]Source, len(fg.Paths))
			for i, p := range fg.Paths {
				out[i] = Source{File: p, Rows: "all"}
			}
			return out, nil
		}
		return nil, nil
	}
	files := strings.Split(m[MetaSourceFile], "\n")
	rows := strings.Split(m[MetaSourceRows], "\n")
	if len(rows) != len(files) {
		return nil, fmt.Errorf("task %s: %d source files but %d row ranges in its metadata", t.ID(), len(files), len(rows))
	}
	out := make([]Source, len(files))
	for i := range files {
		out[i] = Source{File: files[i], Rows: rows[i]}
	}
	return out, nil
}

// DescribeSources is "FILE records FIRST-LAST" for each source, joined by
// "; " ("" when there are none).
func DescribeSources(srcs []Source) string {
	parts := make([]string, len(srcs))
	for i, s := range srcs {
		if s.Rows == "all" {
			parts[i] = s.File
		} else {
			parts[i] = s.File + " records " + s.Rows
		}
	}
	return strings.Join(parts, "; ")
}
