package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	goruntime "runtime"
	"strconv"
	"sync"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/shuffle"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// actor is a stage instance run by the caller's goroutine, or by a goroutine
// of its own when the call may be abandoned (it has a deadline, or the
// runtime has virtual nodes that can be lost).
type actor struct {
	rt     *Runtime
	worker stage.Worker
	inst   stage.Stage
	lost   chan struct{} // closed when the actor's node is lost
	lose   sync.Once

	mu          sync.Mutex
	setUp       bool
	dead        bool
	busy        bool // a call is running (possibly abandoned)
	stopPending bool // Stop came while an abandoned call was running
	stopped     bool
	transport   collective.Transport
	shuffleT    ShuffleTransport
	engine      *shuffle.Engine

	// Used by one call at a time (calls are sequential; a call that is
	// abandoned kills the actor, so none follows it).
	info        *stage.CallInfo // reused by calls made in the caller's goroutine
	infoParent  context.Context
	infoCtx     context.Context
	calls       uint64
	measureNext bool
}

func (a *actor) ID() string { return a.worker.ID }

func (a *actor) CreateRendezvous(context.Context) (string, error) {
	return collective.NewGroupID(), nil
}

func (a *actor) Setup(ctx context.Context, g *runtime.Group) error {
	if g != nil {
		if a.rt.opts.Isolate {
			var c runtime.Group
			b, err := json.Marshal(g)
			if err == nil {
				err = json.Unmarshal(b, &c)
			}
			if err != nil {
				return fmt.Errorf("actor %s: group: %w", a.worker.ID, err)
			}
			g = &c
		}
		if err := a.join(g); err != nil {
			return err
		}
	}
	err := protect("setup", func() error { return a.inst.Setup(ctx, &a.worker) })
	a.mu.Lock()
	// Setup ran (even if it failed part way): Teardown is owed.
	a.setUp = true
	a.mu.Unlock()
	return err
}

// join joins the actor's collective group, or builds its shuffle engine on
// its node's scratch directory and joins the shuffle with it.
func (a *actor) join(g *runtime.Group) error {
	a.worker.Rank, a.worker.Size = g.Rank, g.Size
	if _, ok := stage.AsShuffle(a.inst); !ok {
		t, err := a.rt.groups.Collective(*g)
		if err != nil {
			return fmt.Errorf("actor %s: join group: %w", a.worker.ID, err)
		}
		a.mu.Lock()
		a.transport = t
		a.mu.Unlock()
		a.worker.Comm = collective.New(t)
		return nil
	}
	eng, err := shuffle.NewEngine(g.Rank, g.Size, shuffle.Options{
		NumPartitions: g.NumPartitions,
		MemoryLimit:   g.MemoryLimit,
		SpillDir:      a.worker.ScratchDir,
	})
	if err != nil {
		return fmt.Errorf("actor %s: shuffle %s: %w", a.worker.ID, g.Rendezvous, err)
	}
	tr, err := a.rt.groups.Shuffle(*g, eng)
	if err != nil {
		return errors.Join(fmt.Errorf("actor %s: %w", a.worker.ID, err), eng.Close())
	}
	a.mu.Lock()
	a.engine, a.shuffleT = eng, tr
	a.mu.Unlock()
	a.worker.Shuffle = &stage.ShuffleEndpoint{
		Rank: g.Rank, NumRanks: g.Size, NumPartitions: g.NumPartitions,
		Sender: shuffle.NewSender(g.Rank, g.Size, g.NumPartitions, tr, a.rt.opts.ShuffleFlushBytes),
		Store:  eng,
	}
	return nil
}

// loseNode is the actor's side of LoseNode: its calls are abandoned and its
// peers see its transports close.
func (a *actor) loseNode() {
	a.lose.Do(func() {
		close(a.lost)
		a.mu.Lock()
		t, st := a.transport, a.shuffleT
		a.mu.Unlock()
		if t != nil {
			_ = t.Close()
		}
		if st != nil {
			go func() { _ = st.Close() }() // waits for this rank's batches in flight
		}
	})
}

func (a *actor) isLost() bool {
	select {
	case <-a.lost:
		return true
	default:
		return false
	}
}

func (a *actor) diedLost() error {
	if a.isLost() {
		return &runtime.DiedError{ActorID: a.worker.ID, Reason: runtime.DiedLost, Err: fmt.Errorf("node %s: %w", a.worker.NodeID, runtime.ErrNodeLost)}
	}
	return &runtime.DiedError{ActorID: a.worker.ID, Reason: runtime.DiedLost, Err: errors.New("actor is no longer running")}
}

