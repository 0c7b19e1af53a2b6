// Package flow holds what Sluice's deduplication workflows (dedup/fuzzy and
// dedup/exact) share: the listing and grouping of the inputs, the ids phase
// (a contiguous id range per file group, in input order) and its id map,
// the phase runner with its cache of finished phases, the cache entries and
// their pruning, the output safety rules, the lossless removal stage and the
// lists of removed ids, the description of the largest groups, and the
// reading of documents with the bad-record rules.
//
// Each workflow keeps its own configuration and summary types and passes the
// shared part of its configuration as an IO.
package flow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// ErrConfig is wrapped by errors in a workflow's configuration (exit code 2
// in the CLI). fuzzy.ErrConfig and exact.ErrConfig are this value.
var ErrConfig = errors.New("invalid configuration")

// IO is the part of a workflow's configuration the shared phases use: where
// the inputs, the output and the cache are, how records are read, and what
// the removal phase writes.
type IO struct {
	Inputs      []string
	Output      string
	Cache       string
	InputFormat string // "", "jsonl" or "parquet"
	TextField   string
	IDField     string
	OnBadRecord string // fail | skip

	FilesPerPartition int
	BlockSize         int64

	NoRemove      bool
	RemovedIDsOut string
	Overwrite     bool
	RemoveCache   bool

	// SplitBytes is the size above which the ids phase cuts a file into
	// sections that tasks read on their own.
	SplitBytes int64

	// InOrder takes Inputs, which must then be files, in the order given
	// instead of sorted, so that ids follow it (pipeline steps order the
	// files they spool by where their documents came from).
	InOrder bool
}

// Metadata keys the shared phases put on the tasks they exchange. The
// values keep the names fuzzy dedup gave them first, so that caches written
// before the exact workflow existed stay readable (the ids phase stores its
// tasks, with these keys, in its _DONE.json).
const (
	MetaGroup   = "fuzzy.group"   // file-group index
	MetaFiles   = "fuzzy.files"   // JSON []FileRange
	MetaKept    = "fuzzy.kept"    // records the removal stage kept
	MetaDropped = "fuzzy.dropped" // records the removal stage dropped
)

// Atoi parses a decimal metadata value; anything else is 0.
func Atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// ParsePolicy parses an --on-bad-record value ("" is fail).
func ParsePolicy(s string) (dataio.BadRecordPolicy, error) {
	switch s {
	case "", "fail":
		return dataio.Fail, nil
	case "skip":
		return dataio.Skip, nil
	}
	return 0, fmt.Errorf("on_bad_record %q: want fail or skip", s)
}

// CheckGrouping rejects negative grouping settings and both at once. (Zero
// means the default for the library; the CLI rejects an explicit 0.)
func CheckGrouping(c IO) error {
	for _, f := range []struct {
		flag string
		v    int64
	}{{"--files-per-partition", int64(c.FilesPerPartition)}, {"--blocksize", c.BlockSize}} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s %d must not be negative", ErrConfig, f.flag, f.v)
		}
	}
	if c.FilesPerPartition > 0 && c.BlockSize > 0 {
		return fmt.Errorf("%w: --files-per-partition and --blocksize both group the input files: give one, not both", ErrConfig)
	}
	return nil
}

// CheckInputFormat rejects an --input-format other than jsonl or parquet.
func CheckInputFormat(name, format string) error {
	switch format {
	case "", "jsonl", "parquet":
		return nil
	}
	return fmt.Errorf("%w: %s: --input-format %q: want jsonl or parquet", ErrConfig, name, format)
}

// InputStat is one input file as the cache sees it: its stat, or why it
// could not be taken.
type InputStat struct {
	Path string
	Info dataio.FileInfo
	Err  error
}

// StatInputs stats every input file once, for InputKeyOf and
// WriteCacheEntry (so that an entry's marker records the very sizes and
// times its key was computed from).
func StatInputs(files []string) []InputStat {
	out := make([]InputStat, len(files))
	for i, f := range files {
		fi, err := dataio.Stat(context.Background(), f)
		out[i] = InputStat{Path: f, Info: fi, Err: err}
	}
	return out
}

// InputKey is the part of a cache key that names the input files: each
// path with its size and modification time.
func InputKey(files []string) string { return InputKeyOf(StatInputs(files)) }

// InputKeyOf is InputKey of files already stat'ed.
func InputKeyOf(inputs []InputStat) string {
	var sb strings.Builder
	var num []byte
	for _, in := range inputs {
		sb.WriteString(in.Path)
		if in.Err != nil {
			sb.WriteString("\x00?\n")
			continue
		}
		num = strconv.AppendInt(append(num[:0], 0), in.Info.Size, 10)
		num = strconv.AppendInt(append(num, 0), in.Info.ModTime.UnixNano(), 10)
		sb.Write(append(num, '\n'))
	}
	return sb.String()
}

// HashKey hashes the parts of a cache key into 16 hex digits.
func HashKey(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// CommonDir is the deepest directory containing every file.
func CommonDir(files []string) string {
	if len(files) == 0 {
		return ""
	}
	sep := string(filepath.Separator)
	if dataio.IsURL(files[0]) {
		sep = "/"
	}
	dir := dataio.DirOf(files[0])
	for _, f := range files[1:] {
		for !strings.HasPrefix(f, dir+sep) && dir != "/" && dir != "." && dataio.DirOf(dir) != dir {
			dir = dataio.DirOf(dir)
		}
	}
	return dir
}

// OutputRel is where input file path goes under deduplicated/: its path
// relative to root, the inputs' common directory, or its base name when it
// does not lie under root.
func OutputRel(root, path string) string {
	if dataio.IsURL(path) {
		if rel, ok := dataio.RelPath(root, path); ok && rel != "." {
			return rel
		}
		return dataio.BaseOf(path)
	}
	rel, err := filepath.Rel(root, path)
	if err != nil || !filepath.IsLocal(rel) {
		return filepath.Base(path)
	}
	return rel
}

// FailedError describes the tasks a phase lost by the first one's cause
// (a bad record's file:line, an unreadable file), not by the executor's
// failure policy, which dedup does not expose. It wraps err, so that
// errors.Is still sees executor.ErrTooManyFailures.
func FailedError(err error, failed []*task.Failed) error {
	msg := failed[0].Err
	if n := len(failed) - 1; n > 0 {
		msg += fmt.Sprintf(" (%d more tasks failed too)", n)
	}
	return &causeError{msg: msg, err: err}
}

// causeError shows msg and wraps err.
type causeError struct {
	msg string
	err error
}

func (e *causeError) Error() string { return e.msg }
func (e *causeError) Unwrap() error { return e.err }
