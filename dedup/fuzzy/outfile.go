package fuzzy

import (
	"context"
	"io"
	"os"
	"path/filepath"

	dataio "github.com/sluice-data/sluice/io"
)

// outFile is a cache file a stage writes, atomically: locally under a
// temporary name of its own in the file's directory, renamed into place on
// Commit (so that two attempts writing one path, such as an actor given up
// for dead that still runs and its retry, never write into the same file);
// on an object store it is uploaded and appears on Commit.
type outFile interface {
	io.Writer
	Commit() error
	Abort()
	Name() string
}

func createOut(path string) (outFile, error) {
	if dataio.IsURL(path) {
		return dataio.Create(context.Background(), path)
	}
	f, err := createTemp(path)
	if err != nil {
		return nil, err
	}
	return &localOut{f: f, final: path}, nil
}

// createTemp creates a file of its own (mode 0644, as os.Create makes it)
// in path's directory, to be renamed to path once complete: two attempts
// writing path at once never write into the same file.
func createTemp(path string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

type localOut struct {
	f     *os.File
	final string
}

func (l *localOut) Write(p []byte) (int, error) { return l.f.Write(p) }
func (l *localOut) Name() string                { return l.final }

func (l *localOut) Commit() error {
	err := l.f.Close()
	if err == nil {
		err = os.Rename(l.f.Name(), l.final)
	}
	if err != nil {
		os.Remove(l.f.Name())
	}
	return err
}

func (l *localOut) Abort() {
	l.f.Close()
	os.Remove(l.f.Name())
}

// openIn opens a cache file for random access: an os file locally, ranged
// GETs on an object store.
func openIn(path string) (dataio.File, error) {
	return dataio.Open(context.Background(), path)
}
