package fuzzy

import (
	"context"
	"fmt"
	"unsafe"
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
	indexedOut // offsets in bytes
	base, next int64
}

func createIDStore(dataPath, idxPath string, base int64) (*idStoreWriter, error) {
	out, err := createIndexed("id store", dataPath, idxPath, 256<<10)
	if err != nil {
		return nil, err
	}
	return &idStoreWriter{indexedOut: out, base: base, next: base}, nil
}

// write stores the original id of document id (nil: none). Ids must come in
// increasing order; skipped ids (bad records) have no original id.
func (w *idStoreWriter) write(id int64, orig *string) error {
	if orig == nil {
		return w.put(id, nil, false)
	}
	return w.put(id, unsafe.Slice(unsafe.StringData(*orig), len(*orig)), true)
}

// writeJSON is write with the original id's JSON as bytes (nil: none),
// which are only read during the call.
func (w *idStoreWriter) writeJSON(id int64, orig []byte) error {
	return w.put(id, orig, orig != nil)
}

// put stores orig as the original id of document id when has, else none.
func (w *idStoreWriter) put(id int64, orig []byte, has bool) error {
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
	if !has {
		w.off++
		return w.bd.WriteByte(0)
	}
	w.bd.WriteByte(1)
	if _, err := w.bd.Write(orig); err != nil {
		return fmt.Errorf("id store %s: %w", w.data.Name(), err)
	}
	w.off += 1 + uint64(len(orig))
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
	return w.commit(err)
}

// idStores reads original ids from the id stores of a set of MinHash tasks.
type idStores struct {
	indexedIn
	buf []byte
}

// openIDStores opens the stores for positioned reads; stores on an object
// store are first copied to the local directory scratch.
func openIDStores(ctx context.Context, refs []SigStoreRef, scratch string) (*idStores, error) {
	in, err := openIndexed(ctx, "id store", refs, func(r SigStoreRef) (string, string) { return r.IDs, r.IDIndex }, scratch)
	if err != nil {
		return nil, err
	}
	return &idStores{indexedIn: in}, nil
}

// read returns the original id of document id as JSON, nil when it has
// none (or when no store covers it: the run kept no ids).
func (s *idStores) read(id int64) (*string, error) {
	i, from, to, ok, err := s.span(id)
	if err != nil || !ok {
		return nil, err
	}
	if to == from { // every entry has its flag byte
		return nil, fmt.Errorf("id store %s: corrupt index at id %d", s.idxPath[i], id)
	}
	n := int(to - from)
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	b := s.buf[:n]
	if err := s.readAt(i, b, int64(from), id); err != nil {
		return nil, err
	}
	if b[0] == 0 {
		return nil, nil
	}
	v := string(b[1:])
	return &v, nil
}
