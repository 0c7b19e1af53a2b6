// Package rpc carries actor calls between Sluice processes: request and
// reply, addressed to an actor on an endpoint (a worker incarnation, or
// the head), over p2p streams.
//
// A call carries a call id, the actor, the method, the attempt number and
// the time left until the caller's deadline. It takes one of two paths:
//   - direct: a call whose body fits in one NATS message is one NATS
//     request to run.RPC(target)+".d", and a reply that fits is the NATS
//     reply: two messages per call, the cheapest NATS allows;
//   - streamed: a larger body travels as a p2p message (chunked, acked,
//     flow-controlled) on run.RPC(target), and a larger reply as a p2p
//     message to the caller's endpoint.
//
// The target runs the handler in its own goroutine with a context that has
// the caller's deadline, and replies with the output or an error with its
// kind. A cancel travels the call's own path after it (one connection, one
// subject, or one ordered stream), so it never overtakes its call.
//
// Failures:
//   - the caller's context ends: the call returns at once and a cancel
//     message reaches the target, which cancels the handler's context;
//   - the target is declared lost (PeerLost, fed by membership): every call
//     in flight to it fails at once with a KindLost error (errors.Is
//     ErrLost), and later calls fail without being sent;
//   - nobody listens on the target's subject (its process died and the
//     server already dropped its subscription): the call fails as lost
//     after Options.NoResponders;
//   - the handler panics: the call fails with a KindPanic error.
//
// Errors cross as (kind, message, data) through an ErrorCodec, so that
// context.Canceled and context.DeadlineExceeded survive errors.Is and the
// runtime can map its own errors (permanent, died) through its codec.
package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/runtime/natsrt/p2p"
	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// DefaultNoResponders is how long a call waits for anyone to listen on its
// target's subject before calling the target lost. A live endpoint
// subscribes before it is announced, so "no responders" means it is gone.
const DefaultNoResponders = time.Second

// Request is a call as the caller makes it.
type Request struct {
	Actor, Method string
	// Attempt is the executor's attempt number for the work in Body.
	Attempt int
	// Body is the payload; the endpoint owns it until the call returns.
	Body []byte
}

// Incoming is a call as the handler sees it.
type Incoming struct {
	Caller, ID    string
	Actor, Method string
	Attempt       int
	Body          []byte
}

// Handler serves calls. ctx is cancelled when the caller cancels, when the
// caller's deadline passes, and when the endpoint closes. The returned
// bytes are the reply's body; an error crosses through the ErrorCodec.
type Handler func(ctx context.Context, in *Incoming) ([]byte, error)

// Options configure an Endpoint.
type Options struct {
	// Handler serves incoming calls; nil makes a caller-only endpoint.
	Handler Handler
	// Codec encodes handler errors and decodes reply errors (nil: DefaultCodec).
	Codec ErrorCodec
	// Stream tunes the streams to other endpoints (window, chunk size).
	Stream p2p.Options
	// NoResponders: see DefaultNoResponders (0: that default).
	NoResponders time.Duration
	Logger       *slog.Logger
}

// Endpoint is one process's RPC presence in a run: it makes calls, and
// serves them when it has a Handler.
type Endpoint struct {
	nc   *nats.Conn
	run  subject.Run
	id   string
	opts Options
	recv *p2p.Receiver
	dsub *nats.Subscription // direct calls and cancels
	// single is the largest body that travels in one NATS message.
	single int
	seq    atomic.Uint64
	// refused counts replies refused: from a lost target, or for a call
	// that was abandoned or failed.
	refused atomic.Uint64

	mu      sync.Mutex
	closed  bool
	peers   map[string]*peer
	calls   map[string]*call              // outgoing, by call id
	running map[string]context.CancelFunc // incoming, by caller + "/" + id
	serving sync.WaitGroup
}

// peer is what an endpoint keeps about another endpoint.
type peer struct {
	stream *p2p.Stream
	gone   chan struct{}
	why    string // set before gone is closed
}

// call is an outgoing call waiting for its reply.
type call struct {
	target string
	done   chan struct{}
	abort  context.CancelFunc // ends a direct request in flight
	out    []byte
	err    error
}

