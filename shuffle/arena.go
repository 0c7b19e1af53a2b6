package shuffle

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// An entry is the 16-byte in-memory reference to one buffered row. Sorting
// moves entries, never row bytes.
type entry struct {
	// prefix holds the first 8 bytes of the key, big-endian and zero
	// padded, so that most comparisons never touch the arena.
	prefix uint64
	// ref packs the row's local partition index (high 24 bits) and its
	// arena address (low 40 bits).
	ref uint64
}

const (
	entrySize          = 16
	addrBits           = 40
	addrMask           = 1<<addrBits - 1
	maxLocalPartitions = 1 << (64 - addrBits)

	minChunkShift = 10 // 1 KiB
	maxChunkShift = 20 // 1 MiB
)

func (e entry) local() int { return int(e.ref >> addrBits) }

// keyPrefix returns the first 8 bytes of key as a big-endian integer, zero
// padded. Comparing prefixes agrees with bytes.Compare whenever the
// prefixes differ.
func keyPrefix(key []byte) uint64 {
	if len(key) >= 8 {
		return binary.BigEndian.Uint64(key)
	}
	var p uint64
	for i, c := range key {
		p |= uint64(c) << (56 - 8*uint(i))
	}
	return p
}

// rowLen is the size of a row encoded as
// uvarint(len(key)) uvarint(len(value)) key value.
func rowLen(key, value []byte) int {
	return uvarintLen(len(key)) + uvarintLen(len(value)) + len(key) + len(value)
}

func uvarintLen(x int) int {
	// 1 byte per started group of 7 bits; 0 still takes one byte.
	return (bits.Len64(uint64(x)|1) + 6) / 7
}

// putRow encodes a row into dst, which must have room for it.
func putRow(dst []byte, key, value []byte) {
	n := binary.PutUvarint(dst, uint64(len(key)))
	n += binary.PutUvarint(dst[n:], uint64(len(value)))
	n += copy(dst[n:], key)
	copy(dst[n:], value)
}

// decodeRow decodes the row at the start of b. b must hold a valid row
// written by putRow.
func decodeRow(b []byte) (key, value []byte) {
	var kl, vl, n int
	if b[0] < 0x80 {
		kl, n = int(b[0]), 1
	} else {
		k, m := binary.Uvarint(b)
		kl, n = int(k), m
	}
	if b[n] < 0x80 {
		vl = int(b[n])
		n++
	} else {
		v, m := binary.Uvarint(b[n:])
		vl, n = int(v), n+m
	}
	return b[n : n+kl], b[n+kl : n+kl+vl]
}

// memBuffer buffers rows of any shape (rowBuffer uses it once key or value
// lengths vary): row bytes appended to fixed-size arena chunks, plus one
// entry per row. It allocates nothing per row. Its footprint, held, counts
// the capacity of every chunk it holds (in use or kept for reuse) and of
// the entry slice; when budget > 0, add refuses to grow held past budget
// and the engine spills instead.
type memBuffer struct {
	chunkShift uint
	chunkSize  int
	chunks     [][]byte // chunks in use, in address order; the last is being filled
	fill       int      // bytes used in the last chunk
	free       [][]byte // standard-size chunks kept for reuse
	entries    []entry
	held       int64
	budget     int64 // 0 = unlimited
	sink       byte  // keeps touch's loads alive; written only under the engine's write lock
}

// newMemBuffer sizes chunks to about budget/16 (1 KiB to 1 MiB) so that the
// last, partly filled chunk wastes little of a small budget.
func newMemBuffer(budget int64) *memBuffer {
	shift := uint(maxChunkShift)
	if budget > 0 {
		for shift > minChunkShift && int64(1)<<shift > budget/16 {
			shift--
		}
	}
	return &memBuffer{chunkShift: shift, chunkSize: 1 << shift, budget: budget}
}

// len reports the number of buffered rows.
func (m *memBuffer) len() int { return len(m.entries) }

// fits reports whether growing held by n stays within the budget.
func (m *memBuffer) fits(n int64) bool { return m.budget <= 0 || m.held+n <= m.budget }

// add buffers one row for local partition lp. It returns false, changing
// nothing visible, if the row does not fit in the budget; with force it
// always succeeds (used when the buffer is empty, so that a row larger than
// the whole budget still makes progress). It returns errArenaFull if the
// 40-bit arena address space is exhausted.
func (m *memBuffer) add(lp int, key, value []byte, force bool) (bool, error) {
	if len(m.entries) == cap(m.entries) && !m.growEntries(force) {
		return false, nil
	}
	n := rowLen(key, value)
	if len(m.chunks) == 0 || m.fill+n > len(m.chunks[len(m.chunks)-1]) {
		ok, err := m.newChunk(n, force)
		if !ok || err != nil {
			return false, err
		}
	}
	ci := len(m.chunks) - 1
	addr := uint64(ci)<<m.chunkShift | uint64(m.fill)
	putRow(m.chunks[ci][m.fill:], key, value)
	m.fill += n
	m.entries = append(m.entries, entry{prefix: keyPrefix(key), ref: uint64(lp)<<addrBits | addr})
	return true, nil
}

