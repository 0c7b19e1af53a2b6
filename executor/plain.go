package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// batch is one unit of dispatch: a slice of tasks and its history.
type batch struct {
	one      [1]task.Task // storage for batches of one task, saving an allocation
	res      callResult   // the outcome of the batch's current call
	tasks    []task.Task
	attempts []task.Attempt
	errors   int // attempts that ended in a stage error
	deaths   int // attempts that killed the actor
}

// callResult is what one pool call produced.
type callResult struct {
	b     *batch
	actor *actorHandle
	out   []task.Task
	err   error
	dur   time.Duration
}

// plainRunner dispatches the batches of a plain or fan-out stage through an
// actor pool, unordered, with retries, actor replacement and backpressure.
type plainRunner struct {
	r      *stageRun
	ctx    context.Context
	cancel context.CancelCauseFunc
	pool   *Pool[*actorHandle, *batch, *callResult]
	// targetFn returns how many actors the stage should have now; target
	// caches it, since it is asked after every batch.
	targetFn   func() int
	targetVal  atomic.Int64
	targetTime atomic.Int64 // calls of target
	emit       func(ctx context.Context, t task.Task) error

	mu          sync.Mutex
	cond        *sync.Cond
	outstanding int // submitted to the pool, not yet collected
	retrying    int // waiting in backoff before resubmission
	spawning    int
	inputDone   bool
	closing     bool // runPlain has taken the actor list to stop it
	actors      []*actorHandle
	sinceOK     atomic.Int64   // actor deaths since the last successful batch
	noRoomUntil atomic.Int64   // unix ns: no growth spawn before (no GPU device was free)
	lastWant    atomic.Int64   // the target last acted on
	stops       sync.WaitGroup // teardowns of dead actors
}

// runPlain runs stage r over the tasks of pre and then in, emitting outputs as batches
// finish. It returns when in is closed and every batch is done, or on the
// first fatal error.
func (e *Executor) runPlain(ctx context.Context, r *stageRun, pre []task.Task, in <-chan task.Task, target func() int, emit func(context.Context, task.Task) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p := &plainRunner{r: r, ctx: ctx, cancel: cancel, targetFn: target, emit: emit}
	p.cond = sync.NewCond(&p.mu)
	p.pool = NewPool[*actorHandle, *batch, *callResult](nil, PoolOptions{
		MaxPending: max(e.cfg.MaxPending, 1),
		IsDead:     runtime.IsDied,
	})
	r.runner.Store(p)
	defer r.runner.Store(nil)
	// Wake waiters when the stage is cancelled.
	stopWake := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stopWake()

	feedErr := make(chan error, 1)
	go func() { feedErr <- p.feed(pre, in) }()
	err := p.collect()
	if err != nil {
		cancel(err)
	}
	ferr := <-feedErr
	// Wait for retry goroutines and spawns, so nothing touches the pool after Close.
	p.mu.Lock()
	for p.retrying > 0 || p.spawning > 0 {
		p.cond.Wait()
	}
	actors := p.actors
	p.actors = nil
	p.closing = true
	p.mu.Unlock()
	p.pool.Close()
	r.stopAll(ctx, actors)
	p.stops.Wait()
	if err == nil && ferr != nil {
		err = ferr
	}
	if err == nil {
		if cerr := context.Cause(ctx); cerr != nil && !errors.Is(cerr, context.Canceled) {
			err = cerr
		} else if ctx.Err() != nil {
			err = ctx.Err()
		}
	}
	return err
}

