package fuzzy

import (
	"context"
	"io"
	"os"
	"path/filepath"

	dataio "github.com/sluice-data/sluice/io"
)

// outFile is a cache file a stage writes. Locally it is written in place,
// or under a temporary name renamed on Commit when atomic, as before the
// storage seam; on an object store it is uploaded and appears on Commit.
type outFile interface {
	io.Writer
	Commit() error
	Abort()
	Name() string
}

func createOut(path string, atomic bool) (outFile, error) {
	if dataio.IsURL(path) {
		return dataio.Create(context.Background(), path)
	}
	name := path
	if atomic {
		name = filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	return &localOut{f: f, final: path}, nil
}

type localOut struct {
	f     *os.File
	final string
}

func (l *localOut) Write(p []byte) (int, error) { return l.f.Write(p) }
func (l *localOut) Name() string                { return l.final }

func (l *localOut) Commit() error {
	err := l.f.Close()
	if err == nil && l.f.Name() != l.final {
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
