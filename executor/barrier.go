package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// runBarrier runs a shuffle, LSH or collective stage over all of its input.
// A barrier stage cannot retry one batch on its own (its actors share state),
// so a failure retries the whole stage with fresh actors, up to MaxAttempts.
func (e *Executor) runBarrier(ctx context.Context, r *stageRun, tasks []task.Task) ([]task.Task, error) {
	r.markStart()
	defer r.markEnd()
	r.tasksIn.Add(int64(len(tasks)))
	r.itemsIn.Add(int64(countItems(tasks)))
	r.bar.addIn(int64(len(tasks)))
	r.inputDone.Store(true)
	var lastErr error
	for attempt := 1; attempt <= r.maxAttempts; attempt++ {
		if attempt > 1 {
			r.retries.Add(1)
			e.log.Warn("retrying barrier stage with fresh actors", "stage", r.name(), "attempt", attempt, "err", lastErr)
			e.emit(Event{Kind: EventRetry, Stage: r.name(), Error: lastErr.Error(), Attempt: attempt})
			select {
			case <-time.After(e.cfg.RetryBackoff << min(attempt-2, 10)):
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
		}
		out, err := e.runBarrierOnce(ctx, r, tasks, attempt)
		if err == nil {
			for _, t := range out {
				r.tasksOut.Add(1)
				r.itemsOut.Add(int64(t.NumItems()))
			}
			r.bar.addDone(int64(len(tasks)))
			return out, nil
		}
		if ctx.Err() != nil || stage.IsPermanent(err) {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("stage %s: failed after %d attempts: %w", r.name(), r.maxAttempts, lastErr)
}

func (e *Executor) runBarrierOnce(ctx context.Context, r *stageRun, tasks []task.Task, attempt int) ([]task.Task, error) {
	res := r.st.Resources()
	var orphaned time.Time
	for {
		changed := e.ledger.wait()
		if e.ledger.live() > 0 {
			break
		}
		if err := e.waitNode(ctx, r.name(), changed, &orphaned); err != nil {
			return nil, fmt.Errorf("stage %s: %w", r.name(), err)
		}
	}
	cpus, gpus := e.free()
	n, warn, err := ActorCount(len(tasks), r.st.BatchSize(), cpus, gpus, res.CPUs, res.GPUs, r.st.NumWorkers())
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", r.name(), err)
	}
	if warn != "" {
		e.log.Warn(warn, "stage", r.name())
	}
	switch r.st.Kind() {
	case stage.Collective:
		return e.runCollective(ctx, r, tasks, n, attempt)
	case stage.LSH:
		ls, ok := stage.AsLSH(r.st)
		if !ok {
			return nil, fmt.Errorf("stage %s: kind lsh but it does not implement stage.LSHStage", r.name())
		}
		var all []task.Task
		for iter := range max(ls.Iterations(), 1) {
			out, err := e.runShuffle(ctx, r, tasks, n, iter, attempt)
			if err != nil {
				return nil, fmt.Errorf("stage %s: %s: %w", r.name(), ls.IterationName(iter), err)
			}
			all = append(all, out...)
		}
		return all, nil
	default:
		return e.runShuffle(ctx, r, tasks, n, 0, attempt)
	}
}

// runShuffle runs the three shuffle phases once with n fresh actors.
func (e *Executor) runShuffle(ctx context.Context, r *stageRun, tasks []task.Task, n, iter, attempt int) (out []task.Task, err error) {
	ss, ok := stage.AsShuffle(r.st)
	if !ok {
		return nil, fmt.Errorf("stage %s: kind %s but it does not implement stage.ShuffleStage", r.name(), r.st.Kind())
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g := runtime.Group{NumPartitions: NumPartitions(ss.NumPartitions(), r.st.Kind(), len(tasks))}
	if e.cfg.ShuffleMemoryLimit > 0 {
		g.MemoryLimit = max(e.cfg.ShuffleMemoryLimit/int64(n), 1)
	}
	actors, err := r.spawnGroup(ctx, n, g, iter)
	if err != nil {
		return nil, err
	}
	defer r.stopAll(ctx, actors)

	// Phase 1: insert, load-balanced through the pool.
	pool := NewPool[*actorHandle, []task.Task, struct{}](actors, PoolOptions{MaxPending: 2 * n, IsDead: runtime.IsDied})
	defer pool.Close()
	insert := func(ctx context.Context, h *actorHandle, b []task.Task) (struct{}, error) {
		_, dur, err := r.invoke(ctx, h, runtime.Call{Method: runtime.Insert, Tasks: b, Attempt: attempt})
		r.busy.Add(int64(dur))
		r.barrierDeath(ctx, h, b, err, attempt)
		return struct{}{}, err
	}
	batches := Batches(tasks, r.st.BatchSize())
	submitted := make(chan struct{}, len(batches))
	submitErr := make(chan error, 1)
	go func() {
		defer close(submitted)
		for _, b := range batches {
			if err := pool.Submit(ctx, insert, b); err != nil {
				submitErr <- err
				cancel(err)
				return
			}
			submitted <- struct{}{}
		}
		submitErr <- nil
	}()
	for range submitted {
		_, err := pool.GetNextUnordered(ctx, PoolNoTimeout)
		if err != nil {
			cancel(err)
			for range submitted {
			}
			<-submitErr
			return nil, fmt.Errorf("insert: %w", err)
		}
	}
	if err := <-submitErr; err != nil {
		return nil, fmt.Errorf("insert: %w", err)
	}

	// Phase 2: insertFinished on every actor (a barrier).
	if _, err := r.onAll(ctx, actors, runtime.InsertFinished, nil, attempt); err != nil {
		return nil, fmt.Errorf("insert finished: %w", err)
	}
	// Phase 3: extractAndWrite on every actor; outputs in rank order.
	outs, err := r.onAll(ctx, actors, runtime.ExtractAndWrite, nil, attempt)
	if err != nil {
		return nil, fmt.Errorf("extract and write: %w", err)
	}
	for _, o := range outs {
		out = append(out, o...)
	}
	task.DeriveIDs(tasks, out)
	return out, nil
}

// runCollective runs a collective stage: one contiguous chunk of the tasks per
// actor, all actors at once, in one group.
func (e *Executor) runCollective(ctx context.Context, r *stageRun, tasks []task.Task, n, attempt int) ([]task.Task, error) {
	chunks := ArraySplit(tasks, n)
	actors, err := r.spawnGroup(ctx, len(chunks), runtime.Group{}, 0)
	if err != nil {
		return nil, err
	}
	defer r.stopAll(ctx, actors)
	outs, err := r.onAll(ctx, actors, runtime.Process, chunks, attempt)
	if err != nil {
		return nil, err
	}
	var out []task.Task
	for i, o := range outs {
		o = dropSentinels(o)
		task.DeriveIDs(chunks[i], o)
		out = append(out, o...)
	}
	return out, nil
}

// onAll calls m on every actor at once (actor i gets args[i], if any) and
// waits for all. The first failure cancels the others, so that actors blocked
// in a collective with the failed one return.
func (r *stageRun) onAll(ctx context.Context, actors []*actorHandle, m runtime.Method, args [][]task.Task, attempt int) ([][]task.Task, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	outs := make([][]task.Task, len(actors))
	errs := make([]error, len(actors))
	var wg sync.WaitGroup
	for i, h := range actors {
		var in []task.Task
		if args != nil {
			in = args[i]
		}
		wg.Go(func() {
			cctx := ctx
			if r.timeout > 0 {
				var c context.CancelFunc
				cctx, c = context.WithTimeout(ctx, r.timeout)
				defer c()
			}
			res, dur, err := r.invoke(cctx, h, runtime.Call{Method: m, Tasks: in, Attempt: attempt})
			r.busy.Add(int64(dur))
			if err != nil {
				r.barrierDeath(ctx, h, in, err, attempt)
				errs[i] = fmt.Errorf("actor %s (rank %d): %s: %w", h.id, i, m, err)
				cancel(errs[i])
				return
			}
			outs[i] = res.Tasks
		})
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		return nil, err
	}
	return outs, nil
}

// barrierDeath counts and reports the death of a barrier actor, if err
// is one (the group's attempt fails with it and is retried whole). Calls
// cancelled because a sibling failed first (ctx is done) are no deaths of
// their own.
func (r *stageRun) barrierDeath(ctx context.Context, h *actorHandle, in []task.Task, err error, attempt int) {
	var died *runtime.DiedError
	if !errors.As(err, &died) || (died.Reason == runtime.DiedCancelled && ctx.Err() != nil) || !h.died.CompareAndSwap(false, true) {
		return
	}
	r.deaths.Add(1)
	r.e.logPanic(r.name(), h.id, in, err, &task.Attempt{})
	r.e.emit(Event{Kind: EventActorDeath, Stage: r.name(), Actor: h.id, Node: h.pl.node.ID,
		Task: firstID(in), Reason: died.Reason, Error: err.Error(), Attempt: attempt})
}

func dropSentinels(ts []task.Task) []task.Task {
	out := ts[:0:0]
	for _, t := range ts {
		if t != nil && !task.IsSentinel(t) {
			out = append(out, t)
		}
	}
	return out
}
