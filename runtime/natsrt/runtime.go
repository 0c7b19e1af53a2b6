package natsrt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/head"
	"github.com/sluice-data/sluice/runtime/natsrt/member"
	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
	"github.com/sluice-data/sluice/runtime/natsrt/subject"
	"github.com/sluice-data/sluice/stage"
)

// Config configures the head's side of a run.
type Config struct {
	// Head says which server to use (an embedded one, or an existing
	// deployment), the membership timings and the shared-filesystem probe.
	// Start sets its Handler and Codec.
	Head head.Config
	// Registry is the stage registry the workers build stages from. The head
	// builds no stage from it, but its task codecs and named errors are
	// those of the wire: head and workers must use the same registry
	// (stages/builtin.Registry for the sluice command).
	Registry *stage.Registry
	Logger   *slog.Logger
	// RejoinWait is how long the executor waits for a worker to join when
	// every worker is lost (a lone worker that lost its lease rejoins as a
	// new node within a second or two); default 2 minutes.
	RejoinWait time.Duration
}

// DefaultRejoinWait is Config.RejoinWait's default.
const DefaultRejoinWait = 2 * time.Minute

// Runtime is the runtime.Runtime of a head: its nodes are the `sluice
// worker` incarnations in the run's membership, and its actors live in
// them. Create it with Start; Close ends the run.
type Runtime struct {
	h       *head.Head
	wire    *runtime.Wire
	log     *slog.Logger
	started time.Time
	rejoin  time.Duration
	callSeq atomic.Uint64
	keySeq  atomic.Uint64

	mu     sync.Mutex
	incs   map[string]string         // node id → incarnation, of every node seen
	actors map[string]*actor         // actors not stopped yet, by key
	ranks  map[string]map[int]string // group → rank → incarnation, of actors set up in a group
	closed bool
	unsub  func()
}

var (
	_ runtime.Runtime  = (*Runtime)(nil)
	_ runtime.Rejoiner = (*Runtime)(nil)
)

