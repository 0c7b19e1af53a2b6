package cc

// idTable maps int64 node ids to dense int32 values with open addressing and
// linear probing. It is much lighter than a Go map for the millions of
// small entries connected components needs (12 bytes a slot, load <= 1/2).
type idTable struct {
	keys  []int64
	vals  []int32 // value+1; 0 marks an empty slot
	shift uint    // 64 - log2(len(keys))
	n     int
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
	t.keys = make([]int64, size)
	t.vals = make([]int32, size)
	t.shift = 64 - bits
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
	mask := uint64(len(t.keys) - 1)
	for i := t.home(k); ; i = (i + 1) & mask {
		v := t.vals[i]
		if v == 0 {
			return 0, false
		}
		if t.keys[i] == k {
			return v - 1, true
		}
	}
}

// getOrPut returns the value stored for k, or stores v and returns it with
// found == false.
func (t *idTable) getOrPut(k int64, v int32) (got int32, found bool) {
	if 2*(t.n+1) > len(t.keys) {
		t.grow()
	}
	mask := uint64(len(t.keys) - 1)
	for i := t.home(k); ; i = (i + 1) & mask {
		cur := t.vals[i]
		if cur == 0 {
			t.keys[i] = k
			t.vals[i] = v + 1
			t.n++
			return v, false
		}
		if t.keys[i] == k {
			return cur - 1, true
		}
	}
}

func (t *idTable) grow() {
	keys, vals := t.keys, t.vals
	t.alloc(len(keys))
	for i, v := range vals {
		if v != 0 {
			t.getOrPut(keys[i], v-1)
		}
	}
}

// reset empties the table, keeping its capacity.
func (t *idTable) reset() {
	clear(t.vals)
	t.n = 0
}

// len is the number of entries.
func (t *idTable) len() int { return t.n }
