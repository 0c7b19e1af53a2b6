package shuffle

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// HubOptions configures a LocalHub.
type HubOptions struct {
	// Async makes the hub's transports behave as network transports do: Send
	// copies the batch's bytes (Batch.Bytes, then Batch.SetBytes on the
	// receiving side, which validates them) and returns; a goroutine stores
	// the copy in the receiver and acknowledges it; Flush waits for the
	// acknowledgements. Without Async, Send stores the batch in the receiver
	// before it returns (no copy).
	Async bool
	// MaxBatchBytes is the transports' limit on one batch (0 = none): what a
	// network transport's message size allows.
	MaxBatchBytes int
	// Window bounds the batches one transport has in flight in Async mode
	// (default 8): Send waits for room.
	Window int
}

// LocalHub connects the ranks of shuffles whose actors run in one process.
// Each rank joins a shuffle with its own Receiver (its engine, built where
// the rank lives) and gets a Transport that delivers to the other ranks'
// receivers. The zero value is not usable: call NewLocalHub.
type LocalHub struct {
	opts     HubOptions
	mu       sync.Mutex
	sessions map[string]*hubSession
}

type hubSession struct {
	size      int
	receivers []Receiver // nil: not joined yet, or left
	joined    []bool
	left      int
}

// NewLocalHub returns a hub with no shuffles.
func NewLocalHub(opts HubOptions) *LocalHub {
	if opts.Window <= 0 {
		opts.Window = 8
	}
	return &LocalHub{opts: opts, sessions: make(map[string]*hubSession)}
}

// Join registers r as the receiver of rank in the shuffle id of size ranks
// and returns the rank's transport. From then on, batches sent to rank are
// stored in r. A rank joins once; the hub forgets a shuffle when all of its
// ranks have closed their transports.
func (h *LocalHub) Join(id string, rank, size int, r Receiver) (*HubTransport, error) {
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("shuffle %s: rank %d outside [0, %d)", id, rank, size)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[id]
	if s == nil {
		s = &hubSession{size: size, receivers: make([]Receiver, size), joined: make([]bool, size)}
		h.sessions[id] = s
	}
	if s.size != size {
		return nil, fmt.Errorf("shuffle %s: size %d, but the shuffle has %d ranks", id, size, s.size)
	}
	if s.joined[rank] {
		return nil, fmt.Errorf("shuffle %s: rank %d joined twice", id, rank)
	}
	s.joined[rank] = true
	s.receivers[rank] = r
	t := &HubTransport{h: h, id: id, rank: rank, sem: make(chan struct{}, h.opts.Window)}
	return t, nil
}

// receiver returns the receiver of rank in shuffle id.
func (h *LocalHub) receiver(id string, rank int) (Receiver, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[id]
	if s == nil {
		return nil, fmt.Errorf("shuffle %s: unknown shuffle: %w", id, ErrPeerClosed)
	}
	if rank < 0 || rank >= s.size {
		return nil, fmt.Errorf("shuffle %s: rank %d out of range [0, %d)", id, rank, s.size)
	}
	if r := s.receivers[rank]; r != nil {
		return r, nil
	}
	if s.joined[rank] {
		return nil, fmt.Errorf("shuffle %s: rank %d: %w", id, rank, ErrPeerClosed)
	}
	return nil, fmt.Errorf("shuffle %s: rank %d has not joined", id, rank)
}

func (h *LocalHub) leave(id string, rank int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[id]
	if s == nil || s.receivers[rank] == nil {
		return
	}
	s.receivers[rank] = nil
	s.left++
	if s.left == s.size {
		delete(h.sessions, id)
	}
}

// numSessions reports how many shuffles the hub tracks (for tests).
func (h *LocalHub) numSessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// HubTransport is one rank's Transport of a LocalHub shuffle. It is safe for
// concurrent use.
type HubTransport struct {
	h    *LocalHub
	id   string
	rank int
	sem  chan struct{} // Async: one slot per batch in flight

	mu     sync.Mutex
	err    error // the first delivery error
	closed bool
}

// Send implements Transport.
func (t *HubTransport) Send(ctx context.Context, toRank int, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := t.firstErr(); err != nil {
		return err
	}
	if limit := t.h.opts.MaxBatchBytes; limit > 0 && b.Size() > limit {
		return fmt.Errorf("shuffle %s: batch of %d bytes exceeds the transport's %d-byte limit", t.id, b.Size(), limit)
	}
	if !t.h.opts.Async {
		r, err := t.h.receiver(t.id, toRank)
		if err == nil {
			err = r.InsertBatch(b)
		}
		if err != nil {
			return fmt.Errorf("shuffle %s: deliver to rank %d: %w", t.id, toRank, err)
		}
		return nil
	}
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	var c Batch
	if err := c.SetBytes(slices.Clone(b.Bytes())); err != nil {
		<-t.sem
		return err
	}
	go func() {
		defer func() { <-t.sem }()
		r, err := t.h.receiver(t.id, toRank)
		if err == nil {
			err = r.InsertBatch(&c)
		}
		if err != nil {
			t.fail(fmt.Errorf("shuffle %s: deliver to rank %d: %w", t.id, toRank, err))
		}
	}()
	return nil
}

func (t *HubTransport) fail(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
}

func (t *HubTransport) firstErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Flush implements Transport: it waits until every batch sent so far has
// been stored by its receiver.
func (t *HubTransport) Flush(ctx context.Context) error {
	n := 0
	defer func() {
		for range n {
			<-t.sem
		}
	}()
	for range cap(t.sem) {
		select {
		case t.sem <- struct{}{}:
			n++
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return t.firstErr()
}

// MaxBatchBytes implements Transport.
func (t *HubTransport) MaxBatchBytes() int { return t.h.opts.MaxBatchBytes }

// Close waits for the batches in flight and leaves the shuffle: later sends
// to this rank fail with ErrPeerClosed. Closing twice is a no-op.
func (t *HubTransport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	for range cap(t.sem) {
		t.sem <- struct{}{}
	}
	for range cap(t.sem) {
		<-t.sem
	}
	t.h.leave(t.id, t.rank)
	return nil
}
