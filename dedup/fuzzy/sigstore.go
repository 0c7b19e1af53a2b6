package fuzzy

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"

	dataio "github.com/sluice-data/sluice/io"
)

// A signature store is a flat file of fixed-size signature records, one per
// document id of a file group, in id order: record i holds the signature of
// document base+i. It lets candidate-pair verification read any signature
// with one positioned read, so the join of edges with signatures needs no
// memory beyond the two signatures it compares (the OS page cache does the
// rest and is not counted against the process).

// SigStoreRef names one store: its path and the ids it covers.
type SigStoreRef struct {
	Path  string `json:"path"`
	Base  int64  `json:"base"`
	Count int64  `json:"count"`
	// Shingles and ShingleIndex name the shingle store of the same ids, when
	// one was written (see shinglestore.go).
	Shingles     string `json:"shingles,omitempty"`
	ShingleIndex string `json:"shingle_index,omitempty"`
	// IDs and IDIndex name the id store of the same ids (the documents'
	// original ids, for the ledger; see idstore.go).
	IDs     string `json:"ids,omitempty"`
	IDIndex string `json:"id_index,omitempty"`
}

// sigStoreWriter writes records sequentially, filling gaps (ids of bad
// records) with zeros. It writes through an outFile: under a temporary name
// of its own renamed into place on close (locally), so that a writer of
// another attempt never writes into the same file, or as one upload.
type sigStoreWriter struct {
	f      outFile
	buf    []byte
	next   int64 // next id expected
	base   int64
	recLen int
}

func createSigStore(path string, base int64, recLen int) (*sigStoreWriter, error) {
	f, err := createOut(path)
	if err != nil {
		return nil, fmt.Errorf("signature store: %w", err)
	}
	return &sigStoreWriter{f: f, base: base, next: base, recLen: recLen}, nil
}

func (w *sigStoreWriter) write(id int64, rec []byte) error {
	if id < w.next {
		return fmt.Errorf("signature store %s: id %d out of order (next %d)", w.f.Name(), id, w.next)
	}
	for ; w.next < id; w.next++ {
		w.buf = append(w.buf, make([]byte, w.recLen)...)
	}
	w.buf = append(w.buf, rec...)
	w.next++
	if len(w.buf) >= 1<<20 {
		return w.flush()
	}
	return nil
}

func (w *sigStoreWriter) flush() error {
	if _, err := w.f.Write(w.buf); err != nil {
		return fmt.Errorf("signature store %s: %w", w.f.Name(), err)
	}
	w.buf = w.buf[:0]
	return nil
}

func (w *sigStoreWriter) close(total int64) error {
	for ; w.next < w.base+total; w.next++ {
		w.buf = append(w.buf, make([]byte, w.recLen)...)
	}
	if err := w.flush(); err != nil {
		w.f.Abort()
		return err
	}
	return w.f.Commit()
}

// abort drops the store being written.
func (w *sigStoreWriter) abort() { w.f.Abort() }

// sigStores reads signatures from a set of stores.
type sigStores struct {
	refs   []SigStoreRef
	files  []dataio.File
	recLen int
	buf    []byte
}

// byBase returns the stores of refs that hold ids (a task of empty files
// holds none), ordered by first id, so that a binary search over their
// ranges is sound: an empty store shares its Base with the next one, and in
// either order the two would break the search.
func byBase(refs []SigStoreRef) []SigStoreRef {
	var out []SigStoreRef
	for _, r := range refs {
		if r.Count > 0 {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Base < out[j].Base })
	return out
}

// openSigStores opens the stores for positioned reads; stores on an object
// store are first copied to the local directory scratch.
func openSigStores(ctx context.Context, refs []SigStoreRef, recLen int, scratch string) (*sigStores, error) {
	s := &sigStores{refs: byBase(refs), recLen: recLen}
	for _, r := range s.refs {
		f, err := dataio.OpenLocal(ctx, r.Path, scratch)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("signature store: %w", err)
		}
		s.files = append(s.files, f)
	}
	return s, nil
}

// read returns the raw record of id, valid until the next call.
func (s *sigStores) read(id int64) ([]byte, error) {
	i := sort.Search(len(s.refs), func(i int) bool { return s.refs[i].Base+s.refs[i].Count > id })
	if i == len(s.refs) || id < s.refs[i].Base {
		return nil, fmt.Errorf("signature store: no signature for id %d", id)
	}
	if cap(s.buf) < s.recLen {
		s.buf = make([]byte, s.recLen)
	}
	s.buf = s.buf[:s.recLen]
	off := (id - s.refs[i].Base) * int64(s.recLen)
	if _, err := s.files[i].ReadAt(s.buf, off); err != nil {
		return nil, fmt.Errorf("signature store %s: id %d: %w", s.refs[i].Path, id, err)
	}
	return s.buf, nil
}

func (s *sigStores) close() {
	for _, f := range s.files {
		f.Close()
	}
	s.files = nil
}

// encodeSig32 appends sig as little-endian uint32s.
func encodeSig32(dst []byte, sig []uint32) []byte {
	for _, v := range sig {
		dst = binary.LittleEndian.AppendUint32(dst, v)
	}
	return dst
}

// matchFraction is the fraction of equal 32-bit words of two encoded
// records: the Jaccard estimate for 32-bit signatures. For 64-bit signatures
// (stored as lo, hi pairs) it compares pairs.
func matchFraction(a, b []byte, hashBits int) float64 {
	step := 4
	if hashBits == 64 {
		step = 8
	}
	n, eq := 0, 0
	for i := 0; i+step <= len(a) && i+step <= len(b); i += step {
		n++
		if string(a[i:i+step]) == string(b[i:i+step]) {
			eq++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(eq) / float64(n)
}
