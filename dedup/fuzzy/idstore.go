package fuzzy

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/sluice-data/sluice/dedup/internal/flow"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// An id store keeps, for every document id of a MinHash task, the
// document's original id (the --id-field value as JSON, see
// flow.OriginalIDJSON), so that the components phase can name both documents of
// every removal in the ledger with two positioned reads, without reading
// the inputs again or holding any id in memory. Like the shingle store it
// is two files: the entries (a byte 1 and the id's text, or a byte 0 for a
// record without an id) and an index of little-endian uint64 byte offsets,
// where entry i is where document base+i starts and the last entry is the
// end. It costs about the ids' length plus 9 bytes per document, a few per
// cent of the signature store.

type idStoreWriter struct {
	data, idx  outFile
	bd, bx     *bufio.Writer
	base, next int64
	off        uint64
}

func createIDStore(dataPath, idxPath string, base int64) (*idStoreWriter, error) {
	d, err := createOut(dataPath)
	if err != nil {
		return nil, fmt.Errorf("id store: %w", err)
	}
	x, err := createOut(idxPath)
	if err != nil {
		d.Abort()
		return nil, fmt.Errorf("id store: %w", err)
	}
	return &idStoreWriter{data: d, idx: x, bd: bufio.NewWriterSize(d, 256<<10), bx: bufio.NewWriterSize(x, 64<<10), base: base, next: base}, nil
}

func (w *idStoreWriter) entry() error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], w.off)
	_, err := w.bx.Write(b[:])
	return err
}

// write stores the original id of document id (nil: none). Ids must come in
// increasing order; skipped ids (bad records) have no original id.
func (w *idStoreWriter) write(id int64, orig *string) error {
	if id < w.next {
		return fmt.Errorf("id store %s: id %d out of order (next %d)", w.data.Name(), id, w.next)
	}
	for ; w.next < id; w.next++ {
		if err := w.gap(); err != nil {
			return err
		}
	}
	w.next++
	if err := w.entry(); err != nil {
		return err
	}
	if orig == nil {
		w.off++
		return w.bd.WriteByte(0)
	}
	w.bd.WriteByte(1)
	if _, err := w.bd.WriteString(*orig); err != nil {
		return fmt.Errorf("id store %s: %w", w.data.Name(), err)
	}
	w.off += 1 + uint64(len(*orig))
	return nil
}

func (w *idStoreWriter) gap() error {
	if err := w.entry(); err != nil {
		return err
	}
	w.off++
	return w.bd.WriteByte(0)
}

func (w *idStoreWriter) close(total int64) error {
	var err error
	for ; w.next < w.base+total && err == nil; w.next++ {
		err = w.gap()
	}
	if err == nil {
		err = w.entry() // the end offset
	}
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
		return fmt.Errorf("id store %s: %w", w.data.Name(), err)
	}
	return nil
}

func (w *idStoreWriter) abort() {
	w.data.Abort()
	w.idx.Abort()
}

// idStores reads original ids from the id stores of a set of MinHash tasks.
type idStores struct {
	refs      []SigStoreRef
	data, idx []dataio.File
	ib        [16]byte
	buf       []byte
}

// openIDStores opens the stores for positioned reads; stores on an object
// store are first copied to the local directory scratch.
func openIDStores(ctx context.Context, refs []SigStoreRef, scratch string) (*idStores, error) {
	s := &idStores{}
	for _, r := range byBase(refs) {
		if r.IDs != "" {
			s.refs = append(s.refs, r)
		}
	}
	for _, r := range s.refs {
		d, err := dataio.OpenLocal(ctx, r.IDs, scratch)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("id store: %w", err)
		}
		x, err := dataio.OpenLocal(ctx, r.IDIndex, scratch)
		if err != nil {
			d.Close()
			s.close()
			return nil, fmt.Errorf("id store: %w", err)
		}
		s.data, s.idx = append(s.data, d), append(s.idx, x)
	}
	return s, nil
}

// read returns the original id of document id as JSON, nil when it has
// none (or when no store covers it: the run kept no ids).
func (s *idStores) read(id int64) (*string, error) {
	i := sort.Search(len(s.refs), func(i int) bool { return s.refs[i].Base+s.refs[i].Count > id })
	if i == len(s.refs) || id < s.refs[i].Base {
		return nil, nil
	}
	if _, err := s.idx[i].ReadAt(s.ib[:], (id-s.refs[i].Base)*8); err != nil {
		return nil, fmt.Errorf("id store %s: id %d: %w", s.refs[i].IDIndex, id, err)
	}
	from, to := binary.LittleEndian.Uint64(s.ib[:8]), binary.LittleEndian.Uint64(s.ib[8:])
	if to <= from || to-from > 1<<30 {
		return nil, fmt.Errorf("id store %s: corrupt index at id %d", s.refs[i].IDIndex, id)
	}
	n := int(to - from)
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	b := s.buf[:n]
	if _, err := s.data[i].ReadAt(b, int64(from)); err != nil {
		return nil, fmt.Errorf("id store %s: id %d: %w", s.refs[i].IDs, id, err)
	}
	if b[0] == 0 {
		return nil, nil
	}
	v := string(b[1:])
	return &v, nil
}

func (s *idStores) close() {
	for _, f := range append(s.data, s.idx...) {
		f.Close()
	}
	s.data, s.idx = nil, nil
}

// writeBatch writes the original ids of a batch read from path (ids
// base+rows[i]; the batch's idField column, none when "-"). A nil writer
// writes nothing.
func (w *idStoreWriter) writeBatch(b *task.DocumentBatch, idField, path string, base int64, rows []int64) error {
	if w == nil {
		return nil
	}
	var idc *task.Column
	if idField != "-" { // "-": a Parquet file without a usable id column
		idc = b.Column(idField)
	}
	rawJSON := dataio.FormatOf(path) != dataio.Parquet
	for i, row := range rows {
		if err := w.write(base+row, flow.OriginalIDJSON(idc, i, rawJSON)); err != nil {
			return err
		}
	}
	return nil
}
