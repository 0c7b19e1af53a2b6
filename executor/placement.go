package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-data/sluice/runtime"
)

// errNoRoom: a growth spawn found no free GPU device and nothing to reclaim.
var errNoRoom = errors.New("no free GPU device for another actor")

// noRoomBackoff is how long a stage waits before trying to grow again after
// errNoRoom.
const noRoomBackoff = 50 * time.Millisecond

// reclaimPoll is how often a placement that waits for a GPU device looks
// again for idle actors to retire.
const reclaimPoll = 10 * time.Millisecond

// book reserves a node (and GPU devices) for one actor of r. When the actor
// needs GPUs and none is free, it asks the stages holding more actors than
// their share to retire idle ones and waits for a device. When no stage is
// above its share, an essential actor (a stage's only one: the pipeline has
// more GPU stages than devices) shares a device, and any other fails with
// errNoRoom.
func (e *Executor) book(ctx context.Context, r *stageRun, essential bool) (placement, error) {
	res := r.st.Resources()
	start := time.Now()
	warned := false
	var orphaned time.Time
	for {
		changed := e.ledger.wait()
		pl, err := e.ledger.acquire(res)
		if err == nil {
			return pl, nil
		}
		if errors.Is(err, errNoLiveNode) {
			if err := e.waitNode(ctx, r.name(), changed, &orphaned); err != nil {
				return placement{}, fmt.Errorf("stage %s: place actor: %w", r.name(), err)
			}
			continue
		}
		if !errors.Is(err, errNoFreeGPU) {
			return placement{}, fmt.Errorf("stage %s: place actor: %w", r.name(), err)
		}
		if !e.reclaimGPUs(r) {
			if !essential {
				return placement{}, errNoRoom
			}
			pl, err := e.ledger.overcommit(res)
			if err != nil {
				return placement{}, fmt.Errorf("stage %s: place actor: %w", r.name(), err)
			}
			e.log.Warn("more GPU actors than GPU devices: sharing a device", "stage", r.name(), "node", pl.node.ID, "devices", pl.devices)
			return pl, nil
		}
		if !warned && time.Since(start) > 10*time.Second {
			warned = true
			e.log.Warn("waiting for another stage to release a GPU device", "stage", r.name(), "waited", time.Since(start).Round(time.Second))
		}
		t := time.NewTimer(reclaimPoll)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return placement{}, context.Cause(ctx)
		}
		t.Stop()
	}
}

// reclaimGPUs retires an idle actor of every other running GPU stage that
// has more actors than its share of the budget. It reports whether any such
// stage exists (so that waiting will free a device).
func (e *Executor) reclaimGPUs(r *stageRun) bool {
	e.mu.Lock()
	b := e.budget
	e.mu.Unlock()
	if b == nil {
		return false
	}
	above := false
	for _, s := range b.running() {
		if s == r {
			continue
		}
		if res := s.st.Resources(); res.GPUs <= 0 && res.GPUMemoryGB <= 0 {
			continue
		}
		p := s.runner.Load()
		if p == nil {
			continue
		}
		if p.numActors() > b.target(s) {
			above = true
			p.retireIdle()
		}
	}
	return above
}

// waitNode waits, after every node was lost, for a node to join (changed
// is the ledger's signal, taken before the ledger was read), up to the
// runtime's RejoinWait counted from *since (set on the first call). It
// returns errNoLiveNode at once on a runtime whose nodes never come back.
func (e *Executor) waitNode(ctx context.Context, stage string, changed <-chan struct{}, since *time.Time) error {
	rj, ok := e.rt.(runtime.Rejoiner)
	if !ok || rj.RejoinWait() <= 0 {
		return errNoLiveNode
	}
	limit := rj.RejoinWait()
	if since.IsZero() {
		*since = time.Now()
		e.log.Warn("every node is lost; waiting for one to join", "stage", stage, "up_to", limit)
	}
	left := limit - time.Since(*since)
	if left <= 0 {
		return fmt.Errorf("%w: none joined within %s", errNoLiveNode, limit)
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-changed:
		return nil
	case <-t.C:
		return fmt.Errorf("%w: none joined within %s", errNoLiveNode, limit)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// onNodeEvent follows the runtime's membership: a node that joins can take
// actors, a lost node takes no more, and its idle actors are stopped and
// replaced elsewhere (its busy actors die in their calls, reason lost, and
// are replaced like any dead actor).
func (e *Executor) onNodeEvent(ev runtime.NodeEvent) {
	switch ev.Kind {
	case runtime.NodeJoined:
		e.log.Info("node joined", "node", ev.Node.ID, "cpus", ev.Node.CPUs, "gpus", ev.Node.GPUs)
		e.ledger.join(ev.Node)
	case runtime.NodeLost:
		e.log.Warn("node lost; its actors are replaced on the other nodes", "node", ev.Node.ID, "reason", ev.Reason)
		e.ledger.lose(ev.Node.ID)
		e.mu.Lock()
		runs := e.runs
		e.mu.Unlock()
		for _, r := range runs {
			if p := r.runner.Load(); p != nil {
				p.evictNode(ev.Node.ID)
			}
		}
	}
}
