package fuzzy

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"sort"

	dataio "github.com/sluice-data/sluice/io"
)

// The shingle and id stores are each two files: the entries, and an index
// of little-endian uint64 offsets where entry i is where document base+i
// starts and the last entry is the end. indexedOut writes such a pair and
// indexedIn reads the pairs of a set of MinHash tasks with positioned
// reads; the offsets' unit (bytes, hashes) is the store's.

// indexedOut writes one store's two files, atomically (see outFile).
type indexedOut struct {
	what      string // "shingle store", for errors
	data, idx outFile
	bd, bx    *bufio.Writer
	off       uint64 // the next entry's offset
}

func createIndexed(what, dataPath, idxPath string, dataBuf int) (indexedOut, error) {
	d, err := createOut(dataPath)
	if err != nil {
		return indexedOut{}, fmt.Errorf("%s: %w", what, err)
	}
	x, err := createOut(idxPath)
	if err != nil {
		d.Abort()
		return indexedOut{}, fmt.Errorf("%s: %w", what, err)
	}
	return indexedOut{what: what, data: d, idx: x, bd: bufio.NewWriterSize(d, dataBuf), bx: bufio.NewWriterSize(x, 64<<10)}, nil
}

// entry appends the current offset to the index.
func (w *indexedOut) entry() error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], w.off)
	_, err := w.bx.Write(b[:])
	return err
}

// commit flushes and commits both files, given err, the first error of
// the caller's last writes; on any error both files are discarded.
func (w *indexedOut) commit(err error) error {
	for _, e := range []error{w.bd.Flush(), w.bx.Flush()} {
		if err == nil {
			err = e
		}
	}
	if err == nil {
		err = w.data.Commit()
	}
	if err == nil {
		err = w.idx.Commit()
	}
	if err != nil {
		w.abort()
		return fmt.Errorf("%s %s: %w", w.what, w.data.Name(), err)
	}
	return nil
}

func (w *indexedOut) abort() {
	w.data.Abort()
	w.idx.Abort()
}

// indexedIn reads the stores of refs, ordered by first id.
type indexedIn struct {
	what      string
	refs      []SigStoreRef
	dataPath  []string
	idxPath   []string
	data, idx []dataio.File
	ib        [16]byte
}

// openIndexed opens the stores of refs that paths names (data and index
// paths; "" leaves a ref out) for positioned reads; stores on an object
// store are first copied to the local directory scratch.
func openIndexed(ctx context.Context, what string, refs []SigStoreRef, paths func(SigStoreRef) (string, string), scratch string) (indexedIn, error) {
	s := indexedIn{what: what}
	for _, r := range byBase(refs) {
		dp, xp := paths(r)
		if dp == "" {
			continue
		}
		d, err := dataio.OpenLocal(ctx, dp, scratch)
		if err != nil {
			s.close()
			return indexedIn{}, fmt.Errorf("%s: %w", what, err)
		}
		x, err := dataio.OpenLocal(ctx, xp, scratch)
		if err != nil {
			d.Close()
			s.close()
			return indexedIn{}, fmt.Errorf("%s: %w", what, err)
		}
		s.refs, s.dataPath, s.idxPath = append(s.refs, r), append(s.dataPath, dp), append(s.idxPath, xp)
		s.data, s.idx = append(s.data, d), append(s.idx, x)
	}
	return s, nil
}

// span returns the store holding id and the offsets [from, to) of its
// entry; ok is false when no store covers id.
func (s *indexedIn) span(id int64) (i int, from, to uint64, ok bool, err error) {
	i = sort.Search(len(s.refs), func(i int) bool { return s.refs[i].Base+s.refs[i].Count > id })
	if i == len(s.refs) || id < s.refs[i].Base {
		return 0, 0, 0, false, nil
	}
	if _, err := s.idx[i].ReadAt(s.ib[:], (id-s.refs[i].Base)*8); err != nil {
		return 0, 0, 0, false, fmt.Errorf("%s %s: id %d: %w", s.what, s.idxPath[i], id, err)
	}
	from, to = binary.LittleEndian.Uint64(s.ib[:8]), binary.LittleEndian.Uint64(s.ib[8:])
	if to < from || to-from > 1<<30 {
		return 0, 0, 0, false, fmt.Errorf("%s %s: corrupt index at id %d", s.what, s.idxPath[i], id)
	}
	return i, from, to, true, nil
}

// readAt reads the entry bytes of store i at off into b.
func (s *indexedIn) readAt(i int, b []byte, off int64, id int64) error {
	if _, err := s.data[i].ReadAt(b, off); err != nil {
		return fmt.Errorf("%s %s: id %d: %w", s.what, s.dataPath[i], id, err)
	}
	return nil
}

func (s *indexedIn) close() {
	for _, f := range append(s.data, s.idx...) {
		f.Close()
	}
	s.data, s.idx = nil, nil
}
