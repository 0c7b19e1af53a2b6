package collective

import (
	"context"
	"fmt"
	"sync"
)

// LocalHub is an in-process rendezvous point: ranks running as goroutines of
// one program Join a named group on the same hub and talk through memory.
// A hub has no global state; the runtime owns it and passes it to the
// workers of a collective stage. The zero value is not usable: call
// [NewLocalHub].
//
// Messages are queued without bound, so Send never blocks; memory held by the
// hub is the sum of messages sent but not yet received.
type LocalHub struct {
	mu     sync.Mutex
	groups map[string]*localGroup
}

// NewLocalHub returns an empty hub.
func NewLocalHub() *LocalHub {
	return &LocalHub{groups: make(map[string]*localGroup)}
}

// Join returns rank's endpoint of the group groupID of size ranks, creating
// the group on first use. Every rank of a group joins exactly once, with the
// same size. Ranks may join in any order and may Send to ranks that have
// not joined yet (the message waits in the peer's queue).
//
// Join fails if size < 1, rank is outside [0, size), size differs from the
// size the group was created with, or rank has already joined. The hub
// forgets the group once all size ranks have closed their endpoints; the id
// may then be reused for a new group.
func (h *LocalHub) Join(groupID string, rank, size int) (Transport, error) {
	if size < 1 {
		return nil, fmt.Errorf("collective: join group %q: size %d must be positive", groupID, size)
	}
	if rank < 0 || rank >= size {
		return nil, fmt.Errorf("collective: join group %q: rank %d outside [0, %d)", groupID, rank, size)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.groups[groupID]
	if g == nil {
		g = newLocalGroup(h, groupID, size)
		h.groups[groupID] = g
	}
	if g.size != size {
		return nil, fmt.Errorf("collective: join group %q: size %d, but the group has size %d", groupID, size, g.size)
	}
	if g.joined[rank] {
		return nil, fmt.Errorf("collective: join group %q: rank %d already joined", groupID, rank)
	}
	g.joined[rank] = true
	return &localTransport{g: g, rank: rank}, nil
}

// groupCount reports how many groups the hub currently tracks (for tests).
func (h *LocalHub) groupCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.groups)
}

// localGroup is the shared state of one group: an inbox and a "closed"
// signal per rank.
type localGroup struct {
	hub     *LocalHub
	id      string
	size    int
	joined  []bool // guarded by hub.mu
	nclosed int    // guarded by hub.mu
	inboxes []*inbox
	closed  []chan struct{} // closed[r] is closed when rank r closes
}

func newLocalGroup(h *LocalHub, id string, size int) *localGroup {
	g := &localGroup{
		hub:     h,
		id:      id,
		size:    size,
		joined:  make([]bool, size),
		inboxes: make([]*inbox, size),
		closed:  make([]chan struct{}, size),
	}
	for r := range size {
		g.inboxes[r] = &inbox{queues: make(map[msgKey]*msgQueue), waiters: make(map[msgKey]chan struct{})}
		g.closed[r] = make(chan struct{})
	}
	return g
}

// msgKey identifies a FIFO stream inside an inbox.
type msgKey struct {
	from int
	tag  uint64
}

// msgQueue is a FIFO of messages; head indexes the next one.
type msgQueue struct {
	msgs [][]byte
	head int
}

// inbox holds the messages sent to one rank, one FIFO per (from, tag), and
// a wake-up channel per stream that a receiver is waiting on.
type inbox struct {
	mu      sync.Mutex
	dropped bool // the owner closed; puts are refused
	queues  map[msgKey]*msgQueue
	waiters map[msgKey]chan struct{}
}

// put appends msg to stream k and wakes its waiter. It reports false if the
// inbox's owner has closed.
func (in *inbox) put(k msgKey, msg []byte) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dropped {
		return false
	}
	q := in.queues[k]
	if q == nil {
		q = &msgQueue{}
		in.queues[k] = q
	}
	q.msgs = append(q.msgs, msg)
	if w, ok := in.waiters[k]; ok {
		close(w)
		delete(in.waiters, k)
	}
	return true
}

// take pops the next message of stream k. If there is none it returns a
// channel that is closed when one arrives.
func (in *inbox) take(k msgKey) (msg []byte, ok bool, wait <-chan struct{}) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if q := in.queues[k]; q != nil {
		msg = q.msgs[q.head]
		q.msgs[q.head] = nil
		q.head++
		if q.head == len(q.msgs) {
			delete(in.queues, k)
		}
		return msg, true, nil
	}
	if in.dropped {
		return nil, false, nil
	}
	w, found := in.waiters[k]
	if !found {
		w = make(chan struct{})
		in.waiters[k] = w
	}
	return nil, false, w
}

