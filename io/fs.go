package dataio

// The file-system seam: every file Sluice reads or writes goes through the
// functions of this file, which pick a backend by the path's form.
//
//   - A plain path or a file:// URL is the local file system, used as before
//     (os.File, temporary file and rename), at the same speed.
//   - s3://bucket/key is an object store reached through the S3 API
//     (fs_s3.go): ranged GETs for random access, streaming GETs with
//     read-ahead for sequential reads, PutObject or a multipart upload
//     completed on Commit for atomic writes, no rename anywhere.
//
// The interfaces are small, in the style of io/fs: a FS opens files for
// random access (File: ReaderAt plus Size) and for streaming, stats, walks,
// creates atomically (Writer: the object appears complete on Commit or not
// at all), writes small files in one call, and removes files.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// File is a file opened for random access.
type File interface {
	io.ReaderAt
	io.Closer
	// Size is the file's size when it was opened.
	Size() int64
}

// Writer is a file being written atomically: its contents appear at its
// path, complete, when Commit succeeds, and never partially. Abort (or a
// failed Commit) leaves nothing behind.
type Writer interface {
	io.Writer
	// Commit finishes the file and makes it visible under its name.
	Commit() error
	// Abort discards what was written. It is a no-op after Commit.
	Abort()
	// Name is the file's final path.
	Name() string
}

// FileInfo describes a file or directory.
type FileInfo struct {
	// Path is the entry's full path (a URL for object stores).
	Path string
	// Name is the last element of Path.
	Name    string
	Size    int64
	ModTime time.Time
	IsDir   bool
	// Regular is false for symbolic links (Lstat) and special files.
	Regular bool
	// ETag identifies an object's contents on object stores ("" locally).
	ETag string
}

// WalkFunc is called by Walk for every entry below the root, directories
// before their contents; returning fs.SkipDir for a directory skips it,
// fs.SkipAll ends the walk.
type WalkFunc func(info FileInfo) error

// FS is one storage backend. Names are full paths or URLs of that backend.
type FS interface {
	// Open opens a file for random access.
	Open(ctx context.Context, name string) (File, error)
	// OpenStream opens length bytes (to the end when negative) from off for
	// sequential reading, read ahead for object stores. A stream is used
	// by one goroutine at a time, Close included.
	OpenStream(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)
	// Stat describes name, following a symbolic link.
	Stat(ctx context.Context, name string) (FileInfo, error)
	// Lstat describes name without following a symbolic link.
	Lstat(ctx context.Context, name string) (FileInfo, error)
	// Walk calls fn for every file and directory below root (not root
	// itself), in lexical order within each directory; a symbolic link
	// at root is followed.
	Walk(ctx context.Context, root string, fn WalkFunc) error
	// Create starts writing name atomically; parent directories are
	// created as needed.
	Create(ctx context.Context, name string) (Writer, error)
	// WriteFile writes a small file atomically, in one call.
	WriteFile(ctx context.Context, name string, data []byte) error
	// Remove removes one file (not a directory). A missing file is an
	// error wrapping fs.ErrNotExist.
	Remove(ctx context.Context, name string) error
	// MkdirAll creates a directory and its parents; object stores have no
	// directories and do nothing.
	MkdirAll(ctx context.Context, name string) error
	// ReadDir lists a directory's entries (for object stores, the objects
	// and prefixes one level below name/), sorted by name. A missing
	// directory is an error wrapping fs.ErrNotExist locally and empty on
	// object stores.
	ReadDir(ctx context.Context, name string) ([]FileInfo, error)
}

// IsURL reports whether p names an object in a store (a URL with a scheme
// other than file://) rather than a local path.
func IsURL(p string) bool {
	i := strings.Index(p, "://")
	return i > 0 && !strings.EqualFold(p[:i], "file")
}

// IsS3 reports whether p is an s3:// URL.
func IsS3(p string) bool { return len(p) >= 5 && strings.EqualFold(p[:5], "s3://") }