// feed turns the input into batches and submits them, spawning actors up to
// the target as work arrives.
func (p *plainRunner) feed(pre []task.Task, in <-chan task.Task) error {
	bs := p.r.st.BatchSize()
	if bs <= 0 {
		bs = 1
	}
	defer func() {
		p.r.inputDone.Store(true)
		p.mu.Lock()
		p.inputDone = true
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	newBatch := func() *batch {
		b := &batch{}
		if bs == 1 {
			b.tasks = b.one[:0]
		} else {
			b.tasks = make([]task.Task, 0, bs)
		}
		return b
	}
	cur := newBatch()
	for {
		var t task.Task
		var ok bool
		if len(pre) > 0 {
			t, ok, pre = pre[0], true, pre[1:]
		} else {
			select {
			case t, ok = <-in: // fast path: a task is ready
			default:
				select {
				case t, ok = <-in:
				case <-p.ctx.Done():
					return nil
				}
			}
		}
		if ok {
			p.r.markStart()
			p.r.tasksIn.Add(1)
			p.r.itemsIn.Add(int64(t.NumItems()))
			p.r.bar.addIn(1)
			cur.tasks = append(cur.tasks, t)
			if len(cur.tasks) < bs {
				continue
			}
		}
		if len(cur.tasks) > 0 {
			if err := p.submit(cur); err != nil {
				return err
			}
			if p.ctx.Err() != nil {
				return nil // stopped: dispatch nothing more
			}
			cur = newBatch()
		}
		if !ok {
			return nil
		}
	}
}

// submit waits for room (outstanding below actors + pending), makes sure the
// stage has actors, and hands b to the pool.
func (p *plainRunner) submit(b *batch) error {
	p.mu.Lock()
	for p.ctx.Err() == nil && p.outstanding >= len(p.actors)+max(p.r.e.cfg.MaxPending, 1) {
		p.cond.Wait()
	}
	first := len(p.actors)+p.spawning == 0
	p.mu.Unlock()
	if err := p.ctx.Err(); err != nil {
		return nil // the collector reports the cause
	}
	if first { // the stage's first actor: set it up before anything else
		h, err := p.r.spawn(p.ctx, true)
		if err != nil {
			return err
		}
		p.addActor(h)
	}
	for {
		err := p.pool.Submit(p.ctx, p.call, b)
		if err == nil {
			break
		}
		if p.ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, ErrNoActors) {
			return fmt.Errorf("stage %s: submit: %w", p.r.name(), err)
		}
		// The last actor died and the collector has not replaced it yet.
		if err := p.replaceLost(); err != nil {
			return err
		}
	}
	want := p.target()
	p.mu.Lock()
	p.outstanding++
	p.cond.Broadcast()
	p.growLocked(want)
	p.mu.Unlock()
	return nil
}

// target is targetFn, recomputed on every 32nd call (it is asked twice per
// batch, and the budget changes slowly).
func (p *plainRunner) target() int {
	if p.targetTime.Add(1)%32 != 1 {
		return int(p.targetVal.Load())
	}
	v := p.targetFn()
	p.targetVal.Store(int64(v))
	return v
}

// grow starts background spawns until actors + spawning reaches the target,
// but never beyond the batches that are waiting for an actor.
func (p *plainRunner) grow() {
	want := p.target()
	p.mu.Lock()
	p.growLocked(want)
	p.mu.Unlock()
}

func (p *plainRunner) growLocked(want int) {
	want = min(want, max(p.outstanding, 1))
	if len(p.actors)+p.spawning >= want || p.closing || p.ctx.Err() != nil {
		return
	}
	if until := p.noRoomUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return // a growth spawn found no room a moment ago
	}
	for len(p.actors)+p.spawning < want {
		p.spawning++
		go func() {
			h, err := p.r.spawn(p.ctx, false)
			switch {
			case err == nil:
				p.addActor(h)
			case errors.Is(err, errNoRoom):
				p.noRoomUntil.Store(time.Now().Add(noRoomBackoff).UnixNano())
			case p.ctx.Err() == nil:
				p.cancel(err)
			}
			p.mu.Lock()
			p.spawning--
			p.cond.Broadcast()
			p.mu.Unlock()
		}()
	}
}

// shrink retires one idle actor when the stage has more than its target
// (streaming mode gives CPUs to the stages that need them).
func (p *plainRunner) shrink(want int) {
	p.mu.Lock()
	over := len(p.actors) > want && len(p.actors) > 1
	p.mu.Unlock()
	if !over {
		return
	}
	h, ok := p.pool.PopIdle()
	if !ok {
		return
	}
	p.removeActor(h)
	p.r.retire(h)
	p.stops.Go(func() { p.r.stop(p.ctx, h) })
}

// numActors is the number of live actors of the stage.
func (p *plainRunner) numActors() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.actors)
}

// retireIdle stops one idle actor, if one is idle (to free its GPU device
// for another stage). It runs in another stage's goroutine.
func (p *plainRunner) retireIdle() {
	h, ok := p.pool.PopIdle()
	if !ok {
		return
	}
	p.retireOutOfPool(h)
}