// growEntries enlarges the entry slice, counting both the old and the new
// array against the budget because both are live during the copy.
func (m *memBuffer) growEntries(force bool) bool {
	old := cap(m.entries)
	newCap := max(2*old, 1024)
	if m.budget > 0 && len(m.entries) > 0 {
		// Jump straight to the capacity that balances entries and arena
		// for the rows seen so far, instead of doubling: it wastes less of
		// the budget and avoids copies.
		avg := m.arenaUsed() / int64(len(m.entries))
		newCap = max(newCap, int(m.budget/(entrySize+avg)))
	}
	if m.budget > 0 {
		reserve := int64(0)
		if len(m.chunks) == 0 && len(m.free) == 0 {
			reserve = int64(m.chunkSize) // leave room for the first chunk
		}
		avail := (m.budget - m.held - reserve) / entrySize
		if int64(newCap) > avail {
			newCap = int(avail)
		}
		if newCap < old+old/8+64 { // not worth a copy: spill instead
			if !force {
				return false
			}
			newCap = old + 1
		}
	}
	grown := make([]entry, len(m.entries), newCap)
	copy(grown, m.entries)
	m.entries = grown
	m.held += int64(newCap-old) * entrySize
	return true
}

// arenaUsed reports the arena bytes occupied by rows (or lost at chunk
// ends).
func (m *memBuffer) arenaUsed() int64 {
	var n int64
	for _, c := range m.chunks[:max(len(m.chunks)-1, 0)] {
		n += int64(len(c))
	}
	return n + int64(m.fill)
}

// touchAhead is how many rows ahead of use the arena is touched so that
// their cache misses overlap (see touch).
const touchAhead = 32

// touch loads the first byte of each row of es and returns a value that
// depends on them. Rows reached through sorted entries lie at random arena
// addresses, so each is a cache and TLB miss; issuing the loads for a
// group of rows in a tight loop lets the CPU overlap those misses instead
// of paying them one at a time while decoding and copying.
func (m *memBuffer) touch(es []entry) byte {
	var x byte
	mask := uint64(1)<<m.chunkShift - 1
	for _, e := range es {
		addr := e.ref & addrMask
		x ^= m.chunks[addr>>m.chunkShift][addr&mask]
	}
	return x
}

// newChunk starts a new chunk able to hold a row of n bytes.
func (m *memBuffer) newChunk(n int, force bool) (bool, error) {
	if uint64(len(m.chunks)+1)<<m.chunkShift > addrMask {
		return false, errArenaFull
	}
	var c []byte
	switch {
	case n > m.chunkSize: // oversized row: a chunk of its own, not reused
		if !force && !m.fits(int64(n)) {
			return false, nil
		}
		c = make([]byte, n)
		m.held += int64(n)
	case len(m.free) > 0:
		c = m.free[len(m.free)-1]
		m.free[len(m.free)-1] = nil
		m.free = m.free[:len(m.free)-1]
	default:
		if !force && !m.fits(int64(m.chunkSize)) {
			return false, nil
		}
		c = make([]byte, m.chunkSize)
		m.held += int64(m.chunkSize)
	}
	m.chunks = append(m.chunks, c)
	m.fill = 0
	return true, nil
}

// reset forgets all rows, keeping standard chunks and the entry slice for
// reuse and dropping oversized chunks.
func (m *memBuffer) reset() {
	for i, c := range m.chunks {
		if len(c) == m.chunkSize {
			m.free = append(m.free, c)
		} else {
			m.held -= int64(len(c))
		}
		m.chunks[i] = nil
	}
	m.chunks = m.chunks[:0]
	m.fill = 0
	m.entries = m.entries[:0]
}

// trim drops the chunks kept for reuse.
func (m *memBuffer) trim() {
	m.held -= int64(len(m.free)) * int64(m.chunkSize)
	m.free = nil
}

// release drops every buffer so the memory can serve other uses.
func (m *memBuffer) release() {
	m.chunks, m.free, m.entries = nil, nil, nil
	m.fill, m.held = 0, 0
}

// row returns the key and value of e. The slices alias the arena.
func (m *memBuffer) row(e entry) (key, value []byte) {
	addr := e.ref & addrMask
	c := m.chunks[addr>>m.chunkShift]
	return decodeRow(c[addr&(1<<m.chunkShift-1):])
}

// compare orders entries by (local partition, key, value).
func (m *memBuffer) compare(a, b entry) int {
	if a.ref>>addrBits != b.ref>>addrBits {
		if a.ref>>addrBits < b.ref>>addrBits {
			return -1
		}
		return 1
	}
	if a.prefix != b.prefix {
		if a.prefix < b.prefix {
			return -1
		}
		return 1
	}
	ka, va := m.row(a)
	kb, vb := m.row(b)
	if c := bytes.Compare(ka, kb); c != 0 {
		return c
	}
	return bytes.Compare(va, vb)
}
