package p2p

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Errors a stream fails its messages with (wrapped).
var (
	// ErrStreamClosed: the stream was closed before the message was acknowledged.
	ErrStreamClosed = errors.New("p2p: stream closed")
	// ErrPeerGone: the receiving peer was declared lost.
	ErrPeerGone = errors.New("p2p: peer gone")
)

// Defaults of a stream.
const (
	DefaultWindow     = 8
	DefaultAckTimeout = 30 * time.Second
	// headerRoom is what a chunk keeps free for headers below the server's
	// max payload (NATS counts headers in the payload limit).
	headerRoom = 8 << 10
)

// Options tune a Stream.
type Options struct {
	// Window is how many chunks may be unacknowledged at once (0: DefaultWindow).
	Window int
	// ChunkSize is the largest chunk in bytes (0: the server's max payload
	// minus room for headers).
	ChunkSize int
	// AckTimeout is when a chunk is sent again if its ack did not come
	// (0: DefaultAckTimeout). Duplicates are harmless; a final chunk whose
	// handler is still running is simply acknowledged later.
	AckTimeout time.Duration
	// Gone, when closed, fails the stream: its peer was declared lost.
	Gone <-chan struct{}
	// GoneErr is the error Gone fails messages with (nil: ErrPeerGone).
	GoneErr error
	// NoResponders, when positive, fails the stream with GoneErr once a
	// chunk has met nobody listening for this long. Zero retries until
	// Gone or Close: right for peers that may subscribe late, wrong for a
	// peer that must already be there (an RPC target).
	NoResponders time.Duration
}

// Ack is the outcome of one message.
type Ack struct {
	done chan struct{}
	err  error
}

func newAck() *Ack { return &Ack{done: make(chan struct{})} }

func (a *Ack) resolve(err error) {
	a.err = err
	close(a.done)
}

// Done is closed when the message was acknowledged or failed.
func (a *Ack) Done() <-chan struct{} { return a.done }

// Err is the outcome once Done is closed: nil, the receiver's handler
// error (a *HandlerError), or why the stream failed. It is nil while the
// message is pending.
func (a *Ack) Err() error {
	select {
	case <-a.done:
		return a.err
	default:
		return nil
	}
}

