package executor

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/sluice-data/sluice/stage"
)

// ledger books the resources of every node: the CPUs its actors asked for
// and, per GPU device, the fraction of the device its actors hold. The
// executor places each actor through it, so that an actor lands on a node
// with room for it and gets GPU devices that no other live actor holds.
//
// CPUs are a soft limit: when every node is full the actor goes to the node
// with the most CPUs left (the executor's budget may oversubscribe, for
// example to give every running stage one actor). GPU devices are a hard
// limit unless the caller asks to overcommit.
//
// The ledger follows the runtime's membership: a node joins, or is lost
// (tombstoned: it never gets an actor again, even if listed later).
type ledger struct {
	mu      sync.Mutex
	nodes   []*nodeBook
	lost    map[string]bool
	changed chan struct{} // closed (and replaced) whenever room frees up
}

// nodeBook is one node's bookings and what its actors reported.
type nodeBook struct {
	node    stage.Node
	lost    bool
	cpuUsed float64
	gpuUsed []float64 // per device
	actors  int       // live actors placed here
	started int       // every actor placed here
}

// placement is one actor's booking.
type placement struct {
	node    stage.Node
	cpus    float64
	devices []int
	shares  []float64 // fraction of each device taken
}

// errNoLiveNode: every node is lost.
var errNoLiveNode = errors.New("no live node")

// errNoFreeGPU: some node has GPUs for the request, but none is free now.
var errNoFreeGPU = errors.New("no free GPU")

func newLedger() *ledger {
	return &ledger{lost: make(map[string]bool), changed: make(chan struct{})}
}

// join adds node (or updates its resources); a lost node stays lost.
func (l *ledger) join(n stage.Node) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost[n.ID] {
		return
	}
	for _, b := range l.nodes {
		if b.node.ID == n.ID {
			b.node = n
			b.growDevices()
			l.signalLocked()
			return
		}
	}
	b := &nodeBook{node: n}
	b.growDevices()
	l.nodes = append(l.nodes, b)
	l.signalLocked()
}

func (b *nodeBook) growDevices() {
	for len(b.gpuUsed) < int(b.node.GPUs) {
		b.gpuUsed = append(b.gpuUsed, 0)
	}
}

// lose tombstones node id: no actor is placed there again.
func (l *ledger) lose(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lost[id] = true
	for _, b := range l.nodes {
		if b.node.ID == id {
			b.lost = true
		}
	}
}

func (l *ledger) signalLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// wait returns a channel closed the next time room frees up.
func (l *ledger) wait() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// live counts the nodes not lost.
func (l *ledger) live() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, b := range l.nodes {
		if !b.lost {
			n++
		}
	}
	return n
}

// totals returns the CPUs and GPUs of the live nodes.
func (l *ledger) totals() (cpus, gpus float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.nodes {
		if !b.lost {
			cpus += b.node.CPUs
			gpus += b.node.GPUs
		}
	}
	return cpus, gpus
}

// acquire books res on the best node: one whose GPUs can take the request
// without sharing a device beyond its capacity, with the most CPUs left
// (then the fewest actors, then the earliest joined). It fails with
// errNoFreeGPU when only overcommitting would place the actor.
func (l *ledger) acquire(res stage.Resources) (placement, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best *nodeBook
	var bestDev []int
	var bestShares []float64
	gpuNodes, live := 0, 0
	var lastErr error
	for _, b := range l.nodes {
		if b.lost {
			continue
		}
		live++
		g, err := res.EffectiveGPUs(b.node.GPUMemoryGB)
		if err != nil {
			lastErr = err
			continue
		}
		var devs []int
		var shares []float64
		if g > 0 {
			if len(b.gpuUsed) == 0 {
				continue
			}
			gpuNodes++
			var ok bool
			if devs, shares, ok = b.fitGPUs(g); !ok {
				continue
			}
		}
		if best == nil || better(b, best, res.CPUs) {
			best, bestDev, bestShares = b, devs, shares
		}
	}
	switch {
	case best != nil:
		return l.bookLocked(best, res.CPUs, bestDev, bestShares), nil
	case live == 0:
		return placement{}, errNoLiveNode
	case gpuNodes > 0:
		return placement{}, errNoFreeGPU
	case lastErr != nil:
		return placement{}, lastErr
	default:
		return placement{}, fmt.Errorf("the request %+v needs GPUs and no live node has any", res)
	}
}

// better reports whether a is a better node than b for an actor of cpus.
func better(a, b *nodeBook, cpus float64) bool {
	fa, fb := a.node.CPUs-a.cpuUsed, b.node.CPUs-b.cpuUsed
	if math.Abs(fa-fb) > 1e-9 {
		return fa > fb
	}
	return a.actors < b.actors
}