// Start starts the head (its server or its connections, the membership,
// the endpoint) and returns the runtime. Workers may join from then on;
// see WaitWorkers.
func Start(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Registry == nil {
		return nil, errors.New("natsrt: no stage registry")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RejoinWait <= 0 {
		cfg.RejoinWait = DefaultRejoinWait
	}
	r := &Runtime{
		wire: runtime.NewWire(cfg.Registry), log: cfg.Logger, started: time.Now(), rejoin: cfg.RejoinWait,
		incs: make(map[string]string), actors: make(map[string]*actor), ranks: make(map[string]map[int]string),
	}
	hc := cfg.Head
	hc.Handler = r.serve
	hc.Codec = errCodec{r.wire.Errors}
	if hc.Logger == nil {
		hc.Logger = cfg.Logger
	}
	h, err := head.Start(ctx, hc)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.h = h
	r.mu.Unlock()
	r.unsub = h.Members.Subscribe(r.onMember)
	return r, nil
}

// Head is the head's side of the run (its server, membership, join line).
func (r *Runtime) Head() *head.Head { return r.h }

// WaitWorkers waits until at least n workers joined, or ctx ends.
func (r *Runtime) WaitWorkers(ctx context.Context, n int) ([]stage.Node, error) {
	infos, err := r.h.WaitWorkers(ctx, n)
	nodes := make([]stage.Node, 0, len(infos))
	for _, in := range infos {
		nodes = append(nodes, r.node(in))
	}
	return nodes, err
}

// node is the stage.Node of an incarnation, remembered under its id.
func (r *Runtime) node(info member.NodeInfo) stage.Node {
	n := toNode(info)
	r.mu.Lock()
	r.incs[n.ID] = info.Incarnation
	r.mu.Unlock()
	return n
}

// Nodes implements runtime.Runtime: the live worker incarnations.
func (r *Runtime) Nodes(context.Context) ([]stage.Node, error) {
	infos := r.h.Members.Nodes()
	out := make([]stage.Node, 0, len(infos))
	for _, in := range infos {
		out = append(out, r.node(in))
	}
	return out, nil
}

// WatchNodes implements runtime.Runtime: incarnations that register
// (joined) and that are declared lost, from the membership monitor, in
// order, from one goroutine.
func (r *Runtime) WatchNodes(ctx context.Context, fn func(runtime.NodeEvent)) error {
	cancel := r.h.Members.Subscribe(func(ev member.Event) {
		if ctx.Err() != nil {
			return
		}
		kind := runtime.NodeJoined
		if ev.Kind == member.NodeLost {
			kind = runtime.NodeLost
		}
		fn(runtime.NodeEvent{Kind: kind, Node: r.node(ev.Node), Reason: ev.Reason})
	})
	context.AfterFunc(ctx, cancel)
	return nil
}

// RejoinWait implements runtime.Rejoiner: workers come back as new nodes.
func (r *Runtime) RejoinWait() time.Duration { return r.rejoin }

// RequiresDescriptors implements runtime.Runtime: actors are built from
// their descriptors in the workers.
func (r *Runtime) RequiresDescriptors() bool { return true }

// incOf returns the incarnation of a live node, or an error wrapping
// runtime.ErrNodeLost.
func (r *Runtime) incOf(nodeID string) (string, error) {
	r.mu.Lock()
	inc, ok := r.incs[nodeID]
	r.mu.Unlock()
	if !ok {
		for _, in := range r.h.Members.Nodes() {
			if n := r.node(in); n.ID == nodeID {
				inc, ok = in.Incarnation, true
			}
		}
	}
	if !ok {
		return "", fmt.Errorf("node %q is unknown: %w", nodeID, runtime.ErrNodeLost)
	}
	if r.h.Members.IsLost(inc) {
		return "", lostErr(nodeID, nil)
	}
	return inc, nil
}

// request calls method on the worker inc. An error of a lost worker wraps
// runtime.ErrNodeLost.
func (r *Runtime) request(ctx context.Context, inc, nodeID string, req rpc.Request) ([]byte, error) {
	out, err := r.h.Endpoint.Call(ctx, inc, req)
	if err != nil && rpc.KindOf(err) == rpc.KindLost {
		return nil, lostErr(nodeID, err)
	}
	return out, err
}

// SetupNode implements runtime.Runtime: the worker runs the stage's
// SetupOnNode.
func (r *Runtime) SetupNode(ctx context.Context, spec runtime.ActorSpec, node stage.Node) error {
	if err := checkDescriptor(spec); err != nil {
		return err
	}
	inc, err := r.incOf(node.ID)
	if err != nil {
		return err
	}
	body, err := json.Marshal(setupNodeReq{Spec: spec, Node: node})
	if err != nil {
		return fmt.Errorf("setup on node %s: encode: %w", node.ID, err)
	}
	_, err = r.request(ctx, inc, node.ID, rpc.Request{Actor: spec.Worker.ID, Method: methodSetupNode, Body: body})
	return err
}

// checkDescriptor refuses a spec a worker cannot build, naming the stage.
func checkDescriptor(spec runtime.ActorSpec) error {
	if spec.HasDescriptor() {
		return nil
	}
	return fmt.Errorf("stage %s has no descriptor (it was not built from a registered stage type), so actor %s cannot be built in a worker process", spec.Worker.StageName, spec.Worker.ID)
}

// Spawn implements runtime.Runtime: the worker builds the actor's stage
// from its descriptor.
func (r *Runtime) Spawn(ctx context.Context, spec runtime.ActorSpec) (runtime.Actor, error) {
	if err := checkDescriptor(spec); err != nil {
		return nil, err
	}
	inc, err := r.incOf(spec.Worker.NodeID)
	if err != nil {
		return nil, fmt.Errorf("spawn actor %s: %w", spec.Worker.ID, err)
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("spawn actor %s: encode: %w", spec.Worker.ID, err)
	}
	a := &actor{r: r, id: spec.Worker.ID, stage: spec.Worker.StageName, node: spec.Worker.NodeID, inc: inc,
		key: spec.Worker.ID + "." + strconv.FormatUint(r.keySeq.Add(1), 36), state: "spawning", since: time.Now()}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errors.New("natsrt: the runtime is closed")
	}
	r.actors[a.key] = a
	r.mu.Unlock()
	if _, err := r.request(ctx, inc, a.node, rpc.Request{Actor: a.key, Method: methodSpawn, Body: body}); err != nil {
		r.forget(a)
		return nil, fmt.Errorf("spawn actor %s: %w", a.id, err)
	}
	a.setState("spawned")
	r.log.Debug("actor spawned", "actor", a.id, "stage", a.stage, "node", a.node)
	return a, nil
}

func (r *Runtime) forget(a *actor) {
	r.mu.Lock()
	delete(r.actors, a.key)
	r.mu.Unlock()
}

// Close implements runtime.Runtime: it ends the run. The workers see the
// head's lease go and stop the run's actors (Teardown runs there).
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.unsub()
	if b := r.h.Broker; b != nil {
		// What went through the head's server: every call, collective
		// message and shuffle byte between workers (benchmarks read it).
		if v, err := b.Server().Varz(nil); err == nil {
			r.log.Info("the head's NATS server carried", "in_bytes", v.InBytes, "out_bytes", v.OutBytes, "in_msgs", v.InMsgs, "out_msgs", v.OutMsgs)
		}
	}
	r.h.Close()
	return nil
}

// joinGroup records where rank g.Rank of group g lives, so that its peers
// hear when its node is lost; if the node is already lost they hear now.
func (r *Runtime) joinGroup(a *actor, g *runtime.Group) {
	r.mu.Lock()
	ranks := r.ranks[g.Rendezvous]
	if ranks == nil {
		ranks = make(map[int]string)
		r.ranks[g.Rendezvous] = ranks
	}
	ranks[g.Rank] = a.inc
	a.group, a.rank, a.inGroup = g.Rendezvous, g.Rank, true
	lost := r.h.Members.IsLost(a.inc)
	r.mu.Unlock()
	if lost {
		r.publishGone(goneMsg{Group: g.Rendezvous, Rank: g.Rank})
	}
}

