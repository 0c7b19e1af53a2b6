package shuffle

import "bytes"

// A rowSource yields rows in (key, value) order. After next reports true,
// current returns the row; its slices stay valid until the following next.
type rowSource interface {
	next() (bool, error)
	current() (key, value []byte)
}

// memCursor iterates sorted in-memory entries, touching rows touchAhead
// entries before it decodes them.
type memCursor struct {
	m          *memBuffer
	es         []entry
	touched    int // es[:touched] have been touched
	key, value []byte
	sink       byte
}

func (c *memCursor) next() (bool, error) {
	if len(c.es) == 0 {
		return false, nil
	}
	if c.touched == 0 {
		c.touched = min(len(c.es), touchAhead)
		c.sink ^= c.m.touch(c.es[:c.touched])
	}
	c.key, c.value = c.m.row(c.es[0])
	c.es = c.es[1:]
	c.touched--
	return true, nil
}

func (c *memCursor) current() (key, value []byte) { return c.key, c.value }

type mergeItem struct {
	key, value []byte
	src        rowSource
}

func itemLess(a, b *mergeItem) bool {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c < 0
	}
	return bytes.Compare(a.value, b.value) < 0
}

// merger is a k-way merge of sorted sources over a binary min-heap. Rows
// are never copied: each source keeps its current row in its own buffer.
type merger struct {
	items []mergeItem
}

// init primes every source and builds the heap.
func (m *merger) init(srcs []rowSource) error {
	m.items = m.items[:0]
	for _, s := range srcs {
		ok, err := s.next()
		if err != nil {
			return err
		}
		if ok {
			k, v := s.current()
			m.items = append(m.items, mergeItem{key: k, value: v, src: s})
		}
	}
	for i := len(m.items)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	return nil
}

// each calls fn for every row of every source in merged order and returns
// the first error from fn or from a source.
func (m *merger) each(fn func(key, value []byte) error) error {
	for len(m.items) > 0 {
		top := &m.items[0]
		if err := fn(top.key, top.value); err != nil {
			return err
		}
		ok, err := top.src.next()
		if err != nil {
			return err
		}
		if ok {
			top.key, top.value = top.src.current()
		} else {
			last := len(m.items) - 1
			m.items[0] = m.items[last]
			m.items[last] = mergeItem{}
			m.items = m.items[:last]
		}
		if len(m.items) > 1 {
			m.down(0)
		}
	}
	return nil
}

func (m *merger) down(i int) {
	h := m.items
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && itemLess(&h[r], &h[l]) {
			j = r
		}
		if !itemLess(&h[j], &h[i]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}