// forget removes the waiter channel of stream k if it is still w, so an
// abandoned Recv does not leave garbage behind.
func (in *inbox) forget(k msgKey, w <-chan struct{}) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if cur, ok := in.waiters[k]; ok && (<-chan struct{})(cur) == w {
		delete(in.waiters, k)
	}
}

// drop discards all queued messages and refuses further puts.
func (in *inbox) drop() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.dropped = true
	clear(in.queues)
	clear(in.waiters)
}

// localTransport is one rank's endpoint of a localGroup.
type localTransport struct {
	g         *localGroup
	rank      int
	closeOnce sync.Once
}

func (t *localTransport) Rank() int { return t.rank }
func (t *localTransport) Size() int { return t.g.size }

func (t *localTransport) isClosed(r int) bool {
	select {
	case <-t.g.closed[r]:
		return true
	default:
		return false
	}
}

// Send queues msg in the inbox of rank to. It never blocks.
func (t *localTransport) Send(ctx context.Context, to int, tag uint64, msg []byte) error {
	if to < 0 || to >= t.g.size {
		return fmt.Errorf("collective: send from rank %d: destination rank %d outside [0, %d)", t.rank, to, t.g.size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("collective: send from rank %d to rank %d: %w", t.rank, to, err)
	}
	if t.isClosed(t.rank) {
		return fmt.Errorf("collective: send from rank %d to rank %d: %w", t.rank, to, ErrClosed)
	}
	if !t.g.inboxes[to].put(msgKey{from: t.rank, tag: tag}, msg) {
		return fmt.Errorf("collective: send from rank %d to rank %d: %w", t.rank, to, ErrPeerClosed)
	}
	return nil
}

// Recv waits for the next message from rank from under tag.
func (t *localTransport) Recv(ctx context.Context, from int, tag uint64) ([]byte, error) {
	if from < 0 || from >= t.g.size {
		return nil, fmt.Errorf("collective: recv at rank %d: source rank %d outside [0, %d)", t.rank, from, t.g.size)
	}
	in := t.g.inboxes[t.rank]
	k := msgKey{from: from, tag: tag}
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("collective: recv at rank %d from rank %d: %w", t.rank, from, err)
		}
		msg, ok, wait := in.take(k)
		if ok {
			return msg, nil
		}
		if wait == nil { // inbox dropped: we are closed
			return nil, fmt.Errorf("collective: recv at rank %d from rank %d: %w", t.rank, from, ErrClosed)
		}
		select {
		case <-wait:
		case <-ctx.Done():
			in.forget(k, wait)
			return nil, fmt.Errorf("collective: recv at rank %d from rank %d: %w", t.rank, from, ctx.Err())
		case <-t.g.closed[t.rank]:
			return nil, fmt.Errorf("collective: recv at rank %d from rank %d: %w", t.rank, from, ErrClosed)
		case <-t.g.closed[from]:
			// The peer will send nothing more; a message may have raced in
			// just before it closed.
			if msg, ok, _ := in.take(k); ok {
				return msg, nil
			}
			in.forget(k, wait)
			if t.isClosed(t.rank) {
				return nil, fmt.Errorf("collective: recv at rank %d from rank %d: %w", t.rank, from, ErrClosed)
			}
			if err := ctx.Err(); err != nil {
				// Cancelled too (the peer closed because the same run was
				// cancelled): the cancellation is the cause to report.
				return nil, fmt.Errorf("collective: recv at rank %d from rank %d: %w", t.rank, from, err)
			}
			return nil, fmt.Errorf("collective: recv at rank %d from rank %d: %w", t.rank, from, ErrPeerClosed)
		}
	}
}

// Close closes the endpoint: pending and later Recv calls fail with
// ErrClosed, queued messages are dropped, and peers waiting on this rank
// fail with ErrPeerClosed once its queued messages to them are consumed.
// Close is idempotent and always returns nil.
func (t *localTransport) Close() error {
	t.closeOnce.Do(func() {
		g := t.g
		g.inboxes[t.rank].drop()
		close(g.closed[t.rank])
		h := g.hub
		h.mu.Lock()
		defer h.mu.Unlock()
		g.nclosed++
		if g.nclosed == g.size && h.groups[g.id] == g {
			delete(h.groups, g.id)
		}
	})
	return nil
}
