package shuffle

const (
	modeEmpty = iota // no rows yet: the next row picks the mode
	modeFixed        // rows in rec, all of one shape
	modeVar          // rows in the arena (vr)
)

// rowBuffer is an engine's in-memory rows. It stores them as fixed-width
// records (recBuffer) while every row has the same key and value lengths,
// and otherwise in the arena (memBuffer). Once rows of different shapes
// have been seen, it uses the arena for good.
type rowBuffer struct {
	numLocal, partBytes int
	budget              int64
	mode                int
	mixed               bool // rows of more than one shape seen
	rec                 recBuffer
	vr                  *memBuffer
	starts              []int // after index: rows of local partition i are [starts[i], starts[i+1])
}

func newRowBuffer(numLocal int, budget int64) *rowBuffer {
	pb := 0
	for n := numLocal - 1; n > 0; n >>= 8 {
		pb++
	}
	return &rowBuffer{numLocal: numLocal, partBytes: pb, budget: budget, vr: newMemBuffer(budget)}
}

func (b *rowBuffer) len() int {
	if b.mode == modeFixed {
		return b.rec.n
	}
	return b.vr.len()
}

// held reports the bytes of memory the buffer holds (see memBuffer).
func (b *rowBuffer) held() int64 { return b.rec.held + b.vr.held }

// add buffers a row (see memBuffer.add).
func (b *rowBuffer) add(lp int, key, value []byte, force bool) (bool, error) {
	switch b.mode {
	case modeEmpty:
		if !b.mixed && b.partBytes+len(key)+len(value) <= maxRecordWidth {
			b.rec.setShape(b.partBytes, len(key), len(value), b.budget)
			b.mode = modeFixed
		} else { // too wide for a record: use the arena for good
			b.mixed = true
			b.rec.release()
			b.mode = modeVar
		}
	case modeFixed:
		if !b.rec.fits(len(key), len(value)) {
			b.mixed = true
			if b.budget > 0 {
				// The arena needs more memory than records: spill them
				// (once per engine) rather than convert over budget.
				return false, nil
			}
			if err := b.convert(); err != nil {
				return false, err
			}
		}
	}
	if b.mode == modeFixed {
		return b.rec.add(lp, key, value, force), nil
	}
	return b.vr.add(lp, key, value, force)
}

// convert moves the fixed-width records into the arena.
func (b *rowBuffer) convert() error {
	for i := range b.rec.n {
		r := b.rec.rec(i)
		k, v := b.rec.row(r)
		if _, err := b.vr.add(b.rec.local(r), k, v, true); err != nil {
			return err
		}
	}
	b.rec.release()
	b.mode = modeVar
	return nil
}

// sort orders the rows by (local partition, key, value).
func (b *rowBuffer) sort() {
	if b.mode == modeFixed {
		b.rec.sort()
	} else {
		b.vr.sort(b.numLocal)
	}
}

// each calls fn for every row in buffer order (sorted order after sort).
func (b *rowBuffer) each(fn func(lp int, key, value []byte) error) error {
	if b.mode == modeFixed {
		for i := range b.rec.n {
			r := b.rec.rec(i)
			k, v := b.rec.row(r)
			if err := fn(b.rec.local(r), k, v); err != nil {
				return err
			}
		}
		return nil
	}
	m := b.vr
	for i, en := range m.entries {
		if i%touchAhead == 0 {
			m.sink ^= m.touch(m.entries[i:min(i+touchAhead, len(m.entries))])
		}
		k, v := m.row(en)
		if err := fn(en.local(), k, v); err != nil {
			return err
		}
	}
	return nil
}

// index records where each local partition's rows start; call after sort.
func (b *rowBuffer) index() {
	b.starts = make([]int, b.numLocal+1)
	i, n := 0, b.len()
	for lp := range b.numLocal {
		b.starts[lp] = i
		for i < n && b.localAt(i) == lp {
			i++
		}
	}
	b.starts[b.numLocal] = i
}

func (b *rowBuffer) localAt(i int) int {
	if b.mode == modeFixed {
		return b.rec.local(b.rec.rec(i))
	}
	return b.vr.entries[i].local()
}

// cursor returns a source over local partition lp's rows, or nil if it has
// none. index must have been called.
func (b *rowBuffer) cursor(lp int) rowSource {
	if b.starts == nil || b.starts[lp] == b.starts[lp+1] {
		return nil
	}
	lo, hi := b.starts[lp], b.starts[lp+1]
	if b.mode == modeFixed {
		return &recCursor{r: &b.rec, i: lo, hi: hi}
	}
	return &memCursor{m: b.vr, es: b.vr.entries[lo:hi]}
}

// reset forgets the rows, keeping memory for reuse.
func (b *rowBuffer) reset() {
	b.rec.reset()
	b.vr.reset()
	b.mode = modeEmpty
	b.starts = nil
}

// trim drops memory kept only for reuse.
func (b *rowBuffer) trim() {
	b.rec.trim()
	b.vr.trim()
}

// release drops all rows and memory.
func (b *rowBuffer) release() {
	b.rec.release()
	b.vr.release()
	b.mode = modeEmpty
	b.starts = nil
}

// recCursor iterates records [i, hi) of a sorted recBuffer.
type recCursor struct {
	r          *recBuffer
	i, hi      int
	key, value []byte
}

func (c *recCursor) next() (bool, error) {
	if c.i >= c.hi {
		return false, nil
	}
	c.key, c.value = c.r.row(c.r.rec(c.i))
	c.i++
	return true, nil
}

func (c *recCursor) current() (key, value []byte) { return c.key, c.value }