// retireOutOfPool stops h, which was just taken out of the pool, unless the
// stage is ending (runPlain then stops it with the others).
func (p *plainRunner) retireOutOfPool(h *actorHandle) {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	p.removeActorLocked(h)
	p.stops.Add(1)
	p.mu.Unlock()
	p.r.retire(h)
	go func() { defer p.stops.Done(); p.r.stop(p.ctx, h) }()
}

// evictNode stops the idle actors on a lost node and spawns replacements
// on the other nodes. Busy actors there die in their calls. It runs in the
// runtime's event goroutine, possibly while the stage ends.
func (p *plainRunner) evictNode(id string) {
	p.mu.Lock()
	var victims []*actorHandle
	for _, h := range p.actors {
		if h.pl.node.ID == id {
			victims = append(victims, h)
		}
	}
	p.mu.Unlock()
	for _, h := range victims {
		if p.pool.Remove(h) {
			p.retireOutOfPool(h)
		}
	}
	if len(victims) > 0 {
		p.grow()
	}
}

func (p *plainRunner) addActor(h *actorHandle) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing || p.ctx.Err() != nil {
		// Too late: the stage is ending. Stop it here so it is not leaked.
		p.stops.Go(func() { p.r.stop(p.ctx, h) })
		return
	}
	p.actors = append(p.actors, h)
	if err := p.pool.Push(h); err != nil {
		p.r.e.log.Warn("push actor", "err", err)
	}
	p.cond.Broadcast()
}

func (p *plainRunner) removeActor(h *actorHandle) {
	p.mu.Lock()
	p.removeActorLocked(h)
	p.mu.Unlock()
}

func (p *plainRunner) removeActorLocked(h *actorHandle) {
	for i, a := range p.actors {
		if a == h {
			p.actors = append(p.actors[:i], p.actors[i+1:]...)
			break
		}
	}
}

// call runs one batch on one actor.
func (p *plainRunner) call(ctx context.Context, h *actorHandle, b *batch) (*callResult, error) {
	cctx := p.ctx
	if p.r.timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(cctx, p.r.timeout)
		defer cancel()
	}
	res, dur, err := p.r.invoke(cctx, h, runtime.Call{Method: runtime.Process, Tasks: b.tasks, Attempt: len(b.attempts) + 1})
	// A batch is in one call at a time, so its result can live in it.
	b.res = callResult{b: b, actor: h, out: res.Tasks, err: err, dur: dur}
	return &b.res, err
}

