package member

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EventKind says what happened to a node.
type EventKind int

// Event kinds.
const (
	NodeUp EventKind = iota + 1
	NodeLost
)

func (k EventKind) String() string {
	switch k {
	case NodeUp:
		return "up"
	case NodeLost:
		return "lost"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a change of membership.
type Event struct {
	Kind EventKind
	Node NodeInfo
	// Reason says why a node was lost: "disconnected: …", "lease expired",
	// "left", or what DeclareLost was told.
	Reason string
	At     time.Time
}

// MonitorOptions configure a Monitor.
type MonitorOptions struct {
	// Sys, when set, is a system-account connection: the monitor then
	// listens to the server's disconnect advisories of Account and declares
	// a worker lost the moment one of its connections closes.
	Sys     *nats.Conn
	Account string
	// Revoke makes the monitor delete the key of a lost incarnation, so
	// that the incarnation's lease fails its next renewal. The head sets
	// it; workers watching membership leave it off.
	Revoke bool
	Logger *slog.Logger
}

// Monitor follows a run's membership: it watches node.* keys (and, on the
// head, disconnect advisories) and tells subscribers when nodes come and
// go. Lost incarnations are remembered for the Monitor's lifetime and
// never come back.
type Monitor struct {
	kv   jetstream.KeyValue
	opts MonitorOptions

	mu    sync.Mutex
	live  map[string]NodeInfo
	lost  map[string]chan struct{} // closed channels of lost incarnations; open ones of live ones
	ready chan struct{}            // closed once the initial values were read

	// Events wait in queue (guarded by mu, unbounded so that emitting never
	// blocks) until deliver hands them to the subscribers, in order.
	queue   []Event
	closing bool
	wake    chan struct{}

	subMu sync.Mutex
	subs  map[int]func(Event)
	next  int

	cancel context.CancelFunc
	wg     sync.WaitGroup
	adv    *nats.Subscription
}

// NewMonitor starts watching kv's nodes.
func NewMonitor(ctx context.Context, kv jetstream.KeyValue, opts MonitorOptions) (*Monitor, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{
		kv: kv, opts: opts,
		live: make(map[string]NodeInfo), lost: make(map[string]chan struct{}),
		subs: make(map[int]func(Event)), ready: make(chan struct{}),
		wake: make(chan struct{}, 1),
	}
	wctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	// The watch lives as long as the monitor; ctx bounds only the start.
	w, err := kv.Watch(wctx, nodePrefix+">")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("member: watch nodes: %w", err)
	}
	if opts.Sys != nil {
		subj := fmt.Sprintf("$SYS.ACCOUNT.%s.DISCONNECT", opts.Account)
		m.adv, err = opts.Sys.Subscribe(subj, m.onAdvisory)
		if err == nil {
			err = opts.Sys.Flush()
		}
		if err != nil {
			w.Stop()
			cancel()
			return nil, fmt.Errorf("member: subscribe to %s: %w", subj, err)
		}
	}
	m.wg.Add(2)
	go m.watch(wctx, w)
	go m.deliver()
	select {
	case <-m.ready:
	case <-ctx.Done():
		m.Close()
		return nil, fmt.Errorf("member: read nodes: %w", ctx.Err())
	}
	return m, nil
}

// Close stops the monitor. Subscribers get no more events.
func (m *Monitor) Close() {
	if m.adv != nil {
		m.adv.Unsubscribe()
	}
	m.cancel()
	m.wg.Wait()
}

// Subscribe calls fn with every later event, in order, from one goroutine
// (fn must not block for long). It returns a function that unsubscribes.
func (m *Monitor) Subscribe(fn func(Event)) (cancel func()) {
	m.subMu.Lock()
	defer m.subMu.Unlock()
	id := m.next
	m.next++
	m.subs[id] = fn
	return func() {
		m.subMu.Lock()
		defer m.subMu.Unlock()
		delete(m.subs, id)
	}
}

// Nodes returns the live nodes, sorted by name then incarnation.
func (m *Monitor) Nodes() []NodeInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]NodeInfo, 0, len(m.live))
	for _, n := range m.live {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Incarnation < out[j].Incarnation
	})
	return out
}

// Lost returns a channel that is closed when incarnation is declared lost
// (at once if it already was). An incarnation the monitor has not seen yet
// gets a channel that closes if it is later lost.
func (m *Monitor) Lost(incarnation string) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lostChan(incarnation)
}

func (m *Monitor) lostChan(inc string) chan struct{} {
	c, ok := m.lost[inc]
	if !ok {
		c = make(chan struct{})
		m.lost[inc] = c
	}
	return c
}

// IsLost reports whether incarnation was declared lost.
func (m *Monitor) IsLost(incarnation string) bool {
	select {
	case <-m.Lost(incarnation):
		return true
	default:
		return false
	}
}

