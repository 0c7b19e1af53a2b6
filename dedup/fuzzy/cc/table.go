package cc

import "slices"

// idTable maps int64 node ids to dense int32 values with open addressing and
// linear probing. It is much lighter than a Go map for the millions of
// small entries connected components needs: one 16-byte slot per entry at a
// load of at most 1/2, a lookup usually touches one cache line, and reset is
// O(1) (slots carry the generation they were written in).
type idTable struct {
	slots []idSlot
	shift uint   // 64 - log2(len(slots))
	gen   uint32 // slots of other generations are empty
	n     int
}

type idSlot struct {
	key int64
	val int32
	gen uint32
}

// newIDTable returns a table sized for about hint entries without growing.
func newIDTable(hint int) *idTable {
	t := &idTable{}
	t.alloc(hint)
	return t
}

func (t *idTable) alloc(hint int) {
	size, bits := 16, uint(4)
	for size < 2*hint {
		size <<= 1
		bits++
	}
	t.slots = make([]idSlot, size)
	t.shift = 64 - bits
	t.gen = 1
	t.n = 0
}

// home is the first slot probed for k: Fibonacci hashing, which spreads
// sequential ids and ids sharing low bits alike, and is unrelated to the
// hash that chooses a node's owner rank.
func (t *idTable) home(k int64) uint64 {
	return (uint64(k) * 0x9E3779B97F4A7C15) >> t.shift
}

// get returns the value stored for k.
func (t *idTable) get(k int64) (int32, bool) {
	mask := uint64(len(t.slots) - 1)
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.gen != t.gen {
			return 0, false
		}
		if s.key == k {
			return s.val, true
		}
	}
}

// getOrPut returns the value stored for k, or stores v and returns it with
// found == false.
func (t *idTable) getOrPut(k int64, v int32) (got int32, found bool) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.gen != t.gen {
			*s = idSlot{key: k, val: v, gen: t.gen}
			t.n++
			return v, false
		}
		if s.key == k {
			return s.val, true
		}
	}
}

func (t *idTable) grow() {
	old, gen := t.slots, t.gen
	t.alloc(len(old))
	for _, s := range old {
		if s.gen == gen {
			t.getOrPut(s.key, s.val)
		}
	}
}

// reset empties the table in O(1) and makes room for about hint entries.
func (t *idTable) reset(hint int) {
	if len(t.slots) < 2*hint {
		t.alloc(hint)
		return
	}
	t.gen++
	if t.gen == 0 { // wrapped around: old generations would look current
		clear(t.slots)
		t.gen = 1
	}
	t.n = 0
}

// len is the number of entries.
func (t *idTable) len() int { return t.n }

// seek finds x in the sorted slice s, searching forward from index lo, and
// reports whether it is there; otherwise the index is where x would go.
// Looking up an ascending sequence of ids with the previous result as lo is
// a merge join: sequential memory access, O(log gap) per id.
func seek(s []int64, lo int, x int64) (int, bool) {
	n := len(s)
	if lo >= n || s[lo] >= x {
		return lo, lo < n && s[lo] == x
	}
	// Gallop: s[lo] < x; double the step until s[hi] >= x or the end.
	step, hi := 1, lo+1
	for hi < n && s[hi] < x {
		lo = hi
		step <<= 1
		hi = lo + step
	}
	hi = min(hi, n)
	i, found := slices.BinarySearch(s[lo+1:hi], x)
	i += lo + 1
	if !found && i < n && s[i] == x {
		found = true
	}
	return i, found
}