func (a *actor) Call(ctx context.Context, c runtime.Call) (runtime.Result, error) {
	a.mu.Lock()
	if a.dead || a.stopped || a.isLost() {
		a.mu.Unlock()
		return runtime.Result{}, a.diedLost()
	}
	a.busy = true
	a.mu.Unlock()

	_, hasDeadline := ctx.Deadline()
	abandonable := hasDeadline || a.rt.virtual
	if a.rt.opts.Isolate {
		return a.callWire(ctx, c, abandonable)
	}
	if !abandonable {
		cctx, info := a.callCtx(ctx, c.Attempt)
		res, err := a.invoke(cctx, info, c)
		a.finishCall(ctx)
		return res, err
	}
	if hasDeadline {
		// The call may be abandoned while the stage still holds its tasks:
		// give it copies, so that the retry's tasks are never touched.
		c.Tasks = a.rt.copyTasks(c.Tasks)
	}
	type out struct {
		res runtime.Result
		err error
	}
	o, err := abandon(a, ctx, func(cctx context.Context) out {
		info := &stage.CallInfo{Attempt: c.Attempt}
		res, err := a.invoke(stage.WithCall(cctx, info), info, c)
		return out{res, err}
	})
	if err != nil {
		return runtime.Result{}, err
	}
	return o.res, o.err
}

// callWire runs c the way a runtime across processes would: the call goes
// through its wire encoding to the actor side, and the reply back.
func (a *actor) callWire(ctx context.Context, c runtime.Call, abandonable bool) (runtime.Result, error) {
	w := a.rt.wire
	msg := runtime.CallMsg{ID: strconv.FormatUint(a.rt.callSeq.Add(1), 10), Actor: a.worker.ID, Call: c}
	msg.Deadline, _ = ctx.Deadline()
	req, err := w.MarshalCall(msg)
	if err != nil {
		a.finishCall(ctx)
		return runtime.Result{}, stage.Permanent(err) // no retry can encode it
	}
	serve := func(cctx context.Context) []byte { // the actor's side
		m, err := w.UnmarshalCall(req)
		var res runtime.Result
		if err == nil {
			info := &stage.CallInfo{Attempt: m.Call.Attempt}
			res, err = a.invoke(stage.WithCall(cctx, info), info, m.Call)
		}
		reply, merr := w.MarshalReply(runtime.ReplyMsg{ID: m.ID, Result: res, Err: err})
		if merr != nil {
			reply, _ = w.MarshalReply(runtime.ReplyMsg{ID: m.ID, Err: stage.Permanent(merr)})
		}
		return reply
	}
	var reply []byte
	if abandonable {
		if reply, err = abandon(a, ctx, serve); err != nil {
			return runtime.Result{}, err
		}
	} else {
		reply = serve(ctx)
		a.finishCall(ctx)
	}
	m, err := w.UnmarshalReply(reply)
	if err != nil {
		return runtime.Result{}, err
	}
	if m.ID != msg.ID {
		return runtime.Result{}, fmt.Errorf("actor %s: reply %s to call %s", a.worker.ID, m.ID, msg.ID)
	}
	return m.Result, m.Err
}

// abandon runs fn in a goroutine of its own and waits for it, unless ctx
// ends or the actor's node is lost first: then the actor is dead, the call
// is abandoned (its context cancelled) and a *DiedError says why.
func abandon[T any](a *actor, ctx context.Context, fn func(context.Context) T) (T, error) {
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan T, 1)
	go func() {
		defer cancel()
		v := fn(cctx)
		// Mark the actor idle before the caller sees the result, so that a
		// Stop or Call right after this one never finds it still busy.
		a.finishCall(context.WithoutCancel(ctx))
		done <- v
	}()
	var zero T
	select {
	case v := <-done:
		return v, nil
	case <-ctx.Done():
		a.markDead()
		reason := runtime.DiedTimeout
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			reason = runtime.DiedCancelled // the caller gave up (the run is stopping)
		}
		return zero, &runtime.DiedError{ActorID: a.worker.ID, Reason: reason, Err: ctx.Err()}
	case <-a.lost:
		a.markDead()
		cancel()
		return zero, a.diedLost()
	}
}

func (a *actor) markDead() {
	a.mu.Lock()
	a.dead = true
	a.mu.Unlock()
}

// callCtx returns the context and call information of a call that runs in
// the caller's goroutine, reusing them while the caller's context is the
// same (a stage's calls usually share one), so that such a call allocates
// nothing.
func (a *actor) callCtx(ctx context.Context, attempt int) (context.Context, *stage.CallInfo) {
	if a.info == nil || ctx != a.infoParent {
		a.info = &stage.CallInfo{}
		a.infoParent, a.infoCtx = ctx, stage.WithCall(ctx, a.info)
	}
	a.info.Attempt = attempt
	return a.infoCtx, a.info
}

