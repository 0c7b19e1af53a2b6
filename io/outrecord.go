package dataio

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A record is one small JSON file, RecordsDir/files/<hash of the path>.json,
// describing one file Sluice wrote into the output directory. A writer
// writes it twice: before the file exists (state "writing") and after the
// file is in place (state "done", with its size and modification time).
// Each record is replaced atomically (temporary file and rename), and
// records of different files never share a file, so writers in any number
// of processes need no coordination. A file counts as Sluice's only when its
// record matches it:
//
//   - "done": same size and modification time;
//   - "writing" (the writer was killed before Commit): the file was
//     modified no earlier than the record was written, or it is the file
//     an earlier attempt of this run committed (Prev).
//
// So a file someone else put in place or changed since is never taken for
// Sluice's, and a killed writer never leaves a file Sluice forgets.
type fileRecord struct {
	Path    string `json:"path"` // relative to the output directory, "/"-separated
	Name    string `json:"name"` // the name the writer asked for; append mode may add a suffix
	Run     string `json:"run"`
	State   string `json:"state"`
	Size    int64  `json:"size,omitempty"`
	MtimeNS int64  `json:"mtime_ns,omitempty"`
	Rows    int64  `json:"rows,omitempty"`
	// ETag identifies the object on object stores.
	ETag string     `json:"etag,omitempty"`
	Prev *fileStamp `json:"prev,omitempty"`
}

type fileStamp struct {
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
	ETag    string `json:"etag,omitempty"`
}

func stampOf(fi FileInfo) fileStamp { return fileStamp{fi.Size, fi.ModTime.UnixNano(), fi.ETag} }

const (
	stateWriting = "writing"
	stateDone    = "done"
)

// loadedRecord is a record with where it was read from and when it was
// written.
type loadedRecord struct {
	fileRecord
	file    string
	written time.Time
	batch   bool // an entry of a batch record (file holds others too)
}

// owns reports whether the record proves that the file fi describes is the
// one Sluice wrote.
func (r *loadedRecord) owns(fi FileInfo) bool {
	if !fi.Regular {
		return false
	}
	st := stampOf(fi)
	switch r.State {
	case stateDone:
		return st == fileStamp{r.Size, r.MtimeNS, r.ETag}
	case stateWriting:
		return r.Prev != nil && *r.Prev == st || !fi.ModTime.Before(r.written)
	}
	return false
}

func recordsPath(dir string) string { return JoinPath(dir, RecordsDir, "files") }

func recordFile(dir, rel string) string {
	h := sha256.Sum256([]byte(rel))
	return JoinPath(recordsPath(dir), hex.EncodeToString(h[:12])+".json")
}

// readRecord reads one record file; a missing record is (nil, nil).
func readRecord(file string) (*loadedRecord, error) {
	rs, err := readRecords(file)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return rs[0], nil
}

