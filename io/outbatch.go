package dataio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// A batch record, RecordsDir/files/batch-<hash of the paths>.json, holds
// the records of many files written together (Output.BeginFiles). Like a
// single record it is written twice, before the files (every entry
// "writing") and after them ("done", with each file's size and
// modification time), so a batch of a thousand small files costs two
// record writes instead of two thousand. Its entries mean what single
// records mean, with the batch record's modification time as when each
// "writing" entry was written. A file may have records of both kinds: it
// is Sluice's if any of them proves it. A retry of the batch (the same
// paths, in the same order) replaces the same batch record.
type batchRecord struct {
	Files []fileRecord `json:"files"`
}

const batchPrefix = "batch-"

func isBatchRecord(file string) bool { return strings.HasPrefix(BaseOf(file), batchPrefix) }

// batchRecordFile names the batch record of the files rels.
func batchRecordFile(dir string, rels []string) string {
	h := sha256.New()
	for _, r := range rels {
		h.Write([]byte(r))
		h.Write([]byte{0})
	}
	return JoinPath(recordsPath(dir), batchPrefix+hex.EncodeToString(h.Sum(nil)[:12])+".json")
}

func writeBatchRecord(file string, entries []fileRecord) error {
	b, err := json.Marshal(batchRecord{Files: entries})
	if err != nil {
		return err
	}
	return WriteFile(context.Background(), file, b)
}

// batchEntries reads the batch record file by path (nil if there is none).
func batchEntries(file string) (map[string]*loadedRecord, error) {
	rs, err := readRecords(file)
	if err != nil {
		return nil, err
	}
	m := make(map[string]*loadedRecord, len(rs))
	for _, r := range rs {
		m[r.Path] = r
	}
	return m, nil
}

// pruneBatch drops the entries for paths from the batch record file (a
// scan found their files gone or not Sluice's), or removes the file when
// no entry is left. A remaining "writing" entry whose file the record
// still proves Sluice's becomes "done" with the file's size and
// modification time: the rewritten record is newer than the file, so the
// "writing" rule would no longer prove it.
func pruneBatch(dir, file string, paths []string) error {
	ctx := context.Background()
	rs, err := readRecords(file)
	if err != nil || len(rs) == 0 {
		return err
	}
	var keep []fileRecord
	for _, r := range rs {
		if slices.Contains(paths, r.Path) {
			continue
		}
		if r.State == stateWriting {
			fi, err := Lstat(ctx, JoinPath(dir, r.Path))
			if err != nil || !r.owns(fi) {
				continue
			}
			st := stampOf(fi)
			r.State, r.Size, r.MtimeNS, r.ETag, r.Prev = stateDone, st.Size, st.MtimeNS, st.ETag, nil
		}
		keep = append(keep, r.fileRecord)
	}
	if len(keep) == 0 {
		return Remove(ctx, file)
	}
	return writeBatchRecord(file, keep)
}

// BeginFiles is Begin for many files written together, usually through a
// WriteBatch: it records all of them at once, in one batch record, and
// returns the path to write each name to. names must be distinct. A name
// is refused as by Begin: a file there that this run did not write
// (Sluice's from an earlier run, or not Sluice's) fails the whole batch.
// After the files are written, call CommitFiles with the paths returned.
// A retry of the batch, here or in another process, passes the same names
// in the same order.
//
// In append mode, where a name may need a suffix, BeginFiles is Begin for
// each name (and CommitFiles Commit for each file).
func (o *Output) BeginFiles(names []string) ([]string, error) {
	paths := make([]string, len(names))
	if o.mode == OutputAppend {
		for i, n := range names {
			p, err := o.Begin(n)
			if err != nil {
				return nil, err
			}
			paths[i] = p
		}
		return paths, nil
	}
	rels, err := o.relNames(names)
	if err != nil {
		return nil, err
	}
	file := batchRecordFile(o.dir, rels)
	prev, err := batchEntries(file)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", o.dir, err)
	}
	entries := make([]fileRecord, len(rels))
	made := make(map[string]bool)
	for i, rel := range rels {
		full := JoinPath(o.dir, rel)
		e, err := o.batchEntry(rel, full, prev[rel])
		if err != nil {
			return nil, err
		}
		if d := DirOf(full); !made[d] {
			if err := MkdirAll(context.Background(), d); err != nil {
				return nil, fmt.Errorf("output %s: %s", o.dir, DescribeFSError(err))
			}
			made[d] = true
		}
		entries[i], paths[i] = e, full
	}
	if err := writeBatchRecord(file, entries); err != nil {
		return nil, fmt.Errorf("output %s: record of %d files: %s", o.dir, len(rels), DescribeFSError(err))
	}
	return paths, nil
}

