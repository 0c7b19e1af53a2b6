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
}

type ngramSlot struct {
	hash  uint64
	pos   int32 // first position + 1; 0 marks an empty slot
	count int32
}

// reset prepares the table for the n-grams of ids.
func (t *ngramTable) reset(ids []uint32, n int) {
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
	t.ids, t.n = ids, n
}

// hash returns the hash of the n-gram starting at pos.
func (t *ngramTable) hash(pos int) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, id := range t.ids[pos : pos+t.n] {
		h ^= uint64(id) + 0x9e3779b97f4a7c15 + h<<6 + h>>2
		h *= 0xbf58476d1ce4e5b9
	}
	return h ^ h>>31
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
	ids := d.wordIDs()
	t := &d.table
	t.reset(ids, n)
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
	return best, bestCount
}
