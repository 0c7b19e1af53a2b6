package dataio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeBatchOut writes files (name → body) with BeginFiles, a WriteBatch
// and CommitFiles, as the dedup removal does, and returns their paths.
// commit false stops after Publish, as a writer killed before CommitFiles.
func writeBatchOut(t *testing.T, o *Output, names []string, body func(name string) string, commit bool) []string {
	t.Helper()
	ctx := context.Background()
	paths, err := o.BeginFiles(names)
	if err != nil {
		t.Fatal(err)
	}
	var fresh []string // the files new to the directory
	for _, p := range paths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			fresh = append(fresh, p)
		}
	}
	b := NewWriteBatch()
	defer b.Abort()
	rows := make([]int64, len(names))
	for i, n := range names {
		if err := b.WriteFile(ctx, paths[i], []byte(body(n))); err != nil {
			t.Fatal(err)
		}
		rows[i] = 1
	}
	for _, p := range fresh {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s is visible before Publish (%v)", p, err)
		}
	}
	if err := b.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if commit {
		if err := o.CommitFiles(paths, rows); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

func batchNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("d%d/part-%03d.jsonl", i%3, i)
	}
	return names
}

func line(name string) string { return `{"text":"` + name + `"}` + "\n" }

func recordFiles(t *testing.T, dir string) []string {
	t.Helper()
	return dirNames(t, filepath.Join(dir, RecordsDir, "files"))
}

// TestBatchOutputLifecycle: many files written as one batch appear only on
// Publish, cost one record file, count as Sluice's with their row counts,
// are refused by the next run in error mode and removed (with their
// record) by overwrite. Sizes on both sides of the syncfs threshold.
func TestBatchOutputLifecycle(t *testing.T) {
	for _, n := range []int{3, 20} {
		t.Run(fmt.Sprint(n, " files"), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			_, out := prepare(t, dir, PrepareOptions{Name: "--output"})
			paths := writeBatchOut(t, out, batchNames(n), line, true)
			for i, p := range paths {
				mustHold(t, p, line(batchNames(n)[i]))
			}
			if recs := recordFiles(t, dir); len(recs) != 1 || !strings.HasPrefix(recs[0], batchPrefix) {
				t.Fatalf("records %v, want one batch record", recs)
			}
			scan, err := ScanOutput(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(scan.Ours) != n || len(scan.Foreign) != 0 || scan.Ours[0].Rows != 1 {
				t.Fatalf("scan: ours %+v, foreign %v", scan.Ours, scan.Foreign)
			}
			if _, err := PrepareOutput(dir, PrepareOptions{Name: "--output"}); err == nil ||
				!strings.Contains(err.Error(), fmt.Sprintf("%d file(s) written by an earlier Sluice run", n)) {
				t.Fatalf("error mode over a batch's files: %v", err)
			}
			p, _ := prepare(t, dir, PrepareOptions{Mode: OutputOverwrite})
			if len(p.Removed) != n {
				t.Fatalf("overwrite removed %d files, want %d", len(p.Removed), n)
			}
			mustNotExist(t, paths...)
			if recs := recordFiles(t, dir); len(recs) != 0 {
				t.Fatalf("records left after overwrite: %v", recs)
			}
		})
	}
}

// TestBatchOutputRetryAndRefusals: a retry of a batch in the same run
// replaces its files; a file Sluice did not write (or an earlier run's)
// refuses the whole batch before anything is written; bad calls fail.
func TestBatchOutputRetryAndRefusals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	_, out := prepare(t, dir, PrepareOptions{})
	names := []string{"a.jsonl", "sub/b.jsonl"}
	writeBatchOut(t, out, names, line, true)
	again := writeBatchOut(t, out, names, func(n string) string { return line(n + " again") }, true)
	mustHold(t, again[1], line("sub/b.jsonl again"))
	if scan, err := ScanOutput(dir, nil); err != nil || len(scan.Ours) != 2 {
		t.Fatalf("after a retry: %+v %v", scan, err)
	}

	// A different batch naming a.jsonl (and a foreign file) is refused whole.
	foreign := put(t, dir, "c.jsonl", "the user's")
	before := recordFiles(t, dir)
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"new.jsonl", "c.jsonl"}, "c.jsonl exists and was not written by Sluice"},
		{[]string{"a.jsonl"}, "a.jsonl exists and was not written by Sluice"},
		{[]string{"x.jsonl", "x.jsonl"}, "named twice"},
		{[]string{"../x.jsonl"}, "not a file name inside"},
		{[]string{"_sluice/x.json"}, "not a file name inside"},
	} {
		if _, err := out.BeginFiles(tc.names); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("BeginFiles(%q): %v, want %q", tc.names, err, tc.want)
		}
	}
	mustHold(t, foreign, "the user's")
	mustNotExist(t, filepath.Join(dir, "new.jsonl"))
	if after := recordFiles(t, dir); !slices.Equal(after, before) {
		t.Errorf("refused batches wrote records: %v, was %v", after, before)
	}
	if err := out.CommitFiles([]string{filepath.Join(dir, "never.jsonl")}, []int64{1}); err == nil || !strings.Contains(err.Error(), "did not begin") {
		t.Errorf("CommitFiles without BeginFiles: %v", err)
	}
	if err := out.CommitFiles(again, []int64{1}); err == nil {
		t.Error("CommitFiles with fewer row counts than files accepted")
	}

	// A later run refuses the earlier run's files by name in overwrite
	// mode only through PrepareOutput, which removes them first; a batch
	// of the new run over such a file left in place is refused.
	_, out2 := prepare(t, dir, PrepareOptions{Mode: OutputAppend})
	if _, err := out2.BeginFiles(names); err != nil {
		t.Fatalf("append mode: %v", err)
	}
	mustHold(t, again[0], line("a.jsonl again")) // append never touches the earlier file
}

