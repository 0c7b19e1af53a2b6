package shuffle

import (
	"bytes"
	"encoding/binary"
)

// maxRecordWidth is the widest row stored as a fixed-width record. Wider
// rows use the arena, where sorting moves 16-byte entries instead.
const maxRecordWidth = 128

// recBuffer buffers rows that all share one key length and one value
// length (fuzzy-dedup LSH rows are all 18+8 bytes) as fixed-width records
//
//	local partition (partBytes bytes, big-endian) | key | value
//
// packed into chunks of 2^shift records. Comparing two records bytewise
// is exactly the (partition, key, value) order, so the records themselves
// are radix sorted in place: no per-row index (an LSH row costs 27 bytes
// instead of 44 in the arena) and no random access when the sorted rows
// are written out or extracted.
type recBuffer struct {
	partBytes, klen, vlen int
	width                 int // partBytes + klen + vlen
	shift                 uint
	chunks                [][]byte // chunks in use; chunk c holds records c<<shift ...
	free                  [][]byte // chunks kept for reuse
	n                     int      // records buffered
	held                  int64    // bytes of all chunks held
	budget                int64    // 0 = unlimited
}

// setShape prepares the buffer, which must be empty, for rows of the given
// shape, dropping chunks sized for another shape.
func (r *recBuffer) setShape(partBytes, klen, vlen int, budget int64) {
	w := partBytes + klen + vlen
	if w == r.width && r.shift != 0 {
		return
	}
	r.release()
	r.partBytes, r.klen, r.vlen, r.width, r.budget = partBytes, klen, vlen, w, budget
	target := int64(1 << maxChunkShift)
	if budget > 0 {
		target = min(target, max(budget/16, 1<<minChunkShift))
	}
	r.shift = 1
	for int64(w)<<(r.shift+1) <= target {
		r.shift++
	}
}

// fits reports whether a row of this shape can be added.
func (r *recBuffer) fits(klen, vlen int) bool { return klen == r.klen && vlen == r.vlen }

// add appends a row of the buffer's shape. It returns false if a new chunk
// would exceed the budget, unless force is set.
func (r *recBuffer) add(lp int, key, value []byte, force bool) bool {
	per := 1 << r.shift
	if r.n == len(r.chunks)*per {
		var c []byte
		if k := len(r.free); k > 0 {
			c = r.free[k-1]
			r.free[k-1] = nil
			r.free = r.free[:k-1]
		} else {
			size := int64(r.width) << r.shift
			if !force && r.budget > 0 && r.held+size > r.budget {
				return false
			}
			c = make([]byte, size)
			r.held += size
		}
		r.chunks = append(r.chunks, c)
	}
	rec := r.rec(r.n)
	for i := r.partBytes - 1; i >= 0; i-- {
		rec[i] = byte(lp)
		lp >>= 8
	}
	copy(rec[r.partBytes:], key)
	copy(rec[r.partBytes+r.klen:], value)
	r.n++
	return true
}

// rec returns record i.
func (r *recBuffer) rec(i int) []byte {
	off := (i & (1<<r.shift - 1)) * r.width
	return r.chunks[i>>r.shift][off : off+r.width : off+r.width]
}

// local returns the local partition of record i.
func (r *recBuffer) local(rec []byte) int {
	lp := 0
	for _, b := range rec[:r.partBytes] {
		lp = lp<<8 | int(b)
	}
	return lp
}

// row splits a record into key and value.
func (r *recBuffer) row(rec []byte) (key, value []byte) {
	return rec[r.partBytes : r.partBytes+r.klen], rec[r.partBytes+r.klen:]
}

// reset forgets all records, keeping the chunks for reuse.
func (r *recBuffer) reset() {
	r.free = append(r.free, r.chunks...)
	clear(r.chunks)
	r.chunks = r.chunks[:0]
	r.n = 0
}

// trim drops the chunks kept for reuse.
func (r *recBuffer) trim() {
	r.held -= int64(len(r.free)) * int64(r.width) << r.shift
	r.free = nil
}

// release drops every chunk.
func (r *recBuffer) release() {
	r.chunks, r.free, r.n, r.held, r.shift = nil, nil, 0, 0, 0
}

// sort orders the records bytewise with an in-place most-significant-digit
// radix sort (American flag sort). Large buckets are permuted in place
// with 256 bucket heads advancing sequentially, which keeps the working set
// small; buckets of at most insertionSortMax records finish with insertion
// sort.
func (r *recBuffer) sort() { r.radixSort(0, r.n, 0) }

func (r *recBuffer) at(i, level int) byte {
	return r.chunks[i>>r.shift][(i&(1<<r.shift-1))*r.width+level]
}

func (r *recBuffer) swap(i, j int) { swapBytes(r.rec(i), r.rec(j)) }

// swapBytes exchanges the contents of a and b, which have equal lengths,
// eight bytes at a time: for records of a few dozen bytes this is several
// times faster than three copy calls through a temporary.
func swapBytes(a, b []byte) {
	b = b[:len(a)]
	for len(a) >= 8 {
		x, y := binary.LittleEndian.Uint64(a), binary.LittleEndian.Uint64(b)
		binary.LittleEndian.PutUint64(a, y)
		binary.LittleEndian.PutUint64(b, x)
		a, b = a[8:], b[8:]
	}
	for i := range a {
		a[i], b[i] = b[i], a[i]
	}
}

func (r *recBuffer) radixSort(lo, hi, level int) {
	var count, next, end [256]int
	for {
		if hi-lo <= insertionSortMax {
			r.insertionSort(lo, hi, level)
			return
		}
		if level == r.width { // all records equal
			return
		}
		count = [256]int{}
		r.countDigits(&count, lo, hi, level)
		if count[r.at(lo, level)] == hi-lo {
			level++
			continue
		}
		break
	}
	sum := lo
	for b := range 256 {
		next[b] = sum
		sum += count[b]
		end[b] = sum
	}
	for b := range 256 {
		for i := next[b]; i < end[b]; i = next[b] {
			d := int(r.at(i, level))
			if d != b {
				r.swap(i, next[d])
			}
			next[d]++
		}
	}
	start := lo
	for b := range 256 {
		switch n := count[b]; {
		case n > insertionSortMax:
			r.radixSort(start, start+n, level+1)
		case n > 1: // small bucket: skip the call and its 6 KiB of counters
			r.insertionSort(start, start+n, level+1)
		}
		start += count[b]
	}
}

// countDigits counts byte level of records [lo, hi), a chunk at a time.
func (r *recBuffer) countDigits(count *[256]int, lo, hi, level int) {
	per := 1 << r.shift
	for i := lo; i < hi; {
		c := r.chunks[i>>r.shift]
		first := i & (per - 1)
		last := min(per, first+hi-i)
		for off := first*r.width + level; off < last*r.width; off += r.width {
			count[c[off]]++
		}
		i += last - first
	}
}

func (r *recBuffer) insertionSort(lo, hi, level int) {
	for i := lo + 1; i < hi; i++ {
		for j := i; j > lo && bytes.Compare(r.rec(j)[level:], r.rec(j - 1)[level:]) < 0; j-- {
			r.swap(j, j-1)
		}
	}
}
