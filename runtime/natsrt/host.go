package natsrt

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/runtime/natsrt/p2p"
	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
	"github.com/sluice-data/sluice/runtime/natsrt/worker"
	"github.com/sluice-data/sluice/shuffle"
	"github.com/sluice-data/sluice/stage"
)

// Host runs the actors of a `sluice worker`: it is the worker.Host that
// builds stages from the descriptors the head sends.
//
// Each session (one incarnation in one run) gets a runtime/local runtime
// whose one node is this worker, so that an actor here behaves exactly as
// under runtime/local: a panic kills it (DiedError panic), Teardown runs
// once and waits for a call that is still running, and each call reports
// its thread's CPU time and the process's peak RSS. Its groups talk over
// NATS instead of in-process hubs: collectives through p2p.Transport,
// shuffles through acknowledged p2p data into each rank's own engine on
// this node's scratch directory. When the session ends (the head is gone,
// the lease is lost, the worker stops), every actor of the run is stopped.
type Host struct {
	reg *stage.Registry
	log *slog.Logger

	mu  sync.Mutex
	cur *session
}

// NewHost returns the host of a worker that builds stages from reg (the
// head's registry: stages/builtin.Registry for the sluice command).
func NewHost(reg *stage.Registry, logger *slog.Logger) *Host {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Host{reg: reg, log: logger}
}

// Configure makes cfg's worker run its actors on h, with the errors of its
// calls encoded as the head decodes them.
func (h *Host) Configure(cfg *worker.Config) {
	cfg.Host = h
	cfg.Codec = errCodec{runtime.NewErrorCodec(h.reg.Errors())}
}

// Open implements worker.Host: a session's actors start from nothing.
func (h *Host) Open(ws *worker.Session) (rpc.Handler, error) {
	s := &session{ws: ws, wire: runtime.NewWire(h.reg), log: h.log.With("node", NodeID(ws.Node)),
		actors: make(map[string]hosted), peers: make(map[goneMsg]chan struct{})}
	rt, err := local.New(local.Options{CPUs: ws.Node.CPUs, GPUs: ws.Node.GPUs, GPUMemoryGB: ws.Node.GPUMemoryGB,
		ScratchDir: ws.Node.ScratchDir, Registry: h.reg, NodeID: NodeID(ws.Node), Groups: s, Logger: h.log})
	if err != nil {
		return nil, err
	}
	s.rt = rt
	if s.gone, err = ws.Conn.Data.Subscribe(ws.Run.Events(goneEvents), s.onGone); err != nil {
		rt.Close()
		return nil, fmt.Errorf("natsrt: subscribe to gone ranks: %w", err)
	}
	h.mu.Lock()
	h.cur = s
	h.mu.Unlock()
	return s.handle, nil
}

// Close implements worker.Host: every actor of the session is stopped.
func (h *Host) Close(_ *worker.Session, why error) {
	h.mu.Lock()
	s := h.cur
	h.cur = nil
	h.mu.Unlock()
	if s != nil {
		s.close(why)
	}
}

// session is one incarnation's actors.
type session struct {
	ws   *worker.Session
	wire *runtime.Wire
	rt   *local.Runtime
	log  *slog.Logger
	gone *nats.Subscription

	mu     sync.Mutex
	actors map[string]hosted // by the head's key
	peers  map[goneMsg]chan struct{}
}

// hosted is an actor of the session.
type hosted struct {
	runtime.Actor
	stage string
}

func (s *session) close(why error) {
	s.gone.Unsubscribe()
	s.mu.Lock()
	n := len(s.actors)
	s.mu.Unlock()
	if err := s.rt.Close(); err != nil {
		s.log.Warn("stopping the run's actors", "err", err)
	}
	if n > 0 {
		s.log.Info("stopped the run's actors", "actors", n, "reason", why)
	}
}

// handle serves the head's calls.
func (s *session) handle(ctx context.Context, in *rpc.Incoming) ([]byte, error) {
	switch in.Method {
	case methodCall:
		return s.call(ctx, in)
	case methodSpawn:
		return nil, s.spawn(ctx, in)
	case methodSetup:
		var req setupReq
		if err := json.Unmarshal(in.Body, &req); err != nil {
			return nil, fmt.Errorf("setup %s: %w", in.Actor, err)
		}
		a, err := s.actor(in.Actor)
		if err != nil {
			return nil, err
		}
		return nil, a.Setup(ctx, req.Group)
	case methodStop:
		s.mu.Lock()
		a, ok := s.actors[in.Actor]
		delete(s.actors, in.Actor)
		s.mu.Unlock()
		if !ok {
			return nil, nil
		}
		return nil, a.Stop(ctx)
	case methodPing:
		return json.Marshal(s.ws.Node)
	case methodSetupNode:
		var req setupNodeReq
		if err := json.Unmarshal(in.Body, &req); err != nil {
			return nil, fmt.Errorf("setup on node: %w", err)
		}
		return nil, s.rt.SetupNode(ctx, req.Spec, req.Node)
	}
	return nil, &rpc.Error{Kind: rpc.KindNotFound, Msg: "natsrt: a worker serves no method " + in.Method}
}

