package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// LargestGroup is one of the largest groups, with a few of its members
// named (see DescribeGroups).
type LargestGroup struct {
	GroupSize
	Members []GroupMember `json:"members,omitempty"`
}

// GroupMember is one document of a group of duplicates, as the user knows
// it.
type GroupMember struct {
	// DedupID is the document's internal id (see id_map.json).
	DedupID int64 `json:"dedup_id"`
	// File is the input file holding it, and Record its 1-based record
	// number there (a JSONL file's n-th non-blank line, a Parquet row).
	File   string `json:"file"`
	Record int64  `json:"record"`
	// OriginalID is the --id-field value, as JSON (a string or a number);
	// absent when the record has none.
	OriginalID json.RawMessage `json:"original_id,omitempty"`
	// Kept is true for the group's first document, the one kept.
	Kept bool `json:"kept"`
	// TextStart is the first characters of the document's text (white
	// space collapsed), for the report.
	TextStart string `json:"text_start,omitempty"`
}

// GroupSize is one group and its number of documents. A group's id is its
// smallest member's, the document kept.
type GroupSize struct {
	Group int64 `json:"group"`
	Size  int64 `json:"size"`
}

// Groups described by DescribeGroups, and members named per group.
const (
	DescribedGroups = 3
	MembersPerGroup = 3
)

// OriginalIDs looks up the original id (as JSON; nil for none) of a
// document by its dedup id, for a workflow that kept them while reading.
type OriginalIDs func(id int64) (json.RawMessage, error)

// DescribeGroups names, for each of the first few of the largest groups,
// its first few documents: members[group] lists their ids (the kept one,
// the group's id, and the earliest removed ones), and DescribeGroups adds
// their files, record numbers and original ids: from orig when the
// workflow kept them, else read from the inputs (at most DescribedGroups ×
// MembersPerGroup records; of a large JSONL file only the section holding
// the record). A failure is logged, not fatal: the summary then lacks the
// members.
func DescribeGroups(ctx context.Context, c IO, log *slog.Logger, groups []LargestGroup, members map[int64][]int64, idTasks []task.Task, orig OriginalIDs) {
	groups = groups[:min(len(groups), DescribedGroups)]
	if len(groups) == 0 {
		return
	}
	if err := describe(ctx, c, groups, members, idTasks, orig); err != nil {
		log.Warn("summary: cannot name the members of the largest groups", "err", err)
		for i := range groups {
			groups[i].Members = nil
		}
	}
}

func describe(ctx context.Context, c IO, groups []LargestGroup, members map[int64][]int64, idTasks []task.Task, orig OriginalIDs) error {
	var files []FileRange
	for _, t := range idTasks {
		fr, err := FileRanges(t)
		if err != nil {
			return err
		}
		files = append(files, fr...)
	}
	// Each file (or section of one) is read once, for all its members.
	type part struct{ file, sec int }
	wanted := map[part][]int64{}
	located := map[int64]GroupMember{}
	where := map[int64]part{}
	for _, g := range groups {
		for _, id := range members[g.Group] {
			i := slices.IndexFunc(files, func(f FileRange) bool { return id >= f.Base && id < f.Base+f.Count })
			if i < 0 {
				return fmt.Errorf("id %d is in no file's range", id)
			}
			f := files[i]
			row := id - f.Base
			sec := slices.IndexFunc(f.Sections, func(s dataio.Section) bool { return row >= s.FirstRow && row < s.FirstRow+s.Rows })
			p := part{i, sec}
			wanted[p] = append(wanted[p], row)
			located[id] = GroupMember{DedupID: id, File: f.Path, Record: row + 1}
			where[id] = p
		}
	}
	read := map[part]map[int64]json.RawMessage{}
	for p, rows := range wanted {
		if orig != nil {
			break
		}
		ids, err := readOriginalIDs(ctx, c, files[p.file], p.sec, rows)
		if err != nil {
			return err
		}
		read[p] = ids
	}
	for i := range groups {
		for _, id := range members[groups[i].Group] {
			m := located[id]
			if orig != nil {
				js, err := orig(id)
				if err != nil {
					return err
				}
				m.OriginalID = js
			} else {
				m.OriginalID = read[where[id]][m.Record-1]
			}
			m.Kept = id == groups[i].Group
			groups[i].Members = append(groups[i].Members, m)
		}
	}
	return nil
}

// readOriginalIDs reads the --id-field values of the records rows (0-based)
// of f, of its section sec if sec ≥ 0, as JSON; a record without one has
// none in the map. A JSONL file is scanned line by line, parsing only the
// wanted lines; of a Parquet file only the id column is read.
func readOriginalIDs(ctx context.Context, c IO, f FileRange, sec int, rows []int64) (map[int64]json.RawMessage, error) {
	out := map[int64]json.RawMessage{}
	want := map[int64]bool{}
	var last int64
	for _, r := range rows {
		want[r], last = true, max(last, r)
	}
	if dataio.FormatOf(f.Path) != dataio.Parquet {
		var s *dataio.Section
		if sec >= 0 {
			s = &f.Sections[sec]
		}
		err := dataio.ScanJSONLRecords(ctx, f.Path, s, func(row int64, line []byte) error {
			if want[row] {
				if id := jsonField(line, c.IDField); id != nil {
					out[row] = id
				}
			}
			if row >= last {
				return dataio.ErrStopScan
			}
			return nil
		})
		return out, err
	}
	opts := dataio.ReadOptions{TextField: c.TextField, IDField: c.IDField, OnBadRecord: dataio.Skip, OmitRaw: true, Columns: []string{c.IDField}}
	var r dataio.BatchReader
	var err error
	if sec >= 0 {
		r, err = dataio.NewParquetSectionReader(f.Path, f.Sections[sec], opts)
	} else {
		r, err = dataio.NewReader([]string{f.Path}, opts)
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	for {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, nil // no such column: no original ids
		}
		idc := b.Column(c.IDField)
		for i, row := range b.Column(dataio.RowColumn).Ints {
			if want[row] && idc != nil {
				if s, err := idJSON(idc, i, false); err == nil {
					out[row] = json.RawMessage(s)
				}
			}
			if row >= last {
				return out, nil
			}
		}
	}
}

// jsonField returns the raw JSON of field in the JSONL record line, or nil
// when the line is not a JSON object or lacks the field. Like the reader,
// it ignores a byte order mark and takes the last of repeated keys.
func jsonField(line []byte, field string) json.RawMessage {
	line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
	var rec map[string]json.RawMessage
	if json.Unmarshal(line, &rec) != nil {
		return nil
	}
	return rec[field]
}
