package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// FileRange is one input file with the ids of its records: [Base, Base+Count).
type FileRange struct {
	Path  string `json:"path"`
	Base  int64  `json:"base"`
	Count int64  `json:"count"`
	// Section, when set, restricts a task to part of a large file; ids
	// stay Base + record index in the file.
	Section *dataio.Section `json:"section,omitempty"`
	// Sections lists how the ids phase split the file (for the reading
	// tasks); empty for files read whole.
	Sections []dataio.Section `json:"sections,omitempty"`
}

// IDs returns the first id and the number of ids the range covers.
func (f FileRange) IDs() (first, n int64) {
	if f.Section != nil {
		return f.Base + f.Section.FirstRow, f.Section.Rows
	}
	return f.Base, f.Count
}

// FileRanges returns the files of an ids-phase task (MetaFiles).
func FileRanges(t task.Task) ([]FileRange, error) {
	var fr []FileRange
	if err := json.Unmarshal([]byte(t.Meta()[MetaFiles]), &fr); err != nil {
		return nil, fmt.Errorf("task %s: metadata %s: %w", t.ID(), MetaFiles, err)
	}
	return fr, nil
}

// AssignIDs counts the records of every file and gives each file group a
// contiguous id range, in group order (not in the order actors finish), so
// ids are the same on every run. Files above splitBytes are cut into
// sections (uncompressed JSONL at line boundaries, Parquet at row groups).
// It writes dir/id_map.json and returns one FileGroup per group, its files
// in MetaFiles and its index in MetaGroup, named after dataset.
func AssignIDs(ctx context.Context, dataset string, groups [][]string, dir string, splitBytes int64) ([]task.Task, error) {
	counts, sections, err := countRecords(ctx, groups, splitBytes)
	if err != nil {
		return nil, err
	}
	type idGroup struct {
		Group   int         `json:"group"`
		FirstID int64       `json:"first_id"`
		Count   int64       `json:"count"`
		Files   []FileRange `json:"files"`
	}
	var idmap []idGroup
	var tasks []task.Task
	var next64 int64
	for g, files := range groups {
		ig := idGroup{Group: g, FirstID: next64}
		for f, p := range files {
			ig.Files = append(ig.Files, FileRange{Path: p, Base: next64, Count: counts[g][f], Sections: sections[g][f]})
			next64 += counts[g][f]
			ig.Count += counts[g][f]
		}
		idmap = append(idmap, ig)
		t := task.NewFileGroup(dataset, files)
		b, _ := json.Marshal(ig.Files)
		t.Meta()[MetaFiles] = string(b)
		t.Meta()[MetaGroup] = strconv.Itoa(g)
		tasks = append(tasks, t)
	}
	b, _ := json.MarshalIndent(map[string]any{"total_ids": next64, "groups": idmap}, "", "  ")
	if err := dataio.WriteFile(context.Background(), dataio.JoinPath(dir, "id_map.json"), append(b, '\n')); err != nil {
		return nil, err
	}
	return tasks, nil
}

// countRecords counts the records of every file of groups, four files at a
// time, and splits the large ones into sections.
func countRecords(ctx context.Context, groups [][]string, splitBytes int64) ([][]int64, [][][]dataio.Section, error) {
	type job struct{ g, f int }
	counts := make([][]int64, len(groups))
	sections := make([][][]dataio.Section, len(groups))
	var jobs []job
	for g, files := range groups {
		counts[g] = make([]int64, len(files))
		sections[g] = make([][]dataio.Section, len(files))
		for f := range files {
			jobs = append(jobs, job{g, f})
		}
	}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	next := make(chan job)
	for range 4 {
		wg.Go(func() {
			for j := range next {
				n, secs, err := countFile(ctx, groups[j.g][j.f], splitBytes)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("count records: %w", err)
				}
				counts[j.g][j.f] = n
				sections[j.g][j.f] = secs
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return counts, sections, nil
}

// countFile counts the records of path and, if it is large, cuts it into
// sections.
func countFile(ctx context.Context, path string, splitBytes int64) (int64, []dataio.Section, error) {
	if dataio.FormatOf(path) != dataio.Parquet {
		// One open and one read whether the file is cut or not.
		return dataio.CountRecordsSplit(ctx, path, splitBytes)
	}
	var n int64
	var secs []dataio.Section
	var err error
	if fi, serr := dataio.Stat(ctx, path); serr == nil && fi.Size > splitBytes {
		// Parquet sections are runs of row groups, sized by
		// uncompressed bytes (text compresses about 2–3:1).
		secs, err = dataio.SplitParquet(path, 2*splitBytes)
	}
	if secs != nil || err != nil {
		for _, s := range secs {
			n += s.Rows
		}
	} else {
		n, err = dataio.CountRecordsContext(ctx, path)
	}
	return n, secs, err
}

// NumIDs is the number of ids the ids phase gave out: every record, good
// or bad, takes one.
func NumIDs(idTasks []task.Task) (int64, error) {
	var numIDs int64
	for _, t := range idTasks {
		files, err := FileRanges(t)
		if err != nil {
			return 0, err
		}
		for _, f := range files {
			numIDs = max(numIDs, f.Base+f.Count)
		}
	}
	return numIDs, nil
}

// SectionTasks returns the reading tasks for the file groups: a group's task
// as is, or, for a group with a split file, one task per section of that
// file, plus one task per run of consecutive unsplit files of the group.
func SectionTasks(groups []task.Task) []task.Task {
	var out []task.Task
	for _, t := range CopyTasks(groups) {
		files, err := FileRanges(t)
		split := false
		for _, f := range files {
			split = split || len(f.Sections) > 1
		}
		if err != nil || !split {
			out = append(out, t)
			continue
		}
		g := t.Meta()[MetaGroup]
		// A reading task covers one contiguous id range (a signature store
		// does), so each run of consecutive whole files (no split file
		// between them) gets a task of its own.
		var whole []FileRange
		wholeStart := 0
		flush := func() {
			if len(whole) > 0 {
				out = append(out, rangeTask(t, fmt.Sprintf("%s-w%d", g, wholeStart), whole))
				whole = nil
			}
		}
		for fi, f := range files {
			if len(f.Sections) <= 1 {
				if len(whole) == 0 {
					wholeStart = fi
				}
				whole = append(whole, f)
				continue
			}
			flush()
			for si := range f.Sections {
				sec := f.Sections[si]
				fr := FileRange{Path: f.Path, Base: f.Base, Count: f.Count, Section: &sec}
				out = append(out, rangeTask(t, fmt.Sprintf("%s-%d-%d", g, fi, si), []FileRange{fr}))
			}
		}
		flush()
	}
	return out
}

func rangeTask(t task.Task, group string, files []FileRange) task.Task {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	fg := &task.FileGroup{Header: task.HeaderOf(t), Paths: paths}
	b, _ := json.Marshal(files)
	fg.Meta()[MetaFiles] = string(b)
	fg.Meta()[MetaGroup] = group
	fg.TaskID = t.ID() + "-" + group
	return fg
}

// CopyTasks gives a phase its own copies of earlier outputs (stages set ids
// on the tasks they are handed).
func CopyTasks(ts []task.Task) []task.Task {
	out := make([]task.Task, len(ts))
	for i, t := range ts {
		fg := t.(*task.FileGroup)
		out[i] = &task.FileGroup{Header: task.HeaderOf(fg), Paths: append([]string(nil), fg.Paths...)}
	}
	return out
}