func (s *session) spawn(ctx context.Context, in *rpc.Incoming) error {
	var spec runtime.ActorSpec
	if err := json.Unmarshal(in.Body, &spec); err != nil {
		return fmt.Errorf("spawn %s: %w", in.Actor, err)
	}
	a, err := s.rt.Spawn(ctx, spec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	_, dup := s.actors[in.Actor]
	if !dup {
		s.actors[in.Actor] = hosted{Actor: a, stage: spec.Worker.StageName}
	}
	s.mu.Unlock()
	if dup {
		a.Stop(ctx)
		return fmt.Errorf("spawn %s: an actor with this key already runs here", in.Actor)
	}
	s.log.Debug("actor spawned", "actor", spec.Worker.ID, "stage", spec.Worker.StageName)
	return nil
}

func (s *session) actor(key string) (hosted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.actors[key]
	if !ok {
		return a, &rpc.Error{Kind: rpc.KindNotFound, Msg: "natsrt: no actor " + key + " on this worker"}
	}
	return a, nil
}

// call runs one call: the tasks were decoded from the message (they are
// the stage's own), the outputs are encoded into the reply.
func (s *session) call(ctx context.Context, in *rpc.Incoming) ([]byte, error) {
	m, err := s.wire.UnmarshalCall(in.Body)
	if err != nil {
		return nil, stage.Permanent(err)
	}
	var res runtime.Result
	a, err := s.actor(in.Actor)
	if err != nil {
		err = &runtime.DiedError{ActorID: m.Actor, Reason: runtime.DiedLost, Err: err}
	} else {
		// A debug line per call: fault tests watch it to kill a worker
		// while a stage of theirs is running.
		s.log.Debug("call started", "actor", m.Actor, "stage", a.stage, "method", m.Call.Method.String(), "attempt", m.Call.Attempt)
		// The call runs in this goroutine until the stage returns, so that
		// stopping the session waits for it; the stage's context is
		// cancelled at the caller's deadline or cancel.
		cctx, cancel := withoutDeadline(ctx)
		res, err = a.Call(cctx, m.Call)
		cancel()
	}
	reply, merr := s.wire.MarshalReply(runtime.ReplyMsg{ID: m.ID, Result: res, Err: err})
	if merr != nil {
		reply, merr = s.wire.MarshalReply(runtime.ReplyMsg{ID: m.ID, Err: stage.Permanent(merr)})
	}
	return reply, merr
}

// withoutDeadline returns a context without ctx's deadline that is
// cancelled when ctx ends. runtime/local runs a call with a deadline in a
// goroutine it may abandon; here the call must stay in the handler's
// goroutine (the head abandons it), so that the end of a session waits for
// every stage to return.
func withoutDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	return c, func() { stop(); cancel(nil) }
}

// peer returns the channel closed when rank of group is gone.
func (s *session) peer(k goneMsg) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.peers[k]
	if !ok {
		c = make(chan struct{})
		s.peers[k] = c
	}
	return c
}

func (s *session) peerGone(group string) func(rank int) <-chan struct{} {
	return func(rank int) <-chan struct{} { return s.peer(goneMsg{Group: group, Rank: rank}) }
}

// onGone closes the channel of a rank the head says is gone.
func (s *session) onGone(m *nats.Msg) {
	var k goneMsg
	if json.Unmarshal(m.Data, &k) != nil {
		return
	}
	c := s.peer(k)
	s.mu.Lock()
	select {
	case <-c:
	default:
		close(c)
	}
	s.mu.Unlock()
}

// Collective implements local.Groups: the rank's endpoint of the group
// over NATS.
func (s *session) Collective(g runtime.Group) (collective.Transport, error) {
	return p2p.Join(s.ws.Conn.Data, s.ws.Run, g.Rendezvous, g.Rank, g.Size, p2p.TransportOptions{PeerGone: s.peerGone(g.Rendezvous)})
}

// Shuffle implements local.Groups: the rank's receiver stores the batches
// its peers send into recv (its engine), acknowledging each once stored;
// its sender reaches the peers' receivers.
func (s *session) Shuffle(g runtime.Group, recv shuffle.Receiver) (local.ShuffleTransport, error) {
	nc, run := s.ws.Conn.Data, s.ws.Run
	rc, err := p2p.ListenData(nc, run, g.Rendezvous, g.Rank, p2p.InsertInto(recv))
	if err != nil {
		return nil, err
	}
	ds, err := p2p.NewDataSender(nc, run, g.Rendezvous, g.Rank, g.Size,
		p2p.DataOptions{PeerGone: s.peerGone(g.Rendezvous), GoneErr: shuffle.ErrPeerClosed})
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &shuffleLink{rank: g.Rank, self: recv, d: ds, recv: rc}, nil
}

// shuffleLink is a rank's shuffle transport over NATS. Batches for the
// rank itself go straight into its engine.
type shuffleLink struct {
	rank int
	self shuffle.Receiver
	d    *p2p.DataSender
	recv *p2p.Receiver
}

func (l *shuffleLink) Send(ctx context.Context, to int, b *shuffle.Batch) error {
	if to == l.rank {
		if err := l.self.InsertBatch(b); err != nil {
			return fmt.Errorf("shuffle: deliver to rank %d (this rank): %w", to, err)
		}
		return nil
	}
	return l.d.Send(ctx, to, b.Bytes())
}

func (l *shuffleLink) Flush(ctx context.Context) error { return l.d.Flush(ctx) }

func (l *shuffleLink) MaxBatchBytes() int { return l.d.MaxMessage() }

func (l *shuffleLink) Close() error {
	l.d.Close()
	l.recv.Close()
	return nil
}
