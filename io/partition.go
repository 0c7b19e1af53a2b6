package dataio

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluice-data/sluice/task"
)

// The file name endings picked up in directories, by format. A ".json"
// file is read as JSON Lines, as NeMo Curator's JSONL reader does; every
// JSONL ending may carry a compression suffix (".gz", ".zst", ".zstd").
// These slices back the exported functions and are never modified.
var (
	jsonlExtensions = []string{
		".jsonl", ".jsonl.gz", ".jsonl.zst", ".jsonl.zstd",
		".json", ".json.gz", ".json.zst", ".json.zstd",
	}
	parquetExtensions = []string{".parquet"}
	defaultExtensions = append(slices.Clone(jsonlExtensions), parquetExtensions...)
)

// DefaultExtensions returns the file name endings FilePartitioning picks up
// in directories when no Extensions are given: JSONLExtensions and
// ParquetExtensions.
func DefaultExtensions() []string { return slices.Clone(defaultExtensions) }

// JSONLExtensions returns the endings of JSON Lines files: .jsonl and .json,
// each plain or compressed (.gz, .zst, .zstd).
func JSONLExtensions() []string { return slices.Clone(jsonlExtensions) }

// ParquetExtensions returns the endings of Parquet files: .parquet.
func ParquetExtensions() []string { return slices.Clone(parquetExtensions) }

// FilePartitioning lists input files and groups them into partitions.
//
// Files are listed from Paths: a file is taken as is, whatever its name; a
// directory is walked recursively, keeping regular files (or symlinks to
// them) whose names end with one of Extensions (case-insensitive) and
// skipping names that start with "." or "_" (hidden files, temporary files
// of this package's writers, "_SUCCESS" markers). The list is deduplicated
// and sorted, so the grouping is deterministic. List also reports what a
// walk skipped, and why, so that callers can tell the user.
//
// Files are grouped in sorted order: by FilesPerPartition files per group,
// or greedily into groups of at most BlockSize bytes of file size (a file
// larger than BlockSize gets a group of its own; files are never split).
// With neither set, every file is its own group. Setting both is an error.
type FilePartitioning struct {
	Paths             []string
	Extensions        []string // nil: DefaultExtensions()
	FilesPerPartition int
	BlockSize         int64
	// Exclude names directories whose files are never listed when a walk
	// of Paths reaches them, such as a job's own output directory placed
	// inside its input directory.
	Exclude []string
}

// Skipped is an entry of a directory walk that List left out.
type Skipped struct {
	// Path is the file, or the directory whose whole subtree was skipped.
	Path string
	// Reason says why, in words for a log line.
	Reason string
}

// Listing is what List found.
type Listing struct {
	// Files are the files to read, sorted and deduplicated.
	Files []string
	// Skipped lists, in walk order, the files (and directories) met in
	// directory walks and left out.
	Skipped []Skipped
}

// SkipSummary is one reason of a Listing's Skipped, for a log line.
type SkipSummary struct {
	Reason string
	Count  int
	// Paths lists the first few paths skipped for Reason, comma-separated,
	// with " and N more" when there are more.
	Paths string
}

// SummarizeSkipped groups skipped by reason, in order of first appearance,
// showing at most maxPaths paths per reason.
func SummarizeSkipped(skipped []Skipped, maxPaths int) []SkipSummary {
	var out []SkipSummary
	paths := make(map[string][]string)
	for _, s := range skipped {
		if _, seen := paths[s.Reason]; !seen {
			out = append(out, SkipSummary{Reason: s.Reason})
		}
		paths[s.Reason] = append(paths[s.Reason], s.Path)
	}
	for i := range out {
		ps := paths[out[i].Reason]
		shown := ps[:min(len(ps), maxPaths)]
		out[i].Count, out[i].Paths = len(ps), strings.Join(shown, ", ")
		if len(ps) > len(shown) {
			out[i].Paths += fmt.Sprintf(" and %d more", len(ps)-len(shown))
		}
	}
	return out
}

// ListFiles returns the sorted, deduplicated files named by p.Paths.
func (p FilePartitioning) ListFiles() ([]string, error) {
	l, err := p.List()
	return l.Files, err
}