// TestBatchOutputOwnershipProof: a batch's file edited or deleted by the
// user is no longer Sluice's; overwrite removes only the untouched one and
// leaves no record behind.
func TestBatchOutputOwnershipProof(t *testing.T) {
	dir := t.TempDir()
	_, out := prepare(t, dir, PrepareOptions{Mode: OutputOverwrite})
	paths := writeBatchOut(t, out, []string{"edited.jsonl", "gone.jsonl", "kept.jsonl"}, line, true)
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(paths[0], []byte("the user's edit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(paths[1])
	scan, err := ScanOutput(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(scan.Ours) != 1 || scan.Ours[0].Path != "kept.jsonl" || !slices.Equal(scan.Foreign, []string{"edited.jsonl"}) {
		t.Fatalf("scan: ours %+v foreign %v", scan.Ours, scan.Foreign)
	}
	p, _ := prepare(t, dir, PrepareOptions{Mode: OutputOverwrite})
	if len(p.Removed) != 1 {
		t.Fatalf("removed %+v", p.Removed)
	}
	mustNotExist(t, paths[2])
	mustHold(t, paths[0], "the user's edit\n")
	if recs, err := loadRecords(dir); err != nil || len(recs) != 0 {
		t.Fatalf("records left: %v %v", recs, err)
	}
}

// TestBatchOutputPrunedRecord: an append-mode run keeps an interrupted
// batch's files (record still "writing"); its scan drops the entry of a
// file the user deleted and rewrites the record, and the files it keeps
// stay Sluice's although the rewritten record is now newer than them.
func TestBatchOutputPrunedRecord(t *testing.T) {
	dir := t.TempDir()
	_, out := prepare(t, dir, PrepareOptions{})
	paths := writeBatchOut(t, out, []string{"a.jsonl", "b.jsonl", "c.jsonl"}, line, false)
	os.Remove(paths[1])
	time.Sleep(10 * time.Millisecond)
	prepare(t, dir, PrepareOptions{Mode: OutputAppend})
	recs, err := loadRecords(dir)
	if err != nil || len(recs) != 2 || recs["b.jsonl"] != nil || recs["a.jsonl"][0].State != stateDone {
		t.Fatalf("records after the append run's scan: %v %v", recs, err)
	}
	p, _ := prepare(t, dir, PrepareOptions{Mode: OutputOverwrite})
	if len(p.Removed) != 2 {
		t.Fatalf("overwrite removed %+v, want a.jsonl and c.jsonl", p.Removed)
	}
	mustNotExist(t, paths...)
}

// TestWriteBatchFailures: Abort removes the files not yet published; a
// rename that fails in Publish removes the files after it and reports the
// path; a published or aborted batch refuses more work.
func TestWriteBatchFailures(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := NewWriteBatch()
	for _, n := range []string{"a.jsonl", "b.jsonl"} {
		if err := b.WriteFile(ctx, filepath.Join(dir, n), []byte("x\n")); err != nil {
			t.Fatal(err)
		}
	}
	b.Abort()
	if names := dirNames(t, dir); len(names) != 0 {
		t.Fatalf("Abort left %v", names)
	}
	if err := b.Publish(ctx); err == nil {
		t.Error("Publish after Abort succeeded")
	}
	if err := b.WriteFile(ctx, filepath.Join(dir, "late.jsonl"), nil); err == nil {
		t.Error("a write after Abort succeeded")
	}

	// The second file's place is taken by a directory with a file in it:
	// its rename fails.
	put(t, dir, "b.jsonl/inside", "x")
	b = NewWriteBatch()
	for _, n := range []string{"a.jsonl", "b.jsonl", "c.jsonl"} {
		if err := b.WriteFile(ctx, filepath.Join(dir, n), []byte(n+"\n")); err != nil {
			t.Fatal(err)
		}
	}
	err := b.Publish(ctx)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "b.jsonl")) {
		t.Fatalf("Publish over a directory: %v", err)
	}
	mustHold(t, filepath.Join(dir, "a.jsonl"), "a.jsonl\n")
	if names := dirNames(t, dir); !slices.Equal(names, []string{"a.jsonl", "b.jsonl"}) {
		t.Fatalf("after the failed Publish: %v, want a.jsonl and the directory only", names)
	}

	// A cancelled context publishes nothing.
	b = NewWriteBatch()
	if err := b.WriteFile(ctx, filepath.Join(dir, "d.jsonl"), nil); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Publish(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with a cancelled context: %v", err)
	}
	mustNotExist(t, filepath.Join(dir, "d.jsonl"))
}