// finish completes c (its caller holds the only reference after removal
// from Endpoint.calls, so this runs once).
func (c *call) finish(out []byte, err error) {
	c.out, c.err = out, err
	close(c.done)
	if c.abort != nil {
		c.abort()
	}
}

// NewEndpoint listens as endpoint id of run (a subject token: a worker's
// incarnation, or the head's id).
func NewEndpoint(nc *nats.Conn, run subject.Run, id string, opts Options) (*Endpoint, error) {
	if err := subject.ValidToken(id); err != nil {
		return nil, fmt.Errorf("rpc: endpoint id: %w", err)
	}
	if opts.Codec == nil {
		opts.Codec = DefaultCodec{}
	}
	if opts.NoResponders <= 0 {
		opts.NoResponders = DefaultNoResponders
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Endpoint{nc: nc, run: run, id: id, opts: opts,
		peers: make(map[string]*peer), calls: make(map[string]*call), running: make(map[string]context.CancelFunc)}
	e.single = int(nc.MaxPayload()) - 8<<10
	if c := opts.Stream.ChunkSize; c > 0 && c < e.single {
		e.single = c
	}
	recv, err := p2p.Listen(nc, run.RPC(id), e.onMessage)
	if err != nil {
		return nil, err
	}
	e.recv = recv
	if e.dsub, err = nc.Subscribe(directSubject(run, id), e.onDirect); err == nil {
		if err = e.dsub.SetPendingLimits(-1, -1); err == nil {
			err = nc.Flush()
		}
	}
	if err != nil {
		recv.Close()
		return nil, fmt.Errorf("rpc: subscribe %s: %w", directSubject(run, id), err)
	}
	return e, nil
}

func directSubject(run subject.Run, id string) string { return run.RPC(id) + ".d" }

// Refused is how many replies the endpoint refused (late replies of
// abandoned calls, replies from lost targets).
func (e *Endpoint) Refused() uint64 { return e.refused.Load() }

// ID is the endpoint's id.
func (e *Endpoint) ID() string { return e.id }

// peerLocked returns (creating) the state of endpoint target; e.mu is held.
func (e *Endpoint) peerLocked(target string) *peer {
	p := e.peers[target]
	if p == nil {
		p = &peer{gone: make(chan struct{})}
		o := e.opts.Stream
		o.Gone, o.GoneErr, o.NoResponders = p.gone, ErrLost, e.opts.NoResponders
		p.stream = p2p.NewStream(e.nc, e.run.RPC(target), e.id, o)
		e.peers[target] = p
	}
	return p
}

// PeerLost declares endpoint target gone: its calls in flight fail with a
// KindLost error now, later calls fail without being sent, and nothing it
// sends is accepted any more. Idempotent.
func (e *Endpoint) PeerLost(target, reason string) {
	e.mu.Lock()
	p := e.peerLocked(target)
	select {
	case <-p.gone:
		e.mu.Unlock()
		return
	default:
	}
	p.why = reason
	close(p.gone)
	var failed []*call
	for id, c := range e.calls {
		if c.target == target {
			failed = append(failed, c)
			delete(e.calls, id)
		}
	}
	for key, cancel := range e.running {
		if callerOf(key) == target {
			cancel() // a lost caller will not read the reply
		}
	}
	e.mu.Unlock()
	for _, c := range failed {
		c.finish(nil, lostError(target, reason))
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Call calls req.Actor's req.Method on endpoint target and returns the
// reply's body. ctx's deadline travels with the call.
func (e *Endpoint) Call(ctx context.Context, target string, req Request) ([]byte, error) {
	id := strconv.FormatUint(e.seq.Add(1), 36)
	c := &call{target: target, done: make(chan struct{})}
	rctx, abort := context.WithCancel(ctx)
	defer abort()
	c.abort = abort
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, &Error{Kind: KindLost, Msg: "rpc: endpoint " + e.id + " closed"}
	}
	p := e.peerLocked(target)
	if isClosed(p.gone) {
		e.mu.Unlock()
		return nil, lostError(target, p.why)
	}
	e.calls[id] = c
	e.mu.Unlock()

	m := meta{kind: msgCall, id: id, caller: e.id, actor: req.Actor, method: req.Method, attempt: req.Attempt}
	if dl, ok := ctx.Deadline(); ok {
		m.timeout = max(time.Until(dl), time.Nanosecond)
	}
	direct := len(req.Body) <= e.single
	if direct {
		e.callDirect(rctx, c, m, req.Body)
	} else {
		e.callStreamed(rctx, c, p, m, req.Body)
	}
	select {
	case <-c.done:
		return c.out, c.err
	case <-ctx.Done():
		e.abandon(id, p, direct)
		return nil, fmt.Errorf("rpc: call %s.%s on %s: %w", req.Actor, req.Method, target, ctx.Err())
	}
}

// callDirect sends a call as one NATS request and completes it from the
// reply, unless the reply follows on the stream. It returns when the reply
// came, the reply will come on the stream, or ctx ended (the caller
// cancelled, or PeerLost aborted the call).
func (e *Endpoint) callDirect(ctx context.Context, c *call, m meta, body []byte) {
	msg := &nats.Msg{Subject: directSubject(e.run, c.target), Header: nats.Header{hMeta: []string{m.encode()}}, Data: body}
	var lonely time.Time
	backoff := time.Millisecond
	for {
		reply, err := e.nc.RequestMsgWithContext(ctx, msg)
		if err == nil {
			rm, derr := decodeMeta(reply.Header.Get(hMeta))
			if derr != nil {
				e.take(c.target, m.id, nil, derr)
			} else if rm.kind == msgReply {
				e.complete(c.target, rm, reply.Data)
			}
			return // msgReplyStream: the reply comes through onMessage
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			if ctx.Err() == nil { // the connection failed
				e.take(c.target, m.id, nil, &Error{Kind: KindLost, Msg: "rpc: call to " + c.target + ": " + err.Error()})
			}
			return
		}
		if lonely.IsZero() {
			lonely = time.Now()
		} else if time.Since(lonely) >= e.opts.NoResponders {
			e.PeerLost(c.target, "no one listening for "+e.opts.NoResponders.String())
			return
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// callStreamed sends a call too large for one message on the target's
// stream, and returns once the target accepted it (or it failed).
func (e *Endpoint) callStreamed(ctx context.Context, c *call, p *peer, m meta, body []byte) {
	ack := p.stream.Send(m.encode(), body)
	select {
	case <-ack.Done():
		if err := ack.Err(); err != nil { // never delivered: the target is gone
			e.PeerLost(c.target, err.Error())
		}
	case <-c.done:
	case <-ctx.Done():
	}
}

// take removes call id (of target) and finishes it with out, err.
func (e *Endpoint) take(target, id string, out []byte, err error) {
	e.mu.Lock()
	c, ok := e.calls[id]
	if ok && c.target == target {
		delete(e.calls, id)
	}
	e.mu.Unlock()
	if ok && c.target == target {
		c.finish(out, err)
	}
}

// abandon forgets call id and tells the target to cancel it, on the path
// the call took.
func (e *Endpoint) abandon(id string, p *peer, direct bool) {
	e.mu.Lock()
	c, pending := e.calls[id]
	delete(e.calls, id)
	e.mu.Unlock()
	if !pending {
		return
	}
	cancel := meta{kind: msgCancel, id: id, caller: e.id}.encode()
	if direct {
		e.nc.PublishMsg(&nats.Msg{Subject: directSubject(e.run, c.target), Header: nats.Header{hMeta: []string{cancel}}})
	} else {
		p.stream.Send(cancel, nil)
	}
}

// onDirect handles direct calls and cancels.
func (e *Endpoint) onDirect(msg *nats.Msg) {
	m, err := decodeMeta(msg.Header.Get(hMeta))
	if err != nil {
		return
	}
	switch m.kind {
	case msgCall:
		e.serve(m, msg.Data, msg.Reply)
	case msgCancel:
		e.cancelRunning(m)
	}
}

func (e *Endpoint) cancelRunning(m meta) {
	e.mu.Lock()
	cancel := e.running[m.caller+"/"+m.id]
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// onMessage is the receiver's handler: calls start, cancels cancel,
// replies complete calls. It never blocks on a handler.
func (e *Endpoint) onMessage(msg p2p.Message) error {
	m, err := decodeMeta(msg.Meta)
	if err != nil {
		return err
	}
	if m.caller != msg.From && m.kind != msgReply {
		return fmt.Errorf("rpc: %s from %s claims caller %s", m.kind, msg.From, m.caller)
	}
	switch m.kind {
	case msgCall:
		e.serve(m, msg.Data, "")
	case msgCancel:
		e.cancelRunning(m)
	case msgReply:
		e.complete(msg.From, m, msg.Data)
	default:
		return fmt.Errorf("rpc: unknown message kind %q", m.kind)
	}
	return nil
}

// complete finishes an outgoing call with its reply, unless the call is
// gone (abandoned, failed as lost) or the reply comes from the wrong
// endpoint: a reply from a lost incarnation is refused.
func (e *Endpoint) complete(from string, m meta, body []byte) {
	e.mu.Lock()
	c, ok := e.calls[m.id]
	if !ok || c.target != from {
		e.mu.Unlock()
		e.refused.Add(1)
		e.opts.Logger.Debug("rpc: refusing a reply", "from", from, "call", m.id)
		return
	}
	delete(e.calls, m.id)
	e.mu.Unlock()
	if m.errKind != "" {
		c.finish(nil, e.opts.Codec.Decode(m.errKind, m.errMsg, body))
	} else {
		c.finish(body, nil)
	}
}

// serve starts an incoming call; direct is the reply subject of a direct
// call ("" for a streamed one).
func (e *Endpoint) serve(m meta, body []byte, direct string) {
	in := &Incoming{Caller: m.caller, ID: m.id, Actor: m.actor, Method: m.method, Attempt: m.attempt, Body: body}
	e.mu.Lock()
	p := e.peerLocked(m.caller)
	if e.closed || e.opts.Handler == nil || isClosed(p.gone) {
		e.mu.Unlock()
		e.reply(p, m, direct, nil, &Error{Kind: KindNotFound, Msg: "rpc: endpoint " + e.id + " serves no calls"})
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	if m.timeout > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), m.timeout)
	}
	key := m.caller + "/" + m.id
	e.running[key] = cancel
	e.serving.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.serving.Done()
		out, err := e.handle(ctx, in)
		e.mu.Lock()
		delete(e.running, key)
		e.mu.Unlock()
		cancel()
		e.reply(p, m, direct, out, err)
	}()
}

// handle runs the handler, turning a panic into a *PanicError.
func (e *Endpoint) handle(ctx context.Context, in *Incoming) (out []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return e.opts.Handler(ctx, in)
}

// reply sends a call's outcome: as the NATS reply of a direct call when
// it fits, else on the stream to the caller (and, for a direct call, a
// note that it does).
func (e *Endpoint) reply(p *peer, m meta, direct string, out []byte, err error) {
	r := meta{kind: msgReply, id: m.id}
	if err != nil {
		var data []byte
		r.errKind, r.errMsg, data = e.opts.Codec.Encode(err)
		out = data
	}
	if direct != "" && len(out)+len(r.errMsg) <= e.single {
		e.nc.PublishMsg(&nats.Msg{Subject: direct, Header: nats.Header{hMeta: []string{r.encode()}}, Data: out})
		return
	}
	p.stream.Send(r.encode(), out) // the caller acks; a lost caller fails the stream, harmlessly
	if direct != "" {
		note := meta{kind: msgReplyStream, id: m.id}
		e.nc.PublishMsg(&nats.Msg{Subject: direct, Header: nats.Header{hMeta: []string{note.encode()}}})
	}
}

// Close stops the endpoint: it unsubscribes, cancels the calls it serves
// and waits for their handlers, fails its own calls in flight as lost, and
// closes its streams.
func (e *Endpoint) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	for _, cancel := range e.running {
		cancel()
	}
	calls := e.calls
	e.calls = map[string]*call{}
	e.mu.Unlock()
	e.dsub.Unsubscribe()
	e.recv.Close()
	e.serving.Wait()
	for _, c := range calls {
		c.finish(nil, &Error{Kind: KindLost, Msg: "rpc: endpoint " + e.id + " closed"})
	}
	e.mu.Lock()
	peers := e.peers
	e.mu.Unlock()
	for _, p := range peers {
		p.stream.Close()
	}
}

func callerOf(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '/' {
			return key[:i]
		}
	}
	return key
}