// LocalPath returns p without a file:// prefix.
func LocalPath(p string) string {
	if len(p) >= 7 && strings.EqualFold(p[:7], "file://") {
		return p[7:]
	}
	return p
}

// JoinPath joins path elements to base: with "/" for URLs (keeping the
// scheme's "//"), with filepath.Join for local paths.
func JoinPath(base string, elem ...string) string {
	if !IsURL(base) {
		return filepath.Join(append([]string{LocalPath(base)}, elem...)...)
	}
	i := strings.Index(base, "://") + 3
	rest := path.Join(append([]string{"/" + base[i:]}, elem...)...)
	return base[:i] + strings.TrimPrefix(rest, "/")
}

// DirOf returns all but the last element of p (filepath.Dir for local
// paths; for URLs the prefix before the last "/", or the bucket).
func DirOf(p string) string {
	if !IsURL(p) {
		return filepath.Dir(LocalPath(p))
	}
	i := strings.Index(p, "://") + 3
	rest := strings.TrimRight(p[i:], "/")
	j := strings.LastIndex(rest, "/")
	if j < 0 {
		return p[:i] + rest
	}
	return p[:i] + rest[:j]
}

// BaseOf returns the last element of p.
func BaseOf(p string) string {
	if !IsURL(p) {
		return filepath.Base(LocalPath(p))
	}
	return path.Base(strings.TrimRight(p[strings.Index(p, "://")+3:], "/"))
}

// RelPath returns target relative to base, "/"-separated for URLs, and
// false when target does not lie inside base.
func RelPath(base, target string) (string, bool) {
	if IsURL(base) != IsURL(target) {
		return "", false
	}
	if !IsURL(base) {
		rel, err := filepath.Rel(LocalPath(base), LocalPath(target))
		if err != nil || !filepath.IsLocal(rel) && rel != "." {
			return "", false
		}
		return rel, true
	}
	b := strings.TrimRight(base, "/")
	if target == b {
		return ".", true
	}
	if !strings.HasPrefix(target, b+"/") {
		return "", false
	}
	return strings.TrimPrefix(target, b+"/"), true
}

// backend returns the FS serving p.
func backend(p string) (FS, error) {
	if !IsURL(p) {
		return localFS{}, nil
	}
	if IsS3(p) {
		return defaultStorage.s3()
	}
	scheme := p[:strings.Index(p, "://")]
	return nil, &fs.PathError{Op: "open", Path: p, Err: errors.New("unsupported storage scheme " + scheme + "://: Sluice reads and writes local paths and s3:// URLs")}
}

// createWriter starts an atomic write of p for this package's writers: a
// temporary local file renamed into place (parent directories must exist,
// as before), or an object upload.
func createWriter(ctx context.Context, p string) (Writer, error) {
	if !IsURL(p) {
		a, err := createAtomic(LocalPath(p))
		if err != nil {
			return nil, err
		}
		return a, nil
	}
	return Create(ctx, p)
}

// Open opens the file at p (a local path or a URL) for random access.
func Open(ctx context.Context, p string) (File, error) {
	b, err := backend(p)
	if err != nil {
		return nil, err
	}
	return b.Open(ctx, LocalPath(p))
}

// OpenStream opens length bytes of p (to the end when negative) from off
// for sequential reading.
func OpenStream(ctx context.Context, p string, off, length int64) (io.ReadCloser, error) {
	b, err := backend(p)
	if err != nil {
		return nil, err
	}
	return b.OpenStream(ctx, LocalPath(p), off, length)
}

// Stat describes p.
func Stat(ctx context.Context, p string) (FileInfo, error) {
	b, err := backend(p)
	if err != nil {
		return FileInfo{}, err
	}
	return b.Stat(ctx, LocalPath(p))
}

