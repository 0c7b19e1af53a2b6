package task

import (
	"encoding/hex"
	"slices"

	"github.com/zeebo/xxh3"
)

// FileGroup is a group of files processed together, typically the output of
// a file-partitioning stage and the input of a reader stage.
type FileGroup struct {
	Header
	Paths []string
}

// NewFileGroup returns a FileGroup over paths with its content id as id.
func NewFileGroup(dataset string, paths []string) *FileGroup {
	g := &FileGroup{Header: Header{DatasetName: dataset}, Paths: paths}
	g.TaskID = g.ContentID()
	return g
}

// NumItems implements Task: the number of files.
func (g *FileGroup) NumItems() int { return len(g.Paths) }

// Kind implements Task.
func (*FileGroup) Kind() string { return KindFileGroup }

// ContentID is a deterministic id derived from the sorted paths, so that the
// same files give the same id on every run. It implements ContentIDer.
func (g *FileGroup) ContentID() string {
	sorted := slices.Clone(g.Paths)
	slices.Sort(sorted)
	h := xxh3.New()
	for _, p := range sorted {
		_, _ = h.WriteString(p)
		_, _ = h.Write([]byte{0})
	}
	sum := h.Sum128().Bytes()
	return "fg_" + hex.EncodeToString(sum[:8])
}

// ContentIDer is implemented by tasks that have a deterministic id derived
// from their content. Source stages use it (see DeriveIDs).
type ContentIDer interface {
	ContentID() string
}
