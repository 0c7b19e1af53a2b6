package dataio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// localFS is the local file system: os files, atomic writes by temporary
// file and rename.
type localFS struct{}

type localFile struct {
	*os.File
	size int64
}

func (f localFile) Size() int64 { return f.size }

func (localFS) Open(_ context.Context, name string) (File, error) {
	f, err := openLocalFile(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return localFile{f, fi.Size()}, nil
}

// sectionCloser is a section of a local file, closing the file.
type sectionCloser struct {
	*io.SectionReader
	f io.Closer
}

func (s sectionCloser) Close() error { return s.f.Close() }

func (localFS) OpenStream(_ context.Context, name string, off, length int64) (io.ReadCloser, error) {
	f, err := openSeq(name)
	if err != nil {
		return nil, err
	}
	if off == 0 && length < 0 {
		return f, nil
	}
	if length < 0 {
		length = 1<<63 - 1 - off
	}
	return sectionCloser{io.NewSectionReader(f, off, length), f}, nil
}

func localInfo(p string, fi fs.FileInfo) FileInfo {
	return FileInfo{Path: p, Name: fi.Name(), Size: fi.Size(), ModTime: fi.ModTime(), IsDir: fi.IsDir(), Regular: fi.Mode().IsRegular()}
}

func (localFS) Stat(_ context.Context, name string) (FileInfo, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return FileInfo{}, err
	}
	return localInfo(name, fi), nil
}

func (localFS) Lstat(_ context.Context, name string) (FileInfo, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return FileInfo{}, err
	}
	return localInfo(name, fi), nil
}

func (localFS) Walk(ctx context.Context, root string, fn WalkFunc) error {
	walkRoot := root
	if lfi, err := os.Lstat(root); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
		walkRoot = root + string(filepath.Separator) // make WalkDir follow the link
	}
	return filepath.WalkDir(walkRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == walkRoot {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking
		}
		if err != nil {
			return err
		}
		return fn(localInfo(filepath.Join(root, p[len(walkRoot):]), fi))
	})
}

func (localFS) Create(_ context.Context, name string) (Writer, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return nil, fmt.Errorf("dataio: create %s: %w", name, err)
	}
	return createAtomic(name)
}

func (localFS) WriteFile(_ context.Context, name string, data []byte) error {
	return writeFileAtomic(name, data)
}

func (localFS) Remove(_ context.Context, name string) error { return os.Remove(name) }

func (localFS) MkdirAll(_ context.Context, name string) error { return os.MkdirAll(name, 0o755) }

func removeAllLocal(p string) error { return os.RemoveAll(p) }

func (localFS) ReadDir(_ context.Context, name string) ([]FileInfo, error) {
	entries, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	out := make([]FileInfo, 0, len(entries))
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, localInfo(filepath.Join(name, e.Name()), fi))
	}
	return out, nil
}

// atomicFile is a file written under a temporary name in the directory of
// its final path and renamed into place by Commit.
type atomicFile struct {
	f     *os.File
	final string
	done  bool
	// batch, if set, receives the file at Commit, which then neither syncs
	// nor renames it: WriteBatch.Publish does both for all its files.
	batch *WriteBatch
}

func createAtomic(path string) (*atomicFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := createTemp(dir, base)
	if err != nil {
		return nil, fmt.Errorf("dataio: create temporary file for %s: %w", path, err)
	}
	return &atomicFile{f: f, final: path}, nil
}

func (a *atomicFile) Write(p []byte) (int, error) { return a.f.Write(p) }

// Name returns the final path.
func (a *atomicFile) Name() string { return a.final }

// Commit syncs, closes and renames the file to its final path (a batch's
// file: closes it and hands it to the batch).
func (a *atomicFile) Commit() error {
	if a.done {
		return fmt.Errorf("dataio: %s already closed", a.final)
	}
	a.done = true
	tmp := a.f.Name()
	if err := a.f.Chmod(0o644); err != nil {
		a.f.Close()
		os.Remove(tmp)
		return fmt.Errorf("dataio: chmod %s: %w", tmp, err)
	}
	if a.batch != nil {
		return a.batch.add(a)
	}
	if err := a.f.Sync(); err != nil {
		a.f.Close()
		os.Remove(tmp)
		return fmt.Errorf("dataio: sync %s: %w", tmp, err)
	}
	if err := a.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("dataio: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, a.final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("dataio: rename %s to %s: %w", tmp, a.final, err)
	}
	return nil
}

// Abort closes and removes the temporary file. It is a no-op after Commit.
func (a *atomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.f.Close()
	os.Remove(a.f.Name())
}

// writeFileAtomic writes b to path through a temporary file and a rename.
func writeFileAtomic(path string, b []byte) error {
	f, err := createTemp(filepath.Dir(path), filepath.Base(path))
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil { // CreateTemp makes 0600
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
