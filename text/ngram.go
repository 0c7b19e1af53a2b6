package text

import "slices"

// ngramTable counts the n-grams of a sequence of word ids by open
// addressing. Each slot remembers the first position of its n-gram, so
// equality is checked on the ids themselves (no false matches from hash
// collisions). It is reused across documents.
type ngramTable struct {
	slots []ngramSlot
	mask  int
	ids   []uint32
	n     int
	pre   []uint64 // rolling prefix hashes of ids
	pow   uint64   // hashBase^n
}

// hashBase is the base of the polynomial rolling hash over word ids.
const hashBase = 0x100000001b3

type ngramSlot struct {
	hash  uint64
	pos   int32 // first position + 1; 0 marks an empty slot
	count int32
}

// reset prepares the table for the n-grams of ids, whose rolling prefix
// hashes are pre (see Doc.prefixHashes).
func (t *ngramTable) reset(ids []uint32, pre []uint64, n int) {
	size := 16
	for size < 2*len(ids) {
		size <<= 1
	}
	if cap(t.slots) < size {
		t.slots = make([]ngramSlot, size)
	} else {
		t.slots = t.slots[:size]
		clear(t.slots)
	}
	t.mask = size - 1
	t.ids, t.pre, t.n = ids, pre, n
	t.pow = 1
	for range n {
		t.pow *= hashBase
	}
}

// hash returns the hash of the n-gram starting at pos, in constant time
// from the prefix hashes.
func (t *ngramTable) hash(pos int) uint64 {
	h := t.pre[pos+t.n] - t.pre[pos]*t.pow
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>29
}

// slot returns the slot of the n-gram starting at pos, claiming an empty
// one (count 0) if the n-gram has not been seen.
func (t *ngramTable) slot(pos int) *ngramSlot {
	h := t.hash(pos)
	gram := t.ids[pos : pos+t.n]
	for i := int(h) & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.pos == 0 {
			s.hash, s.pos = h, int32(pos+1)
			return s
		}
		if s.hash == h && slices.Equal(t.ids[s.pos-1:int(s.pos)-1+t.n], gram) {
			return s
		}
	}
}

// topNGram returns the position of the first occurrence of the most
// frequent n-gram of ids (the earliest such n-gram on ties) and its count.
// ids must hold at least n ids.
func (d *Doc) topNGram(n int) (pos, count int) {
	if d.knownUnique(n) {
		return 0, 1
	}
	ids, pre := d.wordIDs(), d.prefixHashes()
	t := &d.table
	t.reset(ids, pre, n)
	best, bestCount := 0, 0
	for p := 0; p+n <= len(ids); p++ {
		s := t.slot(p)
		s.count++
		c := int(s.count)
		first := int(s.pos) - 1
		if c > bestCount || c == bestCount && first < best {
			best, bestCount = first, c
		}
	}
	if bestCount == 1 {
		d.markUnique(n)
	}
	return best, bestCount
}