// fitGPUs finds devices for g GPUs without overcommitting: g whole free
// devices (lowest ids first) when g >= 1, or for a fraction the device with
// the least room that still fits it (packing fractions together).
func (b *nodeBook) fitGPUs(g float64) ([]int, []float64, bool) {
	const eps = 1e-9
	if g >= 1 {
		k := int(math.Round(g))
		var devs []int
		for d, used := range b.gpuUsed {
			if used <= eps {
				devs = append(devs, d)
				if len(devs) == k {
					return devs, fill(k, 1), true
				}
			}
		}
		return nil, nil, false
	}
	best := -1
	for d, used := range b.gpuUsed {
		if used+g <= 1+eps && (best < 0 || used > b.gpuUsed[best]) {
			best = d
		}
	}
	if best < 0 {
		return nil, nil, false
	}
	return []int{best}, []float64{g}, true
}

func fill(n int, v float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// overcommit books res on the node and devices with the least GPU load,
// sharing devices beyond their capacity. It is the fallback when more
// actors need GPUs than there are devices (every running stage gets an
// actor, even when that oversubscribes).
func (l *ledger) overcommit(res stage.Resources) (placement, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best *nodeBook
	var bestLoad float64
	for _, b := range l.nodes {
		if b.lost || len(b.gpuUsed) == 0 {
			continue
		}
		if _, err := res.EffectiveGPUs(b.node.GPUMemoryGB); err != nil {
			continue
		}
		load := 0.0
		for _, u := range b.gpuUsed {
			load += u
		}
		load /= float64(len(b.gpuUsed))
		if best == nil || load < bestLoad-1e-9 {
			best, bestLoad = b, load
		}
	}
	if best == nil {
		return placement{}, fmt.Errorf("the request %+v needs GPUs and no live node has any", res)
	}
	g, _ := res.EffectiveGPUs(best.node.GPUMemoryGB)
	k := max(int(math.Round(g)), 1)
	if g < 1 {
		k = 1
	}
	order := make([]int, len(best.gpuUsed))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		switch {
		case best.gpuUsed[x] < best.gpuUsed[y]:
			return -1
		case best.gpuUsed[x] > best.gpuUsed[y]:
			return 1
		}
		return 0
	})
	devs := slices.Clone(order[:min(k, len(order))])
	slices.Sort(devs)
	share := min(g, 1)
	return l.bookLocked(best, res.CPUs, devs, fill(len(devs), share)), nil
}

func (l *ledger) bookLocked(b *nodeBook, cpus float64, devs []int, shares []float64) placement {
	b.cpuUsed += cpus
	for i, d := range devs {
		b.gpuUsed[d] += shares[i]
	}
	b.actors++
	b.started++
	return placement{node: b.node, cpus: cpus, devices: devs, shares: shares}
}

// release gives back p's booking.
func (l *ledger) release(p placement) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.nodes {
		if b.node.ID != p.node.ID {
			continue
		}
		b.cpuUsed -= p.cpus
		for i, d := range p.devices {
			if d < len(b.gpuUsed) {
				b.gpuUsed[d] = max(b.gpuUsed[d]-p.shares[i], 0)
			}
		}
		b.actors--
	}
	l.signalLocked()
}

// report lists every node that was part of the run with the usage of the
// actors in handles.
func (l *ledger) report(handles []*actorHandle) []NodeReport {
	st := l.status(handles)
	out := make([]NodeReport, len(st))
	for i, n := range st {
		out[i] = n.NodeReport
	}
	return out
}

// status lists every node that was part of the run: its resources and
// bookings now, and the usage of the actors in handles placed there.
func (l *ledger) status(handles []*actorHandle) []NodeStatus {
	type sums struct {
		cpu                  time.Duration
		calls, tasks, deaths int64
		peak                 int64
	}
	by := make(map[string]*sums)
	for _, h := range handles {
		s := by[h.pl.node.ID]
		if s == nil {
			s = &sums{}
			by[h.pl.node.ID] = s
		}
		s.cpu += h.use.cpu()
		s.calls += h.calls.Load()
		s.tasks += h.tasks.Load()
		if h.died.Load() {
			s.deaths++
		}
		s.peak = max(s.peak, h.peakRSS.Load())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]NodeStatus, 0, len(l.nodes))
	for _, b := range l.nodes {
		s := by[b.node.ID]
		if s == nil {
			s = &sums{}
		}
		out = append(out, NodeStatus{
			NodeReport: NodeReport{ID: b.node.ID, Lost: b.lost, ActorsStarted: b.started, Calls: s.calls, Tasks: s.tasks,
				ActorDeaths: s.deaths, CPU: s.cpu, PeakRSS: s.peak},
			CPUs: b.node.CPUs, GPUs: b.node.GPUs, GPUMemoryGB: b.node.GPUMemoryGB, CPUsBooked: b.cpuUsed, Actors: b.actors,
		})
	}
	return out
}
