package fuzzy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// LargestGroup is one of the largest groups, with a few of its members
// named (see describeGroups).
type LargestGroup struct {
	GroupSize
	Members []GroupMember `json:"members,omitempty"`
}

// GroupMember is one document of a group of near-duplicates, as the user
// knows it.
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

// Groups described by describeGroups, and members named per group.
const (
	describedGroups = 3
	membersPerGroup = 3
)

// describeGroups names, for each of the first few of the largest groups,
// its first few documents: the kept one and the earliest removed ones, with
// their files, record numbers and original ids. The ids come from the
// MinHash phase's id stores (mhOut), else it reads at most
// describedGroups × membersPerGroup records (of a large JSONL file only the
// section holding the record). A failure is logged, not fatal: the summary
// then lacks the members.
func (w *Workflow) describeGroups(ctx context.Context, c Config, groups []LargestGroup, ccOut, idTasks, mhOut []task.Task) {
	groups = groups[:min(len(groups), describedGroups)]
	if len(groups) == 0 {
		return
	}
	if err := describe(ctx, c, groups, ccOut, idTasks, mhOut); err != nil {
		w.logger().Warn("summary: cannot name the members of the largest groups", "err", err)
		for i := range groups {
			groups[i].Members = nil
		}
	}
}

func describe(ctx context.Context, c Config, groups []LargestGroup, ccOut, idTasks, mhOut []task.Task) error {
	members, err := smallestMembers(groups, ccOut)
	if err != nil {
		return err
	}
	var ids *idStores
	if refs, err := storesOf(mhOut); err == nil && len(refs) > 0 && refs[0].IDs != "" {
		if ids, err = openIDStores(refs); err != nil {
			return err
		}
		defer ids.close()
	}
	var files []fileRange
	for _, t := range idTasks {
		fr, err := fileRanges(t)
		if err != nil {
			return err
		}
		files = append(files, fr...)
	}
	for i := range groups {
		for _, id := range members[groups[i].Group] {
			m, err := locate(ctx, c, files, id, ids)
			if err != nil {
				return err
			}
			m.Kept = id == groups[i].Group
			groups[i].Members = append(groups[i].Members, m)
		}
	}
	return nil
}

// smallestMembers scans the components files for the membersPerGroup
// smallest ids of each group (a group's id is its smallest member's).
func smallestMembers(groups []LargestGroup, ccOut []task.Task) (map[int64][]int64, error) {
	members := make(map[int64][]int64, len(groups))
	for _, g := range groups {
		members[g.Group] = nil
	}
	for _, t := range ccOut {
		fg, ok := t.(*task.FileGroup)
		if !ok || len(fg.Paths) == 0 {
			continue
		}
		r, err := dataio.OpenGroupFile(fg.Paths[0], 0)
		if err != nil {
			return nil, err
		}
		for {
			ids, gs, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return nil, err
			}
			for i, g := range gs {
				if m, want := members[g]; want {
					m = append(m, ids[i])
					slices.Sort(m)
					members[g] = m[:min(len(m), membersPerGroup)]
				}
			}
		}
		r.Close()
	}
	return members, nil
}

// locate finds the file and record of id and its original id: from the
// id stores when there are some (ids), else by reading the record.
func locate(ctx context.Context, c Config, files []fileRange, id int64, ids *idStores) (GroupMember, error) {
	i := slices.IndexFunc(files, func(f fileRange) bool { return id >= f.Base && id < f.Base+f.Count })
	if i < 0 {
		return GroupMember{}, fmt.Errorf("id %d is in no file's range", id)
	}
	f := files[i]
	row := id - f.Base
	m := GroupMember{DedupID: id, File: f.Path, Record: row + 1}
	if ids != nil {
		js, err := ids.read(id)
		if js != nil {
			m.OriginalID = json.RawMessage(*js)
		}
		return m, err
	}
	orig, err := readOriginalID(ctx, c, f, row)
	m.OriginalID = orig
	return m, err
}

// readOriginalID reads the --id-field value of record row (0-based) of f,
// as JSON, or nil when the record has none.
func readOriginalID(ctx context.Context, c Config, f fileRange, row int64) (json.RawMessage, error) {
	opts := dataio.ReadOptions{TextField: c.TextField, IDField: c.IDField, OnBadRecord: dataio.Skip, OmitRaw: true}
	parquet := dataio.FormatOf(f.Path) == dataio.Parquet
	if parquet {
		opts.Columns = []string{c.IDField}
	}
	var r dataio.BatchReader
	var err error
	sec := slices.IndexFunc(f.Sections, func(s dataio.Section) bool { return row >= s.FirstRow && row < s.FirstRow+s.Rows })
	switch {
	case sec >= 0 && parquet:
		r, err = dataio.NewParquetSectionReader(f.Path, f.Sections[sec], opts)
	case sec >= 0:
		r, err = dataio.NewJSONLSectionReader(f.Path, f.Sections[sec], opts)
	default:
		r, err = dataio.NewReader([]string{f.Path}, opts)
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	for {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil, nil // a bad record: not read
		}
		if err != nil {
			if parquet {
				return nil, nil // no such column: no original ids
			}
			return nil, err
		}
		rows := b.Column(dataio.RowColumn).Ints
		if rows[len(rows)-1] < row {
			continue
		}
		i, found := slices.BinarySearch(rows, row)
		idc := b.Column(c.IDField)
		if !found || idc == nil {
			return nil, nil
		}
		if !parquet && idc.Strings[i] == "" {
			return nil, nil
		}
		s, err := idJSON(idc, i, !parquet)
		if err != nil {
			return nil, nil
		}
		return json.RawMessage(s), nil
	}
}
