package p2p

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// metaBye is the last message of a rank that closes its transport.
const metaBye = "bye"

// closeDrain bounds how long Close waits for its last messages to be
// acknowledged (a peer that is gone fails them sooner).
const closeDrain = 5 * time.Second

// TransportOptions tune a Transport.
type TransportOptions struct {
	// Stream tunes the streams to the peers (window, chunk size). Its Gone
	// is ignored: PeerGone sets it per peer.
	Stream Options
	// PeerGone, when set, returns a channel that is closed when the node
	// hosting rank is lost (membership). Sends to and receives from that
	// rank then fail with collective.ErrPeerClosed.
	PeerGone func(rank int) <-chan struct{}
}

// Transport is one rank's endpoint of a collective group over NATS
// (collective.Transport). Rank r receives on run.P2P(group, r), subscribed
// in Join, so a peer may send before this rank's stage calls Recv. Each
// peer gets an ordered stream, which gives FIFO per (from, tag). Send
// queues and returns (it never waits for the peer); Close first delivers
// what was sent.
type Transport struct {
	nc          *nats.Conn
	run         subject.Run
	group       string
	rank, size  int
	opts        TransportOptions
	recv        *Receiver
	peerDone    []chan struct{} // closed when the peer said bye or was lost
	peerOnce    []sync.Once
	closed      chan struct{}
	closeOnce   sync.Once
	stopWatches chan struct{}
	wg          sync.WaitGroup

	mu      sync.Mutex
	streams []*Stream
	inbox   map[msgKey][][]byte
	waiters map[msgKey]chan struct{}
}

type msgKey struct {
	from int
	tag  uint64
}

var _ collective.Transport = (*Transport)(nil)

// Join subscribes rank's endpoint of group (size ranks) in run.
func Join(nc *nats.Conn, run subject.Run, group string, rank, size int, opts TransportOptions) (*Transport, error) {
	if err := subject.ValidToken(group); err != nil {
		return nil, fmt.Errorf("p2p: join group: %w", err)
	}
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("p2p: join group %s: rank %d outside [0, %d)", group, rank, size)
	}
	t := &Transport{nc: nc, run: run, group: group, rank: rank, size: size, opts: opts,
		peerDone: make([]chan struct{}, size), peerOnce: make([]sync.Once, size),
		closed: make(chan struct{}), stopWatches: make(chan struct{}),
		streams: make([]*Stream, size), inbox: make(map[msgKey][][]byte), waiters: make(map[msgKey]chan struct{})}
	for r := range size {
		t.peerDone[r] = make(chan struct{})
	}
	recv, err := Listen(nc, run.P2P(group, strconv.Itoa(rank)), t.onMessage)
	if err != nil {
		return nil, err
	}
	t.recv = recv
	if opts.PeerGone != nil {
		for r := range size {
			if r != rank {
				t.wg.Add(1)
				go t.watchPeer(r, opts.PeerGone(r))
			}
		}
	}
	return t, nil
}

// Rank is this endpoint's rank.
func (t *Transport) Rank() int { return t.rank }

// Size is the group's size.
func (t *Transport) Size() int { return t.size }

func (t *Transport) watchPeer(r int, gone <-chan struct{}) {
	defer t.wg.Done()
	select {
	case <-gone:
		t.markPeerDone(r)
	case <-t.stopWatches:
	}
}