// WaitNodes waits until at least n nodes are live and returns them.
func (m *Monitor) WaitNodes(ctx context.Context, n int) ([]NodeInfo, error) {
	changed := make(chan struct{}, 1)
	cancel := m.Subscribe(func(Event) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer cancel()
	for {
		if nodes := m.Nodes(); len(nodes) >= n {
			return nodes, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return m.Nodes(), fmt.Errorf("member: %d of %d workers joined: %w", len(m.Nodes()), n, ctx.Err())
		}
	}
}

// DeclareLost marks incarnation lost (once; later calls do nothing) and,
// with Revoke, deletes its key.
func (m *Monitor) DeclareLost(incarnation, reason string) {
	m.mu.Lock()
	c := m.lostChan(incarnation)
	select {
	case <-c:
		m.mu.Unlock()
		return
	default:
	}
	close(c)
	info, wasLive := m.live[incarnation]
	delete(m.live, incarnation)
	if wasLive {
		m.emit(Event{Kind: NodeLost, Node: info, Reason: reason, At: time.Now()})
	}
	m.mu.Unlock()
	if wasLive && m.opts.Revoke {
		m.opts.Logger.Warn("node lost", "node", info.Name, "incarnation", incarnation, "reason", reason)
	}
	if m.opts.Revoke {
		m.revoke(incarnation)
	}
}

// revoke deletes an incarnation's key so that its lease fails.
func (m *Monitor) revoke(incarnation string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.kv.Delete(ctx, NodeKey(incarnation)); err != nil {
		m.opts.Logger.Debug("revoke lost incarnation", "incarnation", incarnation, "err", err)
	}
}

// emit queues ev for the subscribers; m.mu is held, so events keep their order.
func (m *Monitor) emit(ev Event) {
	m.queue = append(m.queue, ev)
	m.signal()
}

func (m *Monitor) signal() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// deliver hands queued events to the subscribers until the monitor closes.
func (m *Monitor) deliver() {
	defer m.wg.Done()
	for range m.wake {
		m.mu.Lock()
		evs, closing := m.queue, m.closing
		m.queue = nil
		m.mu.Unlock()
		for _, ev := range evs {
			m.subMu.Lock()
			fns := make([]func(Event), 0, len(m.subs))
			for _, fn := range m.subs {
				fns = append(fns, fn)
			}
			m.subMu.Unlock()
			for _, fn := range fns {
				fn(ev)
			}
		}
		if closing {
			return
		}
	}
}

// watch follows the node keys until ctx ends.
func (m *Monitor) watch(ctx context.Context, w jetstream.KeyWatcher) {
	defer m.wg.Done()
	defer func() {
		m.mu.Lock()
		m.closing = true
		m.signal()
		m.mu.Unlock()
	}()
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				close(m.ready)
				continue
			}
			m.onEntry(e)
		}
	}
}

func (m *Monitor) onEntry(e jetstream.KeyValueEntry) {
	inc := strings.TrimPrefix(e.Key(), nodePrefix)
	switch e.Operation() {
	case jetstream.KeyValuePurge:
		m.DeclareLost(inc, "lease expired")
	case jetstream.KeyValueDelete:
		m.DeclareLost(inc, "left")
	case jetstream.KeyValuePut:
		var info NodeInfo
		if err := json.Unmarshal(e.Value(), &info); err != nil || info.Incarnation != inc {
			m.opts.Logger.Warn("ignoring a malformed node entry", "key", e.Key(), "err", err)
			return
		}
		m.up(info)
	}
}

// up records a node, unless its incarnation is known (a renewal) or was
// lost (a zombie's renewal: revoked again).
func (m *Monitor) up(info NodeInfo) {
	m.mu.Lock()
	c := m.lostChan(info.Incarnation)
	select {
	case <-c:
		m.mu.Unlock()
		if m.opts.Revoke {
			m.revoke(info.Incarnation)
		}
		return
	default:
	}
	_, known := m.live[info.Incarnation]
	m.live[info.Incarnation] = info
	if !known {
		m.emit(Event{Kind: NodeUp, Node: info, At: time.Now()})
	}
	m.mu.Unlock()
	if !known && m.opts.Revoke { // the head's monitor; workers' follow quietly
		m.opts.Logger.Info("node up", "node", info.Name, "incarnation", info.Incarnation, "cpus", info.CPUs, "gpus", info.GPUs)
	}
}

// onAdvisory handles a disconnect advisory of the run account.
func (m *Monitor) onAdvisory(msg *nats.Msg) {
	var ev server.DisconnectEventMsg
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		return
	}
	inc, ok := IncarnationOf(ev.Client.Name)
	if !ok {
		return
	}
	m.DeclareLost(inc, "disconnected: "+ev.Reason)
}