// List returns the sorted, deduplicated files named by p.Paths and what the
// directory walks skipped.
func (p FilePartitioning) List() (Listing, error) {
	exts := p.Extensions
	if exts == nil {
		exts = defaultExtensions
	}
	w := walker{exts: make([]string, len(exts)), excluded: make(map[string]bool, len(p.Exclude))}
	for i, e := range exts {
		w.exts[i] = strings.ToLower(e)
	}
	for _, d := range p.Exclude {
		if d == "" {
			continue // not "the current directory"
		}
		if IsURL(d) {
			w.excluded[strings.TrimRight(d, "/")] = true
		} else if abs, err := filepath.Abs(LocalPath(d)); err == nil {
			w.excluded[abs] = true
		}
	}
	for _, root := range p.Paths {
		if IsURL(root) {
			if err := w.walkURL(root); err != nil {
				return Listing{}, err
			}
			continue
		}
		root = LocalPath(root)
		fi, err := os.Stat(root)
		if err != nil {
			return Listing{}, fmt.Errorf("dataio: list %s: %w", root, err)
		}
		if !fi.IsDir() {
			w.out.Files = append(w.out.Files, filepath.Clean(root))
			continue
		}
		if err := w.walk(root); err != nil {
			return Listing{}, fmt.Errorf("dataio: list %s: %w", root, err)
		}
	}
	slices.Sort(w.out.Files)
	w.out.Files = slices.Compact(w.out.Files)
	return w.out, nil
}

// walker walks input directories for List.
type walker struct {
	exts     []string // lower case
	excluded map[string]bool
	out      Listing
}

func (w *walker) skip(path, reason string) {
	w.out.Skipped = append(w.out.Skipped, Skipped{Path: path, Reason: reason})
}

func (w *walker) walk(root string) error {
	walkRoot := root
	if lfi, err := os.Lstat(root); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
		walkRoot = root + string(filepath.Separator) // make WalkDir follow the link
	}
	return filepath.WalkDir(walkRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		hidden := strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")
		if d.IsDir() {
			if path == walkRoot {
				return nil
			}
			if hidden {
				w.skip(path, "directory name starts with '.' or '_' (hidden, temporary or a cache)")
				return filepath.SkipDir
			}
			if len(w.excluded) > 0 {
				if abs, err := filepath.Abs(path); err == nil && w.excluded[abs] {
					w.skip(path, "the job's own output or cache directory")
					return filepath.SkipDir
				}
			}
			return nil
		}
		switch {
		case hidden:
			w.skip(path, "name starts with '.' or '_' (hidden or temporary)")
			return nil
		case !w.match(d.Name()):
			w.skip(path, "name does not end in "+strings.Join(w.exts, ", "))
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(path)
			if err != nil || !fi.Mode().IsRegular() {
				w.skip(path, "symbolic link to nothing or to a non-file")
				return nil
			}
		} else if !d.Type().IsRegular() {
			w.skip(path, "not a regular file")
			return nil
		}
		w.out.Files = append(w.out.Files, path)
		return nil
	})
}