// finishCall marks the actor idle and runs a Stop that arrived during the call.
func (a *actor) finishCall(ctx context.Context) {
	a.mu.Lock()
	a.busy = false
	pending := a.stopPending
	a.stopPending = false
	a.mu.Unlock()
	if pending {
		if err := a.teardown(ctx); err != nil {
			a.worker.Logger.Warn("teardown after abandoned call failed", "err", err)
		}
	}
}

// invoke runs one call on the stage (the actor's side), measuring its CPU
// time and turning a panic into the actor's death.
func (a *actor) invoke(ctx context.Context, info *stage.CallInfo, c runtime.Call) (res runtime.Result, err error) {
	m := a.startMeasure()
	defer func() {
		if p := recover(); p != nil {
			a.markDead()
			res.Tasks = nil
			err = &runtime.DiedError{ActorID: a.worker.ID, Reason: runtime.DiedPanic, Err: runtime.Recovered(p)}
		}
		res.Usage = a.endMeasure(m)
		res.Counts = info.Counts.Take()
	}()
	res.Tasks, err = a.dispatch(ctx, c)
	return res, err
}

func (a *actor) dispatch(ctx context.Context, c runtime.Call) ([]task.Task, error) {
	if c.Method == runtime.Process {
		return a.inst.ProcessBatch(ctx, c.Tasks)
	}
	ss, ok := stage.AsShuffle(a.inst)
	if !ok || a.engine == nil {
		return nil, fmt.Errorf("actor %s: stage %s is not a shuffle stage in a shuffle; cannot %s", a.worker.ID, a.worker.StageName, c.Method)
	}
	switch c.Method {
	case runtime.Insert:
		return nil, ss.Insert(ctx, c.Tasks)
	case runtime.InsertFinished:
		if err := ss.InsertFinished(ctx); err != nil {
			return nil, err
		}
		return nil, a.worker.Shuffle.Sender.Flush(ctx) // waits for every batch's acknowledgement
	case runtime.ExtractAndWrite:
		if err := a.engine.Finish(); err != nil {
			return nil, err
		}
		return ss.ExtractAndWrite(ctx)
	}
	return nil, fmt.Errorf("actor %s: unknown method %s", a.worker.ID, c.Method)
}

// meter is a CPU measurement in progress.
type meter struct {
	on bool
	t0 int64 // thread CPU time at the start, ns
}

// startMeasure starts measuring the call's CPU time, when it is worth it:
// the actor's first warmupCalls calls, every call while the measured ones
// take at least measureThreshold, and one call in sampleEvery (to notice
// calls that became long). Measuring locks the goroutine to its thread and
// reads the thread's CPU clock.
func (a *actor) startMeasure() meter {
	a.calls++
	if !a.measureNext && a.calls > warmupCalls && a.calls%sampleEvery != 0 {
		return meter{}
	}
	goruntime.LockOSThread()
	t0, ok := threadCPU()
	if !ok {
		goruntime.UnlockOSThread()
		a.measureNext = false
		return meter{}
	}
	return meter{on: true, t0: t0}
}

// endMeasure ends m and returns the call's usage: its thread CPU time and
// the process's peak RSS, or nothing when the call was not measured.
func (a *actor) endMeasure(m meter) runtime.Usage {
	if !m.on {
		return runtime.Usage{}
	}
	t1, _ := threadCPU()
	goruntime.UnlockOSThread()
	cpu := max(t1-m.t0, 1)
	a.measureNext = cpu >= int64(measureThreshold) || a.calls < warmupCalls
	return runtime.Usage{CPU: timeNS(cpu), PeakRSS: peakRSS()}
}

func (a *actor) Stop(ctx context.Context) error {
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return nil
	}
	a.stopped = true
	if a.busy {
		// An abandoned call still runs: tear down when it returns, never
		// concurrently with it.
		a.stopPending = true
		a.mu.Unlock()
		return nil
	}
	a.mu.Unlock()
	return a.teardown(ctx)
}

func (a *actor) teardown(ctx context.Context) error {
	a.mu.Lock()
	owed := a.setUp
	a.setUp = false
	t, st, eng := a.transport, a.shuffleT, a.engine
	a.mu.Unlock()
	var errs []error
	if owed {
		errs = append(errs, protect("teardown", func() error { return a.inst.Teardown(ctx) }))
	}
	if t != nil {
		errs = append(errs, t.Close())
	}
	if st != nil {
		errs = append(errs, st.Close())
	}
	if eng != nil {
		errs = append(errs, eng.Close())
	}
	a.rt.forget(a)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("actor %s: stop: %w", a.worker.ID, err)
	}
	return nil
}
