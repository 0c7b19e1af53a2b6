package fuzzy

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
)

// A shingle store keeps, for every document id of a MinHash task, the
// hashes of its shingles (in text order, repeats included; sorting is left
// to the few pairs that verification reads), so that verification can compute a
// candidate pair's exact shingle Jaccard (up to 32-bit hash collisions)
// instead of estimating it from the signatures. It is two files: the hashes
// (little-endian uint32) and an index of little-endian uint64 offsets, in
// hashes, where entry i is where document base+i starts and the last entry is
// the end. Like the signature store it is read with positioned reads, so the
// join needs memory for two documents' hashes only.

type shingleWriter struct {
	indexedOut // offsets in hashes
	base, next int64
	buf        []byte
}

func createShingleStore(dataPath, idxPath string, base int64) (*shingleWriter, error) {
	out, err := createIndexed("shingle store", dataPath, idxPath, 1<<20)
	if err != nil {
		return nil, err
	}
	return &shingleWriter{indexedOut: out, base: base, next: base}, nil
}

// write stores the shingle hashes of document id.
func (w *shingleWriter) write(id int64, hashes []uint32) error {
	if id < w.next {
		return fmt.Errorf("shingle store %s: id %d out of order (next %d)", w.data.Name(), id, w.next)
	}
	for ; w.next <= id; w.next++ {
		if err := w.entry(); err != nil {
			return err
		}
	}
	w.buf = w.buf[:0]
	for _, h := range hashes {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, h)
	}
	if _, err := w.bd.Write(w.buf); err != nil {
		return fmt.Errorf("shingle store %s: %w", w.data.Name(), err)
	}
	w.off += uint64(len(hashes))
	return nil
}

func (w *shingleWriter) close(total int64) error {
	var err error
	for ; w.next <= w.base+total && err == nil; w.next++ {
		err = w.entry() // gaps, then the end offset
	}
	return w.commit(err)
}

// shingleStores reads the shingle hashes of any document.
type shingleStores struct {
	indexedIn
	raw     []byte
	scratch []uint32 // radixSort32's buffer
	// sets caches the sorted distinct hashes of recently compared documents:
	// a bucket compares each id with several earlier ones.
	sets   map[int64][]uint32
	cached int // hashes held in sets
}

// shingleCacheHashes bounds the hashes the cache of sorted sets holds
// (4 bytes each: 16 MiB per LSH actor); when a set would not fit, the cache
// is emptied.
const shingleCacheHashes = 4 << 20

// openShingleStores opens the stores for positioned reads; stores on an
// object store are first copied to the local directory scratch.
func openShingleStores(ctx context.Context, refs []SigStoreRef, scratch string) (*shingleStores, error) {
	in, err := openIndexed(ctx, "shingle store", refs, func(r SigStoreRef) (string, string) { return r.Shingles, r.ShingleIndex }, scratch)
	if err != nil {
		return nil, err
	}
	return &shingleStores{indexedIn: in}, nil
}

func (s *shingleStores) read(id int64, dst []uint32) ([]uint32, error) {
	i, from, to, ok, err := s.span(id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("shingle store: no document %d", id)
	}
	n := int(to - from)
	if cap(s.raw) < 4*n {
		s.raw = make([]byte, 4*n)
	}
	raw := s.raw[:4*n]
	if err := s.readAt(i, raw, int64(from)*4, id); err != nil {
		return nil, err
	}
	dst = dst[:0]
	for j := 0; j < n; j++ {
		dst = append(dst, binary.LittleEndian.Uint32(raw[4*j:]))
	}
	return dst, nil
}

// set returns the sorted distinct shingle hashes of id.
func (s *shingleStores) set(id int64) ([]uint32, error) {
	if v, ok := s.sets[id]; ok {
		return v, nil
	}
	v, err := s.read(id, nil)
	if err != nil {
		return nil, err
	}
	s.scratch = radixSort32(v, s.scratch)
	v = slices.Clip(slices.Compact(v))
	if s.sets == nil || s.cached+len(v) > shingleCacheHashes {
		s.sets, s.cached = make(map[int64][]uint32), 0
	}
	s.sets[id] = v
	s.cached += len(v)
	return v, nil
}

// radixSort32 sorts a in place (least significant byte first, four
// counting passes) using tmp as scratch, grown as needed and returned for
// reuse. Verification sorts the shingle hashes of every document it reads,
// several thousand values each; on the benchmark corpus this took 0.71 s
// of CPU where slices.Sort took 2.04 s.
func radixSort32(a, tmp []uint32) []uint32 {
	if len(a) < 128 {
		slices.Sort(a)
		return tmp
	}
	if cap(tmp) < len(a) {
		tmp = make([]uint32, len(a))
	}
	src, dst := a, tmp[:len(a)]
	for shift := uint(0); shift < 32; shift += 8 {
		var count [256]int
		for _, v := range src {
			count[byte(v>>shift)]++
		}
		if count[byte(src[0]>>shift)] == len(src) {
			continue // every value has this byte: the pass would not move anything
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, v := range src {
			b := byte(v >> shift)
			dst[count[b]] = v
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &a[0] {
		copy(a, src)
	}
	return tmp
}

// jaccard is the exact Jaccard of two documents' shingle-hash sets.
func (s *shingleStores) jaccard(a, b int64) (float64, error) {
	sa, err := s.set(a)
	if err != nil {
		return 0, err
	}
	sb, err := s.set(b)
	if err != nil {
		return 0, err
	}
	return sortedJaccard(sa, sb), nil
}

// sortedJaccard is |a ∩ b| / |a ∪ b| for sorted distinct a and b.
func sortedJaccard(a, b []uint32) float64 {
	if len(a)+len(b) == 0 {
		return 0
	}
	inter, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			inter++
			i++
			j++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}