// walkURL lists root, an object or a prefix of an object store, by the
// rules of a local walk (there are no symbolic links or special files).
func (w *walker) walkURL(root string) error {
	ctx := context.Background()
	fi, err := Stat(ctx, root)
	if err != nil {
		return fmt.Errorf("dataio: list %s: %w", root, err)
	}
	if !fi.IsDir {
		w.out.Files = append(w.out.Files, root)
		return nil
	}
	err = Walk(ctx, root, func(e FileInfo) error {
		hidden := strings.HasPrefix(e.Name, ".") || strings.HasPrefix(e.Name, "_")
		switch {
		case e.IsDir && hidden:
			w.skip(e.Path, "directory name starts with '.' or '_' (hidden, temporary or a cache)")
			return fs.SkipDir
		case e.IsDir && w.excluded[e.Path]:
			w.skip(e.Path, "the job's own output or cache directory")
			return fs.SkipDir
		case e.IsDir:
			return nil
		case hidden:
			w.skip(e.Path, "name starts with '.' or '_' (hidden or temporary)")
		case !w.match(e.Name):
			w.skip(e.Path, "name does not end in "+strings.Join(w.exts, ", "))
		default:
			w.out.Files = append(w.out.Files, e.Path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dataio: list %s: %w", root, err)
	}
	return nil
}

func (w *walker) match(name string) bool {
	name = strings.ToLower(name)
	for _, e := range w.exts {
		if strings.HasSuffix(name, e) {
			return true
		}
	}
	return false
}

// Groups lists the files and groups them.
func (p FilePartitioning) Groups() ([][]string, error) {
	if p.FilesPerPartition < 0 || p.BlockSize < 0 {
		return nil, errors.New("dataio: FilesPerPartition and BlockSize must not be negative")
	}
	if p.FilesPerPartition > 0 && p.BlockSize > 0 {
		return nil, errors.New("dataio: set FilesPerPartition or BlockSize, not both")
	}
	files, err := p.ListFiles()
	if err != nil {
		return nil, err
	}
	return p.GroupFiles(files)
}

// GroupFiles groups files, already listed (by List) and sorted, by the
// rules of p.
func (p FilePartitioning) GroupFiles(files []string) ([][]string, error) {
	if p.FilesPerPartition < 0 || p.BlockSize < 0 {
		return nil, errors.New("dataio: FilesPerPartition and BlockSize must not be negative")
	}
	if p.FilesPerPartition > 0 && p.BlockSize > 0 {
		return nil, errors.New("dataio: set FilesPerPartition or BlockSize, not both")
	}
	var groups [][]string
	switch {
	case p.BlockSize > 0:
		var cur []string
		var size int64
		for _, f := range files {
			fi, err := Stat(context.Background(), f)
			if err != nil {
				return nil, fmt.Errorf("dataio: stat %s: %w", f, err)
			}
			if len(cur) > 0 && size+fi.Size > p.BlockSize {
				groups = append(groups, cur)
				cur, size = nil, 0
			}
			cur = append(cur, f)
			size += fi.Size
		}
		if len(cur) > 0 {
			groups = append(groups, cur)
		}
	default:
		per := max(p.FilesPerPartition, 1)
		for i := 0; i < len(files); i += per {
			groups = append(groups, files[i:min(i+per, len(files)):min(i+per, len(files))])
		}
	}
	return groups, nil
}

// FileGroups lists and groups the files and returns one task per group,
// each with its deterministic content id.
func (p FilePartitioning) FileGroups(dataset string) ([]*task.FileGroup, error) {
	groups, err := p.Groups()
	if err != nil {
		return nil, err
	}
	return NewFileGroups(dataset, groups), nil
}

// NewFileGroups returns one FileGroup task per group.
func NewFileGroups(dataset string, groups [][]string) []*task.FileGroup {
	out := make([]*task.FileGroup, len(groups))
	for i, g := range groups {
		out[i] = task.NewFileGroup(dataset, g)
	}
	return out
}

// byteUnit returns the multiplier of a lower-case unit name.
func byteUnit(u string) (int64, bool) {
	switch u {
	case "b":
		return 1, true
	case "kb":
		return 1e3, true
	case "kib":
		return 1 << 10, true
	case "mb":
		return 1e6, true
	case "mib":
		return 1 << 20, true
	case "gb":
		return 1e9, true
	case "gib":
		return 1 << 30, true
	case "tb":
		return 1e12, true
	case "tib":
		return 1 << 40, true
	case "pb":
		return 1e15, true
	case "pib":
		return 1 << 50, true
	}
	return 0, false
}

// ParseByteSize parses a size such as "1GiB", "512 MB", "1.5kib" or "4096".
// Units are case-insensitive: B; KB, MB, GB, TB, PB (powers of 1000); KiB,
// MiB, GiB, TiB, PiB (powers of 1024). A bare number is bytes. Fractions are
// allowed if the result is a whole number of bytes, which must fit in int64.
func ParseByteSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	num, unit := in[:i], strings.ToLower(strings.TrimSpace(in[i:]))
	if num == "" {
		return 0, fmt.Errorf("dataio: byte size %q: want a non-negative number followed by a unit such as B, KB, KiB, MB, MiB, GB, GiB, TB", s)
	}
	mult := int64(1)
	if unit != "" {
		m, ok := byteUnit(unit)
		if !ok {
			return 0, fmt.Errorf("dataio: byte size %q: unknown unit %q (want B, KB, KiB, MB, MiB, GB, GiB, TB, TiB, PB or PiB)", s, in[i:])
		}
		mult = m
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok || strings.Count(num, ".") > 1 || strings.HasPrefix(num, ".") || strings.HasSuffix(num, ".") {
		return 0, fmt.Errorf("dataio: byte size %q: invalid number %q", s, num)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("dataio: byte size %q is not a whole number of bytes", s)
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("dataio: byte size %q is too large", s)
	}
	return r.Num().Int64(), nil
}