// leaveGroup forgets a stopped actor's rank and tells its peers.
func (r *Runtime) leaveGroup(a *actor) {
	r.mu.Lock()
	if !a.inGroup {
		r.mu.Unlock()
		return
	}
	if ranks := r.ranks[a.group]; ranks != nil && ranks[a.rank] == a.inc {
		delete(ranks, a.rank)
		if len(ranks) == 0 {
			delete(r.ranks, a.group)
		}
	}
	r.mu.Unlock()
	r.publishGone(goneMsg{Group: a.group, Rank: a.rank})
}

// onMember tells the workers which ranks a lost node hosted.
func (r *Runtime) onMember(ev member.Event) {
	if ev.Kind != member.NodeLost {
		return
	}
	var gone []goneMsg
	r.mu.Lock()
	for g, ranks := range r.ranks {
		for rank, inc := range ranks {
			if inc == ev.Node.Incarnation {
				gone = append(gone, goneMsg{Group: g, Rank: rank})
			}
		}
	}
	r.mu.Unlock()
	for _, m := range gone {
		r.publishGone(m)
	}
}

func (r *Runtime) publishGone(m goneMsg) {
	b, _ := json.Marshal(m) // a string and an int always encode
	if err := r.h.Data.Publish(r.h.Run.Events(goneEvents), b); err != nil {
		r.log.Debug("publish a gone rank", "group", m.Group, "rank", m.Rank, "err", err)
	}
}

// serve answers calls made to the head: `sluice status`.
func (r *Runtime) serve(_ context.Context, in *rpc.Incoming) ([]byte, error) {
	r.mu.Lock()
	ready := r.h != nil
	r.mu.Unlock()
	if !ready {
		return nil, &rpc.Error{Kind: rpc.KindNotFound, Msg: "the head is starting"}
	}
	if in.Method != methodStatus {
		return nil, &rpc.Error{Kind: rpc.KindNotFound, Msg: "the head serves no method " + in.Method}
	}
	return json.Marshal(r.Status())
}

// Status is what `sluice status` shows of a run.
type Status struct {
	Run     string       `json:"run"`
	Version string       `json:"version,omitempty"`
	Started time.Time    `json:"started"`
	Nodes   []NodeStatus `json:"nodes"`
}

// NodeStatus is one worker incarnation and the actors it runs.
type NodeStatus struct {
	ID string `json:"id"`
	member.NodeInfo
	Actors []ActorStatus `json:"actors"`
}

// ActorStatus is one actor as the head sees it.
type ActorStatus struct {
	ID    string `json:"id"`
	Stage string `json:"stage"`
	// State is spawning, spawned, setting up, idle, busy or stopping.
	State string    `json:"state"`
	Since time.Time `json:"since"`
	Calls int64     `json:"calls"`
}

// Status returns the run's nodes and their actors.
func (r *Runtime) Status() Status {
	st := Status{Run: r.h.Run.ID(), Version: r.h.Version(), Started: r.started}
	byInc := make(map[string]int)
	for _, in := range r.h.Members.Nodes() {
		byInc[in.Incarnation] = len(st.Nodes)
		st.Nodes = append(st.Nodes, NodeStatus{ID: r.node(in).ID, NodeInfo: in, Actors: []ActorStatus{}})
	}
	r.mu.Lock()
	for _, a := range r.actors {
		if i, ok := byInc[a.inc]; ok {
			st.Nodes[i].Actors = append(st.Nodes[i].Actors, a.status())
		}
	}
	r.mu.Unlock()
	for _, n := range st.Nodes {
		sort.Slice(n.Actors, func(i, j int) bool { return n.Actors[i].ID < n.Actors[j].ID })
	}
	return st
}

// ErrNoRun is returned by QueryStatus when no head runs a job on the server.
var ErrNoRun = errors.New("no job is running on this server (workers wait for a head there)")

// QueryStatus asks the head of the run on the server that c reaches for
// its Status (`sluice status`). c holds a worker's credentials: the
// token, pin or creds file of the join line.
func QueryStatus(ctx context.Context, c broker.ClientConfig) (Status, error) {
	var st Status
	nc, err := c.Connect("sluice-status")
	if err != nil {
		return st, err
	}
	defer nc.Close()
	h, err := member.AskHello(ctx, nc, c.TokenID(), member.HelloRequest{Name: "sluice status"})
	if errors.Is(err, member.ErrNoHead) {
		return st, ErrNoRun
	}
	if err != nil {
		return st, err
	}
	run, err := subject.NewRun(h.Run)
	if err != nil {
		return st, err
	}
	ep, err := rpc.NewEndpoint(nc, run, "status-"+member.NewIncarnation()[:12], rpc.Options{})
	if err != nil {
		return st, err
	}
	defer ep.Close()
	out, err := ep.Call(ctx, h.Head, rpc.Request{Method: methodStatus})
	if err != nil {
		return st, fmt.Errorf("ask the head of run %s: %w", run.ID(), err)
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("the head's status: %w", err)
	}
	return st, nil
}