// Wait waits for the outcome or for ctx.
func (a *Ack) Wait(ctx context.Context) error {
	select {
	case <-a.done:
		return a.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HandlerError is a receiver handler's error, as text.
type HandlerError struct{ Msg string }

func (e *HandlerError) Error() string { return "p2p: receiver: " + e.Msg }

// ChunkSize is the largest chunk a stream on nc with opts sends: the
// server's max payload less room for headers, or opts.ChunkSize if smaller.
// A message up to this size travels as one NATS message.
func ChunkSize(nc *nats.Conn, opts Options) int {
	limit := int(nc.MaxPayload()) - headerRoom
	if opts.ChunkSize > 0 && opts.ChunkSize < limit {
		return opts.ChunkSize
	}
	return limit
}

// chunkJob is one chunk waiting to be sent; ack is set on a message's last chunk.
type chunkJob struct {
	hdr  chunkHeader
	data []byte
	ack  *Ack
}

// Stream sends messages to one subject, in order, acknowledged and
// chunked. It is safe for concurrent use; messages sent concurrently are
// ordered as Send was called.
type Stream struct {
	nc       *nats.Conn
	subject  string
	from, id string
	opts     Options
	chunk    int

	mu      sync.Mutex
	cond    *sync.Cond
	seq     uint64
	queue   []chunkJob
	pending map[uint64]*Ack // unresolved messages by sequence
	err     error           // sticky: the stream failed

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewStream returns a stream from sender from (a name the receiver sees in
// Message.From) to subject.
func NewStream(nc *nats.Conn, subject, from string, opts Options) *Stream {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = DefaultAckTimeout
	}
	if opts.GoneErr == nil {
		opts.GoneErr = ErrPeerGone
	}
	chunk := ChunkSize(nc, opts)
	var id [8]byte
	rand.Read(id[:])
	ctx, cancel := context.WithCancel(context.Background())
	s := &Stream{nc: nc, subject: subject, from: from, id: hex.EncodeToString(id[:]), opts: opts, chunk: chunk,
		pending: make(map[uint64]*Ack), ctx: ctx, cancel: cancel}
	s.cond = sync.NewCond(&s.mu)
	s.wg.Add(opts.Window)
	for range opts.Window {
		go s.worker()
	}
	if opts.Gone != nil {
		s.wg.Add(1)
		go s.watchGone()
	}
	return s
}

// Subject is where the stream sends.
func (s *Stream) Subject() string { return s.subject }

// Send queues msg (which the stream owns until its Ack is done) with
// application metadata meta, and returns at once.
func (s *Stream) Send(meta string, msg []byte) *Ack {
	ack := newAck()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		ack.resolve(s.err)
		return ack
	}
	s.seq++
	parts := max(1, (len(msg)+s.chunk-1)/s.chunk)
	for i := range parts {
		j := chunkJob{hdr: chunkHeader{from: s.from, stream: s.id, meta: meta, seq: s.seq, part: i, parts: parts}}
		j.data = msg[min(i*s.chunk, len(msg)):min((i+1)*s.chunk, len(msg))]
		if i == parts-1 {
			j.ack = ack
		}
		s.queue = append(s.queue, j)
	}
	s.pending[s.seq] = ack
	s.cond.Broadcast()
	return ack
}

// Err is the error the stream failed with, or nil.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close fails every unacknowledged message with ErrStreamClosed and stops
// the stream's goroutines. Close is idempotent.
func (s *Stream) Close() {
	s.fail(ErrStreamClosed)
	s.wg.Wait()
}

// fail ends the stream with err (the first error wins).
func (s *Stream) fail(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	pending := s.pending
	s.pending = nil
	s.queue = nil
	s.cond.Broadcast()
	s.mu.Unlock()
	s.cancel()
	for _, a := range pending {
		a.resolve(err)
	}
}

func (s *Stream) watchGone() {
	defer s.wg.Done()
	select {
	case <-s.opts.Gone:
		s.fail(fmt.Errorf("p2p: send to %s: %w", s.subject, s.opts.GoneErr))
	case <-s.ctx.Done():
	}
}

// next takes the next chunk to send; ok is false once the stream failed.
func (s *Stream) next() (chunkJob, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) == 0 && s.err == nil {
		s.cond.Wait()
	}
	if s.err != nil {
		return chunkJob{}, false
	}
	j := s.queue[0]
	s.queue[0] = chunkJob{}
	s.queue = s.queue[1:]
	return j, true
}

func (s *Stream) worker() {
	defer s.wg.Done()
	for {
		j, ok := s.next()
		if !ok {
			return
		}
		s.transmit(j)
	}
}

// transmit sends one chunk until it is acknowledged or the stream fails.
func (s *Stream) transmit(j chunkJob) {
	msg := &nats.Msg{Subject: s.subject, Header: j.hdr.encode(), Data: j.data}
	backoff := time.Millisecond
	var lonely time.Time // when "no responders" began
	for {
		ctx, cancel := context.WithTimeout(s.ctx, s.opts.AckTimeout)
		reply, err := s.nc.RequestMsgWithContext(ctx, msg)
		cancel()
		if err == nil {
			if j.ack != nil {
				s.resolve(j.hdr.seq, ackError(reply))
			}
			return
		}
		if s.ctx.Err() != nil {
			return // the stream failed; fail() resolved the acks
		}
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionDraining) {
			s.fail(fmt.Errorf("p2p: send to %s: %w", s.subject, err))
			return
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			lonely = time.Time{}
			continue // an ack timeout: send again at once
		}
		if lonely.IsZero() {
			lonely = time.Now()
		} else if s.opts.NoResponders > 0 && time.Since(lonely) >= s.opts.NoResponders {
			s.fail(fmt.Errorf("p2p: send to %s: no one listening for %v: %w", s.subject, s.opts.NoResponders, s.opts.GoneErr))
			return
		}
		// Nobody listens yet (a member that has not subscribed): back off.
		select {
		case <-time.After(backoff):
		case <-s.ctx.Done():
			return
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

func (s *Stream) resolve(seq uint64, err error) {
	s.mu.Lock()
	a, ok := s.pending[seq]
	delete(s.pending, seq)
	s.mu.Unlock()
	if ok {
		a.resolve(err)
	}
}

func ackError(reply *nats.Msg) error {
	if e := reply.Header.Get(hErr); e != "" {
		return &HandlerError{Msg: e}
	}
	return nil
}