// relNames checks names as Begin does and returns them relative and
// "/"-separated.
func (o *Output) relNames(names []string) ([]string, error) {
	rels := make([]string, len(names))
	seen := make(map[string]bool, len(names))
	for i, name := range names {
		rel := filepath.ToSlash(filepath.Clean(name))
		if !filepath.IsLocal(name) || rel == RecordsDir || strings.HasPrefix(rel, RecordsDir+"/") {
			return nil, fmt.Errorf("output %s: %q is not a file name inside the directory", o.dir, name)
		}
		if seen[rel] {
			return nil, fmt.Errorf("output %s: %s is named twice in one batch", o.dir, rel)
		}
		seen[rel] = true
		rels[i] = rel
	}
	return rels, nil
}

// batchEntry returns the "writing" entry for rel, or the refusal of a file
// already there that this run did not write (prev: rel's entry in this
// batch's record, if any).
func (o *Output) batchEntry(rel, full string, prev *loadedRecord) (fileRecord, error) {
	e := fileRecord{Path: rel, Name: rel, Run: o.run, State: stateWriting}
	fi, err := Lstat(context.Background(), full)
	if errors.Is(err, fs.ErrNotExist) {
		return e, nil
	}
	if err != nil {
		return e, fmt.Errorf("output %s: %s", o.dir, DescribeFSError(err))
	}
	if prev == nil || prev.Run != o.run {
		single, err := readRecord(recordFile(o.dir, rel))
		if err != nil {
			return e, fmt.Errorf("output %s: %w", o.dir, err)
		}
		switch {
		case single != nil && single.Run == o.run:
			// written by this run through Begin: replaced, as by Begin
		case single != nil && single.owns(fi):
			return e, rejectf("%s was written by an earlier run; refusing to overwrite it in %s mode", full, o.mode)
		default:
			return e, rejectf("%s exists and was not written by Sluice; refusing to overwrite it", full)
		}
	}
	st := stampOf(fi)
	e.Prev = &st
	return e, nil
}

// CommitFiles records that the files at paths, which one BeginFiles call
// returned (all of them, in the same order), are complete, and that they
// hold rows[i] records each.
func (o *Output) CommitFiles(paths []string, rows []int64) error {
	if len(rows) != len(paths) {
		return fmt.Errorf("output %s: %d files committed with %d row counts", o.dir, len(paths), len(rows))
	}
	if o.mode == OutputAppend {
		for i, p := range paths {
			if err := o.Commit(p, rows[i]); err != nil {
				return err
			}
		}
		return nil
	}
	rels := make([]string, len(paths))
	for i, p := range paths {
		rel, ok := RelPath(o.dir, p)
		if !ok || rel == "." {
			return fmt.Errorf("output %s: %s is not inside the directory", o.dir, p)
		}
		rels[i] = filepath.ToSlash(rel)
	}
	file := batchRecordFile(o.dir, rels)
	prev, err := batchEntries(file)
	if err != nil {
		return fmt.Errorf("output %s: %w", o.dir, err)
	}
	entries := make([]fileRecord, len(rels))
	for i, rel := range rels {
		if r := prev[rel]; r == nil || r.Run != o.run {
			return fmt.Errorf("output %s: commit of %s, which this run did not begin", o.dir, rel)
		}
		fi, err := Stat(context.Background(), paths[i])
		if err != nil {
			return fmt.Errorf("output %s: %s", o.dir, DescribeFSError(err))
		}
		st := stampOf(fi)
		entries[i] = fileRecord{Path: rel, Name: rel, Run: o.run, State: stateDone, Size: st.Size, MtimeNS: st.MtimeNS, ETag: st.ETag, Rows: rows[i]}
	}
	if err := writeBatchRecord(file, entries); err != nil {
		return fmt.Errorf("output %s: record of %d files: %s", o.dir, len(rels), DescribeFSError(err))
	}
	return nil
}
