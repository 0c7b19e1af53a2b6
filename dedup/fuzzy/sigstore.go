package fuzzy

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
// records) with zeros. It writes under a temporary name of its own in the
// store's directory and renames the store into place when it closes, so
// that a writer of another attempt (an actor given up for dead that still
// runs) never writes into the same file.
type sigStoreWriter struct {
	f      *os.File
	path   string
	buf    []byte
	next   int64 // next id expected
	base   int64
	recLen int
}

func createSigStore(path string, base int64, recLen int) (*sigStoreWriter, error) {
	f, err := createTemp(path)
	if err != nil {
		return nil, fmt.Errorf("signature store: %w", err)
	}
	return &sigStoreWriter{f: f, path: path, base: base, next: base, recLen: recLen}, nil
}

func (w *sigStoreWriter) write(id int64, rec []byte) error {
	if id < w.next {
		return fmt.Errorf("signature store %s: id %d out of order (next %d)", w.path, id, w.next)
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
		return fmt.Errorf("signature store %s: %w", w.path, err)
	}
	w.buf = w.buf[:0]
	return nil
}

func (w *sigStoreWriter) close(total int64) error {
	for ; w.next < w.base+total; w.next++ {
		w.buf = append(w.buf, make([]byte, w.recLen)...)
	}
	err := w.flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.path)
	}
	if err != nil {
		os.Remove(w.f.Name())
	}
	return err
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

// abort drops the store being written.
func (w *sigStoreWriter) abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// sigStores reads signatures from a set of stores.
type sigStores struct {
	refs   []SigStoreRef
	files  []*os.File
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

func openSigStores(refs []SigStoreRef, recLen int) (*sigStores, error) {
	s := &sigStores{refs: byBase(refs), recLen: recLen}
	for _, r := range s.refs {
		f, err := os.Open(r.Path)
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
