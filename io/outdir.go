package dataio

// Output safety: the rule "Sluice never deletes or overwrites a file it did
// not write", enforced in one place for every writer (see docs/safety.md).
//
// An output directory keeps, in RecordsDir, one small record per file Sluice
// wrote there (written by whichever actor or process wrote the file, never a
// shared index), plus the id of the run that last prepared the directory.
// Before a run, the driver calls PrepareOutput once per output directory: it
// refuses overlapping or occupied outputs and, when asked to overwrite,
// removes only the files its records prove Sluice wrote. Writers then call
// OpenOutput once per actor, Begin before each file and Commit after it.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// OutputMode is what a writer does when its output directory already holds
// files.
type OutputMode string

// Output modes. Files Sluice did not write are never deleted or overwritten
// in any mode.
const (
	// OutputError refuses a directory that already holds data files,
	// whoever wrote them (the default).
	OutputError OutputMode = "error"
	// OutputOverwrite removes the files an earlier Sluice run wrote there,
	// keeps every other file (with a warning), and writes.
	OutputOverwrite OutputMode = "overwrite"
	// OutputAppend keeps every file and adds the new ones; a file name an
	// earlier run already used gets a suffix ("-1", "-2", …) before its
	// extension.
	OutputAppend OutputMode = "append"
)

// ParseOutputMode parses "error", "overwrite" or "append"; "" is
// OutputError.
func ParseOutputMode(s string) (OutputMode, error) {
	switch m := OutputMode(s); m {
	case "":
		return OutputError, nil
	case OutputError, OutputOverwrite, OutputAppend:
		return m, nil
	}
	return "", fmt.Errorf("%q: want error, overwrite or append", s)
}

// RecordsDir is the directory, inside an output directory, holding Sluice's
// records of the files it wrote there. Readers skip it, as they skip every
// name that starts with "_" or ".".
const RecordsDir = "_sluice"

// ErrOutputRejected is wrapped by every error that refuses an output before
// any work: overlapping input and output paths, an occupied or unwritable
// output directory, a file Sluice would have to overwrite without having
// written it. Commands map it to the usage/configuration exit code.
var ErrOutputRejected = errors.New("output rejected")

// rejected is an error message that wraps ErrOutputRejected without showing
// it.
type rejected struct{ msg string }

func (e *rejected) Error() string { return e.msg }
func (e *rejected) Unwrap() error { return ErrOutputRejected }

func rejectf(format string, args ...any) error { return &rejected{fmt.Sprintf(format, args...)} }

// RejectOutput returns an error with the formatted message that wraps
// ErrOutputRejected without showing it, for callers' own checks of output
// paths.
func RejectOutput(format string, args ...any) error { return rejectf(format, args...) }

// NamedPath is a path together with the name the user knows it by, for
// messages: a flag ("--output") or a stage setting ("dir of stage write").
type NamedPath struct {
	Path string
	Name string
}

// String returns "--flag path" for flags and "path (name)" otherwise.
func (p NamedPath) String() string {
	switch {
	case p.Name == "":
		return p.Path
	case strings.HasPrefix(p.Name, "-"):
		return p.Name + " " + p.Path
	}
	return p.Path + " (" + p.Name + ")"
}

// CheckOverlap refuses an output that would write over an input: out equal
// to in, or in inside out. With outputInsideInputOK false it also refuses
// out inside in, where a later run would read the output as input (pass true
// only when the reader excludes out from its listing, as `sluice dedup` does).
// Paths are compared after making them absolute and resolving symbolic links
// of the parts that exist. The error names both paths and wraps
// ErrOutputRejected.
func CheckOverlap(in, out NamedPath, outputInsideInputOK bool) error {
	ci, co := canonicalPath(in.Path), canonicalPath(out.Path)
	switch {
	case ci == co:
		return rejectf("%s and %s are the same path: Sluice would write over its own input; choose an output outside the input", in, out)
	case within(ci, co):
		return rejectf("%s lies inside %s: Sluice would write over its own input; choose an output outside the input", in, out)
	case !outputInsideInputOK && within(co, ci):
		return rejectf("%s lies inside %s: a later run would read the output as input; choose an output outside the input", out, in)
	}
	return nil
}