// collect takes results as they finish until the input is done and nothing
// is outstanding.
func (p *plainRunner) collect() error {
	collected := false
	for {
		p.mu.Lock()
		if collected {
			p.outstanding--
			p.cond.Broadcast()
			collected = false
		}
		for p.outstanding == 0 && !(p.inputDone && p.retrying == 0) && p.ctx.Err() == nil {
			p.cond.Wait()
		}
		if p.ctx.Err() != nil {
			p.mu.Unlock()
			return context.Cause(p.ctx)
		}
		if p.outstanding == 0 {
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()

		res, err := p.pool.GetNextUnordered(p.ctx, PoolNoTimeout)
		if res == nil {
			if errors.Is(err, ErrNoActors) {
				if err := p.replaceLost(); err != nil {
					return err
				}
				continue
			}
			if p.ctx.Err() != nil {
				return context.Cause(p.ctx)
			}
			return fmt.Errorf("stage %s: collect: %w", p.r.name(), err)
		}
		collected = true
		p.r.busy.Add(int64(res.dur))
		if err := p.handle(res); err != nil {
			return err
		}
	}
}

// replaceLost is called when work is queued and the pool has no live actor
// left: it spawns one synchronously, or fails the stage if none can be set up.
func (p *plainRunner) replaceLost() error {
	p.mu.Lock()
	for p.spawning > 0 && p.ctx.Err() == nil {
		p.cond.Wait()
	}
	p.mu.Unlock()
	if p.pool.NumActors() > 0 {
		return nil
	}
	h, err := p.r.spawn(p.ctx, true)
	if err != nil {
		return fmt.Errorf("stage %s: work is queued but no actor can run it: %w", p.r.name(), err)
	}
	p.addActor(h)
	return nil
}

func (p *plainRunner) handle(res *callResult) error {
	if res.err != nil {
		// The batch may be retried, and its next call overwrites b.res:
		// keep a copy for whatever outlives this call (teardown, history).
		cp := *res
		res = &cp
	}
	b := res.b
	if res.err == nil {
		p.sinceOK.Store(0)
		out := res.out
		if slices.ContainsFunc(out, func(t task.Task) bool { return t == nil || task.IsSentinel(t) }) {
			out = dropSentinels(out)
		}
		task.DeriveIDs(b.tasks, out)
		rec := task.PerfRecord{Stage: p.r.name(), ProcessTime: res.dur, ItemsIn: countItems(b.tasks), ItemsOut: countItems(out)}
		for _, t := range out {
			t.AddPerf(rec)
		}
		p.r.bar.addDone(int64(len(b.tasks)))
		for _, t := range out {
			p.r.tasksOut.Add(1)
			p.r.itemsOut.Add(int64(t.NumItems()))
			if err := p.emit(p.ctx, t); err != nil {
				return err
			}
		}
		if want := p.target(); int64(want) != p.lastWant.Load() {
			// The budget changed: spawn or retire toward the new target.
			p.lastWant.Store(int64(want))
			p.grow()
			p.shrink(want)
		}
		return nil
	}

	if p.ctx.Err() != nil {
		// The stage is being cancelled and the call most likely ended because
		// of it: that is no attempt of the batch's, so record nothing (no
		// death, no permanent failure) and report the cancellation's cause.
		return context.Cause(p.ctx)
	}
	at := task.Attempt{Actor: res.actor.id, Outcome: "error", Error: res.err.Error(), At: time.Now().UTC()}
	var died *runtime.DiedError
	if errors.As(res.err, &died) {
		at.Outcome = died.Reason
		p.r.e.logPanic(p.r.name(), res.actor.id, b.tasks, res.err, &at)
		b.deaths++
		p.r.deaths.Add(1)
		res.actor.died.Store(true)
		p.r.e.emit(Event{Kind: EventActorDeath, Stage: p.r.name(), Actor: res.actor.id, Node: res.actor.pl.node.ID,
			Task: firstID(b.tasks), Reason: died.Reason, Error: res.err.Error(), Attempt: len(b.attempts) + 1})
		p.removeActor(res.actor)
		p.r.retire(res.actor)
		p.stops.Go(func() { p.r.stop(p.ctx, res.actor) })
		dying := int(p.sinceOK.Add(1))
		limit := p.r.maxDeaths * max(p.target(), 1) * 2
		if dying > limit {
			return fmt.Errorf("stage %s: %d actors died in a row without any batch succeeding; last: %w", p.r.name(), dying, res.err)
		}
		p.grow()
	} else {
		b.errors++
	}
	b.attempts = append(b.attempts, at)
	if b.deaths >= p.r.maxDeaths || b.errors >= p.r.maxAttempts || stage.IsPermanent(res.err) {
		return p.fail(b)
	}
	p.r.retries.Add(1)
	p.r.e.emit(Event{Kind: EventRetry, Stage: p.r.name(), Actor: res.actor.id, Node: res.actor.pl.node.ID,
		Task: firstID(b.tasks), Reason: at.Outcome, Error: at.Error, Attempt: len(b.attempts) + 1})
	p.resubmit(b)
	return nil
}

// resubmit puts b back after an exponential backoff. It never blocks the
// collector.
func (p *plainRunner) resubmit(b *batch) {
	p.mu.Lock()
	p.retrying++
	p.mu.Unlock()
	delay := p.r.e.cfg.RetryBackoff << min(len(b.attempts)-1, 10)
	go func() {
		defer func() {
			p.mu.Lock()
			p.retrying--
			p.cond.Broadcast()
			p.mu.Unlock()
		}()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-p.ctx.Done():
			return
		}
		if err := p.submit(b); err != nil && p.ctx.Err() == nil {
			p.cancel(err)
		}
	}()
}

// fail turns every task of b into a task.Failed.
func (p *plainRunner) fail(b *batch) error {
	p.r.bar.addDone(int64(len(b.tasks)))
	for _, t := range b.tasks {
		f := task.NewFailed(t, p.r.name(), b.attempts)
		p.r.failed.Add(1)
		if err := p.r.e.recordFailed(f); err != nil {
			return err
		}
	}
	return p.r.e.checkPolicy(p.r, false)
}

func countItems(ts []task.Task) int {
	n := 0
	for _, t := range ts {
		n += t.NumItems()
	}
	return n
}