func (t *Transport) markPeerDone(r int) {
	t.peerOnce[r].Do(func() { close(t.peerDone[r]) })
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// onMessage files a message from a peer (the Receiver's handler).
func (t *Transport) onMessage(m Message) error {
	from, err := strconv.Atoi(m.From)
	if err != nil || from < 0 || from >= t.size {
		return fmt.Errorf("p2p: group %s: message from unknown rank %q", t.group, m.From)
	}
	if m.Meta == metaBye {
		t.markPeerDone(from)
		return nil
	}
	tag, err := strconv.ParseUint(m.Meta, 10, 64)
	if err != nil {
		return fmt.Errorf("p2p: group %s: message with bad tag %q", t.group, m.Meta)
	}
	t.put(msgKey{from, tag}, m.Data)
	return nil
}

func (t *Transport) put(k msgKey, msg []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if isDone(t.closed) {
		return
	}
	t.inbox[k] = append(t.inbox[k], msg)
	if w, ok := t.waiters[k]; ok {
		close(w)
		delete(t.waiters, k)
	}
}

// take pops the next message of k, or returns a channel closed when one arrives.
func (t *Transport) take(k msgKey) ([]byte, bool, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if q := t.inbox[k]; len(q) > 0 {
		msg := q[0]
		if len(q) == 1 {
			delete(t.inbox, k)
		} else {
			q[0] = nil
			t.inbox[k] = q[1:]
		}
		return msg, true, nil
	}
	w, ok := t.waiters[k]
	if !ok {
		w = make(chan struct{})
		t.waiters[k] = w
	}
	return nil, false, w
}

// stream returns the stream to rank to, creating it.
func (t *Transport) stream(to int) *Stream {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.streams[to] == nil {
		o := t.opts.Stream
		o.Gone = t.peerDone[to]
		o.GoneErr = collective.ErrPeerClosed
		t.streams[to] = NewStream(t.nc, t.run.P2P(t.group, strconv.Itoa(to)), strconv.Itoa(t.rank), o)
	}
	return t.streams[to]
}

// Send queues msg for rank to under tag.
func (t *Transport) Send(ctx context.Context, to int, tag uint64, msg []byte) error {
	if to < 0 || to >= t.size {
		return fmt.Errorf("p2p: send from rank %d: destination rank %d outside [0, %d)", t.rank, to, t.size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("p2p: send from rank %d to rank %d: %w", t.rank, to, err)
	}
	if isDone(t.closed) {
		return fmt.Errorf("p2p: send from rank %d to rank %d: %w", t.rank, to, collective.ErrClosed)
	}
	if to == t.rank {
		t.put(msgKey{t.rank, tag}, msg)
		return nil
	}
	if isDone(t.peerDone[to]) {
		return fmt.Errorf("p2p: send from rank %d to rank %d: %w", t.rank, to, collective.ErrPeerClosed)
	}
	if err := t.stream(to).Send(strconv.FormatUint(tag, 10), msg).Err(); err != nil && isDone(t.peerDone[to]) {
		return fmt.Errorf("p2p: send from rank %d to rank %d: %w", t.rank, to, collective.ErrPeerClosed)
	}
	return nil
}

// Recv waits for the next message from rank from under tag.
func (t *Transport) Recv(ctx context.Context, from int, tag uint64) ([]byte, error) {
	if from < 0 || from >= t.size {
		return nil, fmt.Errorf("p2p: recv at rank %d: source rank %d outside [0, %d)", t.rank, from, t.size)
	}
	k := msgKey{from, tag}
	for {
		if isDone(t.closed) {
			return nil, fmt.Errorf("p2p: recv at rank %d from rank %d: %w", t.rank, from, collective.ErrClosed)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("p2p: recv at rank %d from rank %d: %w", t.rank, from, err)
		}
		msg, ok, wait := t.take(k)
		if ok {
			return msg, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
		case <-t.closed:
		case <-t.peerDone[from]:
			// A bye is delivered after the peer's messages: one may be here.
			if msg, ok, _ := t.take(k); ok {
				return msg, nil
			}
			if isDone(t.closed) {
				return nil, fmt.Errorf("p2p: recv at rank %d from rank %d: %w", t.rank, from, collective.ErrClosed)
			}
			return nil, fmt.Errorf("p2p: recv at rank %d from rank %d: %w", t.rank, from, collective.ErrPeerClosed)
		}
	}
}

// Close delivers what this rank sent (waiting up to a few seconds), tells
// every peer it is gone, and releases the endpoint: pending and later
// Recv calls fail with collective.ErrClosed. A peer that never joined and
// is not known lost costs the full wait (closeDrain). Close is idempotent.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		var acks []*Ack
		for r := range t.size {
			if r != t.rank && !isDone(t.peerDone[r]) {
				acks = append(acks, t.stream(r).Send(metaBye, nil))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), closeDrain)
		for _, a := range acks {
			a.Wait(ctx) // the bye is acked after everything sent before it
		}
		cancel()
		t.mu.Lock()
		close(t.closed)
		clear(t.inbox)
		for k, w := range t.waiters {
			close(w)
			delete(t.waiters, k)
		}
		streams := t.streams
		t.mu.Unlock()
		t.recv.Close()
		for _, s := range streams {
			if s != nil {
				s.Close()
			}
		}
		close(t.stopWatches)
		t.wg.Wait()
	})
	return nil
}
