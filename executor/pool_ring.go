package executor

// poolRing is a growable double-ended queue backed by a power-of-two ring
// buffer. The Pool uses it for its idle actors (FIFO), its queue of calls
// waiting for an actor, and its submission-ordered index of outstanding
// calls. It is not safe for concurrent use; the Pool guards it with its mutex.
//
// Compared with a slice used as a queue (append + s = s[1:]), the ring reuses
// its storage, so a pool in steady state allocates nothing to queue work.
type poolRing[T any] struct {
	buf  []T // len(buf) is zero or a power of two
	head int // index of the first element in buf
	n    int // number of elements
}

// len reports the number of elements in the ring.
func (r *poolRing[T]) len() int { return r.n }

// at returns the i-th element from the front; i must be in [0, len).
func (r *poolRing[T]) at(i int) T { return r.buf[(r.head+i)&(len(r.buf)-1)] }

// set replaces the i-th element from the front; i must be in [0, len).
func (r *poolRing[T]) set(i int, v T) { r.buf[(r.head+i)&(len(r.buf)-1)] = v }

// pushBack appends v at the back.
func (r *poolRing[T]) pushBack(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = v
	r.n++
}

// pushFront inserts v at the front.
func (r *poolRing[T]) pushFront(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.head = (r.head - 1) & (len(r.buf) - 1)
	r.buf[r.head] = v
	r.n++
}

// popFront removes and returns the front element; the ring must not be empty.
func (r *poolRing[T]) popFront() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero // drop the reference for the garbage collector
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return v
}

// popBack removes and returns the back element; the ring must not be empty.
func (r *poolRing[T]) popBack() T {
	var zero T
	i := (r.head + r.n - 1) & (len(r.buf) - 1)
	v := r.buf[i]
	r.buf[i] = zero
	r.n--
	return v
}

// clear removes every element, keeping the storage for reuse.
func (r *poolRing[T]) clear() {
	var zero T
	for i := 0; i < r.n; i++ {
		r.buf[(r.head+i)&(len(r.buf)-1)] = zero
	}
	r.head, r.n = 0, 0
}

// grow doubles the capacity (minimum 8), unwrapping the contents to the start.
func (r *poolRing[T]) grow() {
	size := 2 * len(r.buf)
	if size == 0 {
		size = 8
	}
	buf := make([]T, size)
	for i := 0; i < r.n; i++ {
		buf[i] = r.at(i)
	}
	r.buf, r.head = buf, 0
}