// Lstat describes p without following a symbolic link.
func Lstat(ctx context.Context, p string) (FileInfo, error) {
	b, err := backend(p)
	if err != nil {
		return FileInfo{}, err
	}
	return b.Lstat(ctx, LocalPath(p))
}

// Walk calls fn for every entry below root (see FS.Walk).
func Walk(ctx context.Context, root string, fn WalkFunc) error {
	b, err := backend(root)
	if err != nil {
		return err
	}
	return b.Walk(ctx, LocalPath(root), fn)
}

// Create starts writing p atomically (see Writer).
func Create(ctx context.Context, p string) (Writer, error) {
	b, err := backend(p)
	if err != nil {
		return nil, err
	}
	return b.Create(ctx, LocalPath(p))
}

// WriteFile writes data to p atomically.
func WriteFile(ctx context.Context, p string, data []byte) error {
	b, err := backend(p)
	if err != nil {
		return err
	}
	return b.WriteFile(ctx, LocalPath(p), data)
}

// ReadFile reads the whole file p.
func ReadFile(ctx context.Context, p string) ([]byte, error) {
	r, err := OpenStream(ctx, p, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, wrapPath("read", p, err)
	}
	return b, nil
}

// Remove removes the file p.
func Remove(ctx context.Context, p string) error {
	b, err := backend(p)
	if err != nil {
		return err
	}
	return b.Remove(ctx, LocalPath(p))
}

// MkdirAll creates the directory p and its parents (nothing for URLs).
func MkdirAll(ctx context.Context, p string) error {
	b, err := backend(p)
	if err != nil {
		return err
	}
	return b.MkdirAll(ctx, LocalPath(p))
}

// ReadDir lists the directory p (see FS.ReadDir).
func ReadDir(ctx context.Context, p string) ([]FileInfo, error) {
	b, err := backend(p)
	if err != nil {
		return nil, err
	}
	return b.ReadDir(ctx, LocalPath(p))
}

// TreeSize is the total size of the files below root.
func TreeSize(ctx context.Context, root string) int64 {
	var n int64
	_ = Walk(ctx, root, func(fi FileInfo) error {
		if fi.Regular {
			n += fi.Size
		}
		return nil
	})
	return n
}

// RemoveTree removes the files below root (and, locally, the emptied
// directories and root). Only for trees Sluice wrote itself, such as a
// cache entry it marked.
func RemoveTree(ctx context.Context, root string) error {
	if !IsURL(root) {
		return removeAllLocal(LocalPath(root))
	}
	var files []string
	err := Walk(ctx, root, func(fi FileInfo) error {
		if !fi.IsDir {
			files = append(files, fi.Path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := Remove(ctx, f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Exists reports whether p exists (a file, a directory, or an object
// prefix), and any error other than "does not exist".
func Exists(ctx context.Context, p string) (bool, error) {
	_, err := Stat(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func wrapPath(op, p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: op, Path: p, Err: err}
}

// OpenLocal opens p for fast random access on local disk: a local path is
// opened in place; an object is first copied into a temporary file in the
// local directory scratch (the system temp directory when empty), which is
// unlinked at once, so that closing the file frees the space and nothing is
// left behind on any exit path. For files read by many small positioned
// reads (signature and shingle stores), where a ranged GET per read would
// be orders of magnitude slower.
func OpenLocal(ctx context.Context, p, scratch string) (File, error) {
	if !IsURL(p) {
		return Open(ctx, p)
	}
	r, err := OpenStream(ctx, p, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if scratch != "" {
		if err := os.MkdirAll(scratch, 0o755); err != nil {
			return nil, fmt.Errorf("local copy of %s: %w", p, err)
		}
	}
	f, err := os.CreateTemp(scratch, ".sluice-copy-*")
	if err != nil {
		return nil, fmt.Errorf("local copy of %s: %w", p, err)
	}
	os.Remove(f.Name()) // unlinked: gone when closed
	n, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("local copy of %s: %w", p, err)
	}
	return localFile{File: f, size: n}, nil
}