// canonicalPath makes p absolute and resolves the symbolic links in its
// longest existing prefix. URLs are compared as written.
func canonicalPath(p string) string {
	if strings.Contains(p, "://") {
		return strings.TrimRight(p, "/")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	cur, rest := abs, ""
	for {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// within reports whether child is parent or lies inside it (both canonical).
func within(child, parent string) bool {
	if strings.Contains(parent, "://") || strings.Contains(child, "://") {
		return child == parent || strings.HasPrefix(child, parent+"/")
	}
	rel, err := filepath.Rel(parent, child)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// PrepareOptions configures PrepareOutput.
type PrepareOptions struct {
	// Name is how the user names the directory, for messages: "--output",
	// "dir of stage write".
	Name string
	Mode OutputMode
	// Remedy tells the user how to write into an occupied directory anyway,
	// for example "pass --overwrite".
	Remedy string
	// Skip lists directories inside the output that are not part of it
	// (such as a cache): they are neither checked nor touched.
	Skip []string
	// Complete names the file (relative to the directory) a run writes last.
	// When set, OutputError replaces the files of an earlier run that did
	// not write it — an interrupted run, which the same command resumes —
	// instead of refusing them. Files Sluice did not write still refuse.
	Complete string
	// Reserved lists files (relative to the directory) this run will
	// write: a file there that Sluice did not write is refused in every
	// mode, before any work, rather than when the writer reaches it.
	Reserved []string
	// Logger receives what was removed and kept (nil: no log).
	Logger *slog.Logger
}

// Prepared is what PrepareOutput did.
type Prepared struct {
	// Run identifies this run's records.
	Run string
	// Removed lists the files of earlier runs removed (overwrite), and
	// RemovedBytes their size.
	Removed      []OutputFile
	RemovedBytes int64
	// Kept lists, relative to the directory, the data files Sluice did
	// not write, left where they are.
	Kept []string
}

// PrepareOutput checks the output directory dir before a run writes to it
// and readies it for this run: call it once per run and directory, in the
// process that drives the run, before any writer starts.
//
// It refuses (an error wrapping ErrOutputRejected, naming files) a
// directory that, in OutputError mode, holds data files; in every mode, a
// file Sluice did not write at one of o.Reserved; and a directory it cannot
// create or write. With OutputOverwrite it removes the files earlier runs
// wrote (and only those: a file counts as Sluice's when its record matches
// its size and modification time), keeping every other file. Then it
// starts a new run id in dir's records, which OpenOutput reads.
func PrepareOutput(dir string, o PrepareOptions) (*Prepared, error) {
	mode, err := ParseOutputMode(string(o.Mode))
	if err != nil {
		return nil, rejectf("mode %v", err)
	}
	where := NamedPath{Path: dir, Name: o.Name}
	if err := CheckStorage(context.Background(), dir, true); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	scan, err := ScanOutput(dir, o.Skip)
	if err != nil {
		return nil, rejectf("%s: cannot read the output directory: %s", where, DescribeFSError(err))
	}
	if err := checkOccupied(where, scan, mode, o); err != nil {
		return nil, err
	}
	p := &Prepared{Kept: scan.Foreign}
	if mode != OutputAppend && len(scan.Ours) > 0 {
		if err := scan.removeOurs(p); err != nil {
			return nil, fmt.Errorf("%s: remove the output of an earlier run: %w", where, err)
		}
		if o.Logger != nil {
			msg := "removed the output of an earlier run"
			if mode == OutputError {
				msg = "removed the partial output of an interrupted run; this run replaces it"
			}
			o.Logger.Info(msg, "dir", dir, "files", len(p.Removed), "size", FormatByteSize(p.RemovedBytes))
		}
	}
	scan.removeLeftovers()
	if foreign, err := clearSuccess(context.Background(), dir); err != nil {
		return nil, rejectf("%s: cannot remove the %s marker of an earlier run: %s", where, SuccessMarker, DescribeFSError(err))
	} else if foreign && o.Logger != nil {
		o.Logger.Warn("keeping a "+SuccessMarker+" marker Sluice did not write: the directory will look complete while this run writes", "dir", dir)
	}
	if len(scan.Foreign) > 0 && o.Logger != nil {
		o.Logger.Warn("keeping files Sluice did not write; they are not part of this run's output", "dir", dir,
			"files", len(scan.Foreign), "examples", examples(scan.Foreign, 5))
	}
	run, err := startRun(dir, mode)
	if err != nil {
		return nil, rejectf("%s: cannot write to the output directory: %s", where, DescribeFSError(err))
	}
	p.Run = run
	return p, nil
}

// checkOccupied returns the refusal, if any, for a scanned directory.
func checkOccupied(where NamedPath, scan *OutputScan, mode OutputMode, o PrepareOptions) error {
	var blocked []string
	for _, rel := range o.Reserved {
		if scan.foreignAt(rel) {
			blocked = append(blocked, rel)
		}
	}
	if len(blocked) > 0 {
		return rejectf("%s: %d file(s) that Sluice did not write sit where this run writes its output (%s); Sluice never overwrites them: move them away",
			where, len(blocked), examples(blocked, 5))
	}
	if mode != OutputError {
		return nil
	}
	ours := len(scan.Ours) > 0
	if ours && o.Complete != "" && !slices.ContainsFunc(scan.Ours, func(f OutputFile) bool { return f.Path == o.Complete }) {
		ours = false // an interrupted run: the same command resumes it
	}
	if !ours && len(scan.Foreign) == 0 {
		return nil
	}
	var parts []string
	if ours {
		var names []string
		what := "an earlier Sluice run"
		if o.Complete != "" { // finished: name the file that says so first
			names, what = append(names, o.Complete), "an earlier, finished Sluice run"
		}
		for _, f := range scan.Ours {
			if f.Path != o.Complete {
				names = append(names, f.Path)
			}
		}
		parts = append(parts, fmt.Sprintf("%d file(s) written by %s (%s)", len(names), what, examples(names, 3)))
	}
	if len(scan.Foreign) > 0 {
		n := strconv.Itoa(len(scan.Foreign))
		if scan.ForeignMore {
			n = "more than " + n
		}
		parts = append(parts, fmt.Sprintf("%s file(s) that Sluice did not write (%s)", n, examples(scan.Foreign, 5)))
	}
	msg := fmt.Sprintf("%s already holds %s", where, strings.Join(parts, " and "))
	if o.Remedy != "" {
		msg += "; to write there anyway, " + o.Remedy + ": overwriting removes only the files Sluice wrote and keeps the others"
	}
	return &rejected{msg}
}

// examples lists up to n names, then how many more there are.
func examples(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// DescribeFSError turns a file-system error into words without Go's
// operation names: "mkdir out/x: not a directory" becomes
// "out/x: not a directory".
func DescribeFSError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.New + ": " + le.Err.Error()
	}
	return err.Error()
}

// FormatByteSize formats n bytes for people: "512 B", "3.2 KiB", "1.5 GiB".
func FormatByteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// OutputTarget is the directory a writer stage writes into, and how.
type OutputTarget struct {
	Dir  string
	Mode OutputMode
}

// OutputStage is implemented by pipeline stages that write files into a
// directory (jsonl_writer, parquet_writer). Before a run, pipeline.Run
// checks each one's directory against the inputs and prepares it with
// PrepareOutput; the stage's actors then write through OpenOutput.
type OutputStage interface {
	OutputTarget() OutputTarget
}

// InputStage is implemented by pipeline stages that read files: no output
// directory may overlap their paths.
type InputStage interface {
	InputPaths() []string
}

// PathWithin reports whether child is parent or lies inside it (compared
// as CheckOverlap does).
func PathWithin(child, parent string) bool {
	return within(canonicalPath(child), canonicalPath(parent))
}

// PathsOverlap reports whether a and b are the same path or one lies inside
// the other (compared as CheckOverlap does).
func PathsOverlap(a, b string) bool {
	ca, cb := canonicalPath(a), canonicalPath(b)
	return within(ca, cb) || within(cb, ca)
}