// readRecords reads a record file: a single record, or a batch record's
// entries. A missing file is (nil, nil).
func readRecords(file string) ([]*loadedRecord, error) {
	ctx := context.Background()
	fi, err := Stat(ctx, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b, err := ReadFile(ctx, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !isBatchRecord(file) {
		r := &loadedRecord{file: file, written: fi.ModTime}
		if err := json.Unmarshal(b, &r.fileRecord); err != nil {
			return nil, fmt.Errorf("record %s: %w", file, err)
		}
		return []*loadedRecord{r}, nil
	}
	var br batchRecord
	if err := json.Unmarshal(b, &br); err != nil {
		return nil, fmt.Errorf("record %s: %w", file, err)
	}
	rs := make([]*loadedRecord, len(br.Files))
	for i, e := range br.Files {
		rs[i] = &loadedRecord{fileRecord: e, file: file, written: fi.ModTime, batch: true}
	}
	return rs, nil
}

// loadRecords reads every record of dir, by path (a path may have several:
// a single record and batch entries). Unreadable records are left out: the
// files they describe then count as foreign, which is safe.
func loadRecords(dir string) (map[string][]*loadedRecord, error) {
	var names []string
	err := Walk(context.Background(), recordsPath(dir), func(e FileInfo) error {
		if e.IsDir {
			return fs.SkipDir
		}
		names = append(names, e.Path)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]*loadedRecord{}, nil
	}
	if err != nil {
		return nil, err
	}
	recs := make(map[string][]*loadedRecord, len(names))
	for _, file := range names {
		if name := BaseOf(file); hidden(name) || !strings.HasSuffix(name, ".json") {
			continue
		}
		rs, err := readRecords(file)
		if err != nil {
			continue
		}
		for _, r := range rs {
			if r.Path != "" {
				recs[r.Path] = append(recs[r.Path], r)
			}
		}
	}
	return recs, nil
}

// owner returns the record of rs that proves the file fi describes is
// Sluice's, or nil.
func owner(rs []*loadedRecord, fi FileInfo) *loadedRecord {
	for _, r := range rs {
		if r.owns(fi) {
			return r
		}
	}
	return nil
}

func writeRecord(dir string, r fileRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return WriteFile(context.Background(), recordFile(dir, r.Path), b)
}

// hidden reports whether readers skip name ("_" or "." first).
func hidden(name string) bool { return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") }

// tempBase returns the final name of a temporary file of this package's
// writers (".NAME.tmp-RANDOM").
func tempBase(name string) (string, bool) {
	i := strings.LastIndex(name, ".tmp-")
	if !strings.HasPrefix(name, ".") || i <= 1 {
		return "", false
	}
	return name[1:i], true
}

// OutputFile is a file an earlier run of Sluice wrote into an output
// directory.
type OutputFile struct {
	// Path is relative to the directory, "/"-separated.
	Path string
	Size int64
	// Rows is the record count the writer reported (0 if none).
	Rows   int64
	record string
	batch  bool // record is a batch record
}

// OutputScan is what an output directory holds (see ScanOutput).
type OutputScan struct {
	Dir string
	// Ours are the files Sluice wrote, as their records prove.
	Ours []OutputFile
	// Foreign are the data files (names not starting with "." or "_")
	// Sluice did not write, relative to Dir: the first MaxForeignListed
	// the walk found, ForeignMore set if there are more.
	Foreign     []string
	ForeignMore bool
	// leftovers are Sluice's temporary files left by killed writers and
	// records of files that are gone or no longer Sluice's; staleEntries
	// the same for batch records: the paths to drop from each.
	leftovers    []string
	staleEntries map[string][]string
	ourPaths     map[string]bool // Ours by path, built by foreignAt
}

// stale marks a record as describing a file that is gone or not Sluice's.
func (s *OutputScan) stale(r *loadedRecord) {
	if !r.batch {
		s.leftovers = append(s.leftovers, r.file)
		return
	}
	s.staleEntry(r.file, r.Path)
}

// staleEntry marks the entry for path in the batch record file to be
// dropped.
func (s *OutputScan) staleEntry(file, path string) {
	if s.staleEntries == nil {
		s.staleEntries = make(map[string][]string)
	}
	s.staleEntries[file] = append(s.staleEntries[file], path)
}

// ours adds the file fi describes, proved Sluice's by r; the other records
// of the file are stale.
func (s *OutputScan) ours(rel string, fi FileInfo, r *loadedRecord, rs []*loadedRecord) {
	s.Ours = append(s.Ours, OutputFile{Path: rel, Size: fi.Size, Rows: r.Rows, record: r.file, batch: r.batch})
	for _, o := range rs {
		if o != r {
			s.stale(o)
		}
	}
}

// MaxForeignListed bounds the foreign files a scan lists, so that a
// mistaken --output (a home directory) is refused quickly.
const MaxForeignListed = 1000

// ScanOutput lists what dir holds: the files Sluice wrote there (by their
// records) and the data files it did not. Directories whose names start
// with "." or "_" (the records, a default cache) and those in skip are not
// data and are not listed. A directory that does not exist is empty; a
// symbolic link to a directory is followed.
func ScanOutput(dir string, skip []string) (*OutputScan, error) {
	ctx := context.Background()
	s := &OutputScan{Dir: dir}
	fi, err := Stat(ctx, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if !fi.IsDir {
		return nil, &fs.PathError{Op: "scan", Path: dir, Err: errors.New("not a directory")}
	}
	recs, err := loadRecords(dir)
	if err != nil {
		return nil, err
	}
	skipped := make(map[string]bool, len(skip))
	for _, d := range skip {
		skipped[canonicalPath(d)] = true
	}
	seen := make(map[string]bool)
	err = Walk(ctx, dir, func(e FileInfo) error {
		if len(s.Foreign) >= MaxForeignListed {
			s.ForeignMore = true
			return fs.SkipAll
		}
		rel, ok := RelPath(dir, e.Path)
		if !ok {
			return fmt.Errorf("scan %s: %s is outside the directory", dir, e.Path)
		}
		rel = filepath.ToSlash(rel)
		if e.IsDir {
			if hidden(e.Name) || skipped[canonicalPath(e.Path)] {
				return fs.SkipDir
			}
			return nil
		}
		seen[rel] = true
		s.classify(rel, e, recs)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for rel, rs := range recs {
		if !seen[rel] {
			s.unvisited(rel, rs, skipped)
		}
	}
	slices.Sort(s.Foreign)
	slices.SortFunc(s.Ours, func(a, b OutputFile) int { return strings.Compare(a.Path, b.Path) })
	return s, nil
}

// classify files one file found by the walk (fi describes it without
// following a symbolic link).
func (s *OutputScan) classify(rel string, fi FileInfo, recs map[string][]*loadedRecord) {
	rs := recs[rel]
	if r := owner(rs, fi); r != nil {
		s.ours(rel, fi, r, rs)
		return
	}
	for _, r := range rs {
		s.stale(r) // the file is no longer the one Sluice wrote
	}
	if !hidden(fi.Name) {
		s.Foreign = append(s.Foreign, rel)
		return
	}
	if base, ok := tempBase(fi.Name); ok {
		if len(recs[path.Join(path.Dir(rel), base)]) > 0 {
			s.leftovers = append(s.leftovers, fi.Path)
		}
	}
}

// foreignAt reports whether the file rel (relative to Dir) exists and is not
// one of Sluice's: checked directly, not through the walk's bounded list.
func (s *OutputScan) foreignAt(rel string) bool {
	rel = path.Clean(rel)
	if _, err := Lstat(context.Background(), JoinPath(s.Dir, rel)); err != nil {
		return false
	}
	if s.ourPaths == nil {
		s.ourPaths = make(map[string]bool, len(s.Ours))
		for _, f := range s.Ours {
			s.ourPaths[f.Path] = true
		}
	}
	return !s.ourPaths[rel]
}

// unvisited handles a record whose file the walk did not reach: gone, or
// inside a directory the walk skips.
func (s *OutputScan) unvisited(rel string, rs []*loadedRecord, skipped map[string]bool) {
	full := JoinPath(s.Dir, rel)
	for d := DirOf(full); d != s.Dir && d != DirOf(d); d = DirOf(d) {
		if skipped[canonicalPath(d)] {
			return
		}
	}
	fi, err := Lstat(context.Background(), full)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return // unknown: keep the records
	}
	if err == nil {
		if r := owner(rs, fi); r != nil {
			s.ours(rel, fi, r, rs)
			return
		}
	}
	for _, r := range rs {
		s.stale(r)
	}
}

// removeOurs removes Sluice's files, each before its record (a kill in
// between leaves a record of a missing file, which the next scan clears).
func (s *OutputScan) removeOurs(p *Prepared) error {
	ctx := context.Background()
	for _, f := range s.Ours {
		full := JoinPath(s.Dir, f.Path)
		if err := Remove(ctx, full); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if f.batch {
			s.staleEntry(f.record, f.Path)
		} else if err := Remove(ctx, f.record); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		p.Removed = append(p.Removed, f)
		p.RemovedBytes += f.Size
	}
	s.Ours = nil
	return nil
}

// removeLeftovers removes killed writers' temporary files and stale
// records, and drops stale entries from batch records.
func (s *OutputScan) removeLeftovers() {
	for _, f := range s.leftovers {
		_ = Remove(context.Background(), f)
	}
	s.leftovers = nil
	for file, paths := range s.staleEntries {
		_ = pruneBatch(s.Dir, file, paths)
	}
	s.staleEntries = nil
}

// runInfo is RecordsDir/run.json: the run that last prepared the directory.
type runInfo struct {
	Run     string     `json:"run"`
	Mode    OutputMode `json:"mode"`
	Started time.Time  `json:"started"`
}

func startRun(dir string, mode OutputMode) (string, error) {
	ctx := context.Background()
	if err := MkdirAll(ctx, recordsPath(dir)); err != nil {
		return "", err
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	info := runInfo{Run: hex.EncodeToString(b[:]), Mode: mode, Started: time.Now().UTC()}
	js, err := json.Marshal(info)
	if err != nil {
		return "", err
	}
	return info.Run, WriteFile(ctx, JoinPath(dir, RecordsDir, "run.json"), js)
}

// Output writes files into an output directory that PrepareOutput readied
// for this run, keeping a record of each. Each actor (in any process) opens
// its own; an Output is safe for use by one goroutine at a time.
type Output struct {
	dir  string
	mode OutputMode
	run  string
}

// OpenOutput opens dir, prepared for this run by PrepareOutput, for writing
// in mode (append may rename files; see Begin). It fails if dir was never
// prepared.
func OpenOutput(dir string, mode OutputMode) (*Output, error) {
	b, err := ReadFile(context.Background(), JoinPath(dir, RecordsDir, "run.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, rejectf("output directory %s was not prepared for this run: call dataio.PrepareOutput before writing (pipeline.Run and the sluice commands do)", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("output directory %s: %s", dir, DescribeFSError(err))
	}
	var info runInfo
	if err := json.Unmarshal(b, &info); err != nil || info.Run == "" {
		return nil, fmt.Errorf("output directory %s: unreadable run record %s", dir, JoinPath(dir, RecordsDir, "run.json"))
	}
	return &Output{dir: dir, mode: mode, run: info.Run}, nil
}

// Dir returns the output directory.
func (o *Output) Dir() string { return o.dir }

// Begin records that this run is about to write the file name (relative to
// the directory; subdirectories are created) and returns the path to write
// it to. Write it with this package's writers (temporary file, renamed into
// place on Close), then call Commit.
//
// Begin replaces only a file this run wrote (a retry, possibly on another
// actor while an abandoned attempt still runs: the last Commit describes
// the last file renamed into place). A file Sluice did
// not write, or one an earlier run wrote, is refused — except in append
// mode, where the name gets the first free suffix ("part.jsonl" →
// "part-1.jsonl"): a retry of the same name in the same run gets the same
// path again.
func (o *Output) Begin(name string) (string, error) {
	rel := filepath.ToSlash(filepath.Clean(name))
	if !filepath.IsLocal(name) || rel == RecordsDir || strings.HasPrefix(rel, RecordsDir+"/") {
		return "", fmt.Errorf("output %s: %q is not a file name inside the directory", o.dir, name)
	}
	for k := 0; k < 10000; k++ {
		cand := rel
		if k > 0 {
			cand = withSuffix(rel, k)
		}
		full := JoinPath(o.dir, cand)
		r, err := readRecord(recordFile(o.dir, cand))
		if err != nil {
			return "", fmt.Errorf("output %s: %w", o.dir, err)
		}
		fi, err := Lstat(context.Background(), full)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("output %s: %s", o.dir, DescribeFSError(err))
		}
		exists := err == nil
		mine := r != nil && r.Run == o.run
		var conflict error
		switch {
		case mine && r.Name != rel:
			conflict = fmt.Errorf("output %s: %s is written twice by this run (as %s and %s)", o.dir, cand, r.Name, rel)
		case exists && !mine && r != nil && r.owns(fi):
			conflict = rejectf("%s was written by an earlier run; refusing to overwrite it in %s mode", full, o.mode)
		case exists && !mine:
			conflict = rejectf("%s exists and was not written by Sluice; refusing to overwrite it", full)
		}
		if conflict != nil {
			if o.mode == OutputAppend {
				continue
			}
			return "", conflict
		}
		rec := fileRecord{Path: cand, Name: rel, Run: o.run, State: stateWriting}
		if exists {
			st := stampOf(fi)
			rec.Prev = &st
		}
		if err := MkdirAll(context.Background(), DirOf(full)); err != nil {
			return "", fmt.Errorf("output %s: %s", o.dir, DescribeFSError(err))
		}
		if err := writeRecord(o.dir, rec); err != nil {
			return "", fmt.Errorf("output %s: record %s: %s", o.dir, cand, DescribeFSError(err))
		}
		return full, nil
	}
	return "", fmt.Errorf("output %s: no free name for %s", o.dir, rel)
}

// Commit records that the file at path, which Begin returned, is complete
// and holds rows records.
func (o *Output) Commit(path string, rows int64) error {
	rel, ok := RelPath(o.dir, path)
	if !ok || rel == "." {
		return fmt.Errorf("output %s: %s is not inside the directory", o.dir, path)
	}
	rel = filepath.ToSlash(rel)
	r, err := readRecord(recordFile(o.dir, rel))
	if err != nil {
		return fmt.Errorf("output %s: %w", o.dir, err)
	}
	if r == nil || r.Run != o.run {
		return fmt.Errorf("output %s: commit of %s, which this run did not begin", o.dir, rel)
	}
	fi, err := Stat(context.Background(), path)
	if err != nil {
		return fmt.Errorf("output %s: %s", o.dir, DescribeFSError(err))
	}
	st := stampOf(fi)
	rec := fileRecord{Path: rel, Name: r.Name, Run: o.run, State: stateDone, Size: st.Size, MtimeNS: st.MtimeNS, ETag: st.ETag, Rows: rows}
	if err := writeRecord(o.dir, rec); err != nil {
		return fmt.Errorf("output %s: record %s: %s", o.dir, rel, DescribeFSError(err))
	}
	return nil
}

// withSuffix inserts "-k" before a file name's data extensions:
// "a/part.jsonl.gz" → "a/part-1.jsonl.gz".
func withSuffix(rel string, k int) string {
	dir, base := path.Split(rel)
	stem, ext := base, ""
	for {
		e := path.Ext(stem)
		if e == "" || e == stem || !slices.Contains([]string{".gz", ".zst", ".zstd", ".jsonl", ".json", ".parquet", ".txt"}, strings.ToLower(e)) {
			break
		}
		stem, ext = strings.TrimSuffix(stem, e), e+ext
	}
	if ext == "" {
		ext = path.Ext(stem)
		stem = strings.TrimSuffix(stem, ext)
	}
	return dir + stem + "-" + strconv.Itoa(k) + ext
}
