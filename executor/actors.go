package executor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// stageRun is the state of one stage during a run: its settings, its
// statistics and the actors it has spawned.
type stageRun struct {
	e    *Executor
	st   stage.Stage
	idx  int
	desc stage.Descriptor
	env  map[string]string
	// runner is the stage's plain runner while one runs (streaming and
	// stage-by-stage plain stages), so that node events and GPU reclaims
	// reach its actors.
	runner atomic.Pointer[plainRunner]

	maxAttempts, maxDeaths int
	timeout                time.Duration

	// statistics, updated atomically
	// The feeder updates the "in" counters and the collector the "out"
	// counters, on different cores: keep them on different cache lines.
	tasksIn, itemsIn               atomic.Int64
	_                              [48]byte
	tasksOut, itemsOut             atomic.Int64
	busy                           atomic.Int64 // ns
	_                              [48]byte
	retries, deaths, setupFailures atomic.Int64
	failed, started                atomic.Int64
	live, peak                     atomic.Int64
	firstStart, end                atomic.Int64 // unix ns

	nodeSetup sync.Map // node id -> *nodeOnce
	seq       atomic.Int64
	bar       stageBar

	// For Snapshot: expected is the number of input tasks when known up
	// front (0 otherwise), inputDone is set once every input task has
	// arrived, and queue is the streaming queue in front of the stage.
	expected  atomic.Int64
	inputDone atomic.Bool
	queue     atomic.Pointer[chan task.Task]

	countMu sync.Mutex
	counts  map[string]int64 // summed stage.Count counters

	handlesMu sync.Mutex
	handles   []*actorHandle // every actor placed, for the report's CPU sums
}

type nodeOnce struct {
	once sync.Once
	err  error
}

func (e *Executor) newStageRun(idx int, st stage.Stage) *stageRun {
	r := &stageRun{e: e, st: st, idx: idx, maxAttempts: e.cfg.MaxAttempts, maxDeaths: e.cfg.MaxActorDeaths, timeout: e.cfg.BatchTimeout}
	if sc, ok := e.cfg.Stages[st.Name()]; ok {
		if sc.MaxAttempts > 0 {
			r.maxAttempts = sc.MaxAttempts
		}
		if sc.MaxActorDeaths > 0 {
			r.maxDeaths = sc.MaxActorDeaths
		}
		if sc.BatchTimeout > 0 {
			r.timeout = sc.BatchTimeout
		}
	}
	r.desc, _ = stage.DescriptorOf(st)
	r.env = stage.MergeEnv(e.cfg.Env, st.Env(), st.Name(), e.log)
	return r
}

// usage adds a call's CPU time and peak RSS to its actor's handle (so that
// the hot path touches no cache line shared with other actors; the report
// sums the handles per stage and per node) and its counters to the stage's.
// Calls on one actor are sequential, so the handle's figures are never
// contended.
func (r *stageRun) usage(h *actorHandle, wall time.Duration, u runtime.Usage, counts map[string]int64) {
	h.use.add(wall, u.CPU)
	h.calls.Add(1)
	if u.PeakRSS > h.peakRSS.Load() {
		h.peakRSS.Store(u.PeakRSS)
	}
	if len(counts) > 0 {
		r.countMu.Lock()
		if r.counts == nil {
			r.counts = make(map[string]int64, len(counts))
		}
		for k, v := range counts {
			r.counts[k] += v
		}
		r.countMu.Unlock()
	}
}

func (r *stageRun) name() string { return r.st.Name() }

func (r *stageRun) markStart() {
	r.firstStart.CompareAndSwap(0, time.Now().UnixNano())
}

func (r *stageRun) markEnd() { r.end.Store(time.Now().UnixNano()) }

// usageSum adds up the CPU time of one actor's calls. A call the runtime
// measured counts its CPU time; one it did not (runtime.Usage.CPU == 0: too
// short to be worth measuring) is estimated as its wall time times the
// ratio of CPU to wall time of the actor's measured calls (its wall time
// when none was measured). Stage and node figures sum the actors'.
type usageSum struct {
	measuredCPU, measuredWall, unmeasuredWall atomic.Int64 // ns
}

func (u *usageSum) add(wall, cpu time.Duration) {
	if cpu > 0 {
		u.measuredCPU.Add(int64(cpu))
		u.measuredWall.Add(int64(wall))
	} else {
		u.unmeasuredWall.Add(int64(wall))
	}
}

func (u *usageSum) cpu() time.Duration {
	mc, mw, uw := u.measuredCPU.Load(), u.measuredWall.Load(), u.unmeasuredWall.Load()
	if uw == 0 {
		return time.Duration(mc)
	}
	if mw <= 0 {
		return time.Duration(mc + uw)
	}
	return time.Duration(mc + int64(float64(uw)*min(float64(mc)/float64(mw), 1)))
}

// actorHandle is one actor of a stage, its booking in the ledger and what
// its calls cost.
type actorHandle struct {
	a       runtime.Actor
	id      string
	stage   string
	pl      placement
	stopped atomic.Bool
	retired atomic.Bool
	tracked atomic.Bool // set up and counted as live
	died    atomic.Bool
	use     usageSum
	calls   atomic.Int64
	tasks   atomic.Int64 // tasks of the calls that succeeded
	peakRSS atomic.Int64
	// busySince is when the current call started (unix ns), 0 when idle.
	busySince atomic.Int64
}

// invoke runs one call on h, marking h busy meanwhile, and adds the call's
// usage to h and its counters to the stage (see usage). It returns the
// call's wall time.
func (r *stageRun) invoke(ctx context.Context, h *actorHandle, c runtime.Call) (runtime.Result, time.Duration, error) {
	start := time.Now()
	h.busySince.Store(start.UnixNano())
	res, err := h.a.Call(ctx, c)
	dur := time.Since(start)
	h.busySince.Store(0)
	if err == nil {
		h.tasks.Add(int64(len(c.Tasks)))
	}
	r.usage(h, dur, res.Usage, res.Counts)
	return res, dur, err
}

// retire stops counting h as a live actor (once).
func (r *stageRun) retire(h *actorHandle) {
	if h.retired.CompareAndSwap(false, true) {
		r.live.Add(-1)
	}
}

// spawn creates, places and sets up one actor of a plain stage, retrying
// failed set-ups up to the configured limit. An essential actor (the
// stage's first, or a replacement for its last) is placed even if it must
// share a GPU device; otherwise spawn fails with errNoRoom when no device is
// free.
func (r *stageRun) spawn(ctx context.Context, essential bool) (*actorHandle, error) {
	for {
		h, err := r.place(ctx, 0, 1, 0, essential)
		if errors.Is(err, errNoRoom) {
			return nil, err
		}
		if err == nil {
			err = r.setup(ctx, h, nil)
		}
		if err == nil {
			return r.track(h), nil
		}
		if err := r.setupFailed(ctx, err); err != nil {
			return nil, err
		}
	}
}

// setupFailed counts a failed set-up and returns an error once the stage has
// had too many.
func (r *stageRun) setupFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	n := r.setupFailures.Add(1)
	r.e.log.Warn("actor setup failed", "stage", r.name(), "failures", n, "err", err)
	r.e.emit(Event{Kind: EventSetupFailure, Stage: r.name(), Error: err.Error()})
	if int(n) >= r.e.cfg.MaxSetupFailures {
		return fmt.Errorf("stage %s: actor setup failed %d times (max_setup_failures=%d); last error: %w", r.name(), n, r.e.cfg.MaxSetupFailures, err)
	}
	return nil
}

// spawnGroup starts the n actors of a shuffle, LSH or collective stage. The
// root (rank 0) is created first and makes the group's rendezvous; then every
// actor sets up with it, concurrently, since set-up may already talk to the
// group. If any set-up fails the whole group is torn down and started again,
// up to the set-up failure limit. iter is the pass of a multi-pass stage.
func (r *stageRun) spawnGroup(ctx context.Context, n int, g runtime.Group, iter int) ([]*actorHandle, error) {
	for {
		hs, err := r.spawnGroupOnce(ctx, n, g, iter)
		if err == nil {
			return hs, nil
		}
		if err := r.setupFailed(ctx, err); err != nil {
			return nil, err
		}
	}
}

func (r *stageRun) spawnGroupOnce(ctx context.Context, n int, g runtime.Group, iter int) ([]*actorHandle, error) {
	hs := make([]*actorHandle, 0, n)
	discardAll := func() {
		for _, h := range hs {
			r.discard(ctx, h)
		}
	}
	for rank := range n {
		h, err := r.place(ctx, rank, n, iter, true)
		if err != nil {
			discardAll()
			return nil, err
		}
		hs = append(hs, h)
	}
	id, err := hs[0].a.CreateRendezvous(ctx)
	if err != nil {
		discardAll()
		return nil, fmt.Errorf("stage %s: root actor %s: create rendezvous: %w", r.name(), hs[0].id, err)
	}
	gctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for rank, h := range hs {
		gr := g
		gr.Rendezvous, gr.Rank, gr.Size = id, rank, n
		wg.Go(func() {
			if err := h.a.Setup(gctx, &gr); err != nil {
				errs[rank] = fmt.Errorf("stage %s: actor %s setup: %w", r.name(), h.id, err)
				cancel(errs[rank])
			}
		})
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		discardAll()
		return nil, err
	}
	for _, h := range hs {
		r.track(h)
	}
	return hs, nil
}

// maxPlacements bounds the nodes one actor is offered when spawns fail
// because the node was lost meanwhile.
const maxPlacements = 8

// place books a node for one actor, runs SetupOnNode once per node and
// spawns the actor there (not yet set up). A node that turns out to be lost
// is given up and the actor placed elsewhere.
func (r *stageRun) place(ctx context.Context, rank, size, iter int, essential bool) (*actorHandle, error) {
	for try := 1; ; try++ {
		pl, err := r.e.book(ctx, r, essential)
		if err != nil {
			return nil, err
		}
		a, err := r.spawnOn(ctx, pl, rank, size, iter)
		if err == nil {
			h := &actorHandle{a: a, id: a.ID(), stage: r.name(), pl: pl}
			r.handlesMu.Lock()
			r.handles = append(r.handles, h)
			r.handlesMu.Unlock()
			return h, nil
		}
		r.e.ledger.release(pl)
		if !errors.Is(err, runtime.ErrNodeLost) || try >= maxPlacements {
			return nil, err
		}
		r.e.log.Warn("node lost while placing an actor; placing it elsewhere", "stage", r.name(), "node", pl.node.ID, "err", err)
		r.e.ledger.lose(pl.node.ID)
	}
}

// spawnOn spawns one actor on the booked node.
func (r *stageRun) spawnOn(ctx context.Context, pl placement, rank, size, iter int) (runtime.Actor, error) {
	seq := int(r.seq.Add(1) - 1)
	w := stage.WorkerSpec{
		ID:        r.name() + "-" + strconv.Itoa(seq),
		NodeID:    pl.node.ID,
		StageName: r.name(),
		Rank:      rank,
		Size:      size,
		Iteration: iter,
		Env:       maps.Clone(r.env), // every actor has its own
		DeviceIDs: pl.devices,
	}
	if len(pl.devices) > 0 {
		if w.Env == nil {
			w.Env = make(map[string]string, 1)
		}
		w.Env["CUDA_VISIBLE_DEVICES"] = joinInts(pl.devices)
	}
	spec := runtime.ActorSpec{Stage: r.st, Descriptor: r.desc, Worker: w}
	once, _ := r.nodeSetup.LoadOrStore(pl.node.ID, &nodeOnce{})
	no := once.(*nodeOnce)
	no.once.Do(func() { no.err = r.e.rt.SetupNode(ctx, spec, pl.node) })
	if no.err != nil {
		return nil, fmt.Errorf("stage %s: setup on node %s: %w", r.name(), pl.node.ID, no.err)
	}
	a, err := r.e.rt.Spawn(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("stage %s: spawn: %w", r.name(), err)
	}
	return a, nil
}

// setup runs the actor's Setup; on failure the actor is stopped.
func (r *stageRun) setup(ctx context.Context, h *actorHandle, g *runtime.Group) error {
	if err := h.a.Setup(ctx, g); err != nil {
		r.discard(ctx, h)
		return fmt.Errorf("stage %s: actor %s setup: %w", r.name(), h.id, err)
	}
	return nil
}

// track counts a set-up actor as live.
func (r *stageRun) track(h *actorHandle) *actorHandle {
	h.tracked.Store(true)
	r.started.Add(1)
	live := r.live.Add(1)
	for {
		p := r.peak.Load()
		if live <= p || r.peak.CompareAndSwap(p, live) {
			break
		}
	}
	return h
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// stop tears one actor down once and gives back its booking. Errors are
// logged, never returned: they must not mask the error that ended the stage.
func (r *stageRun) stop(ctx context.Context, h *actorHandle) {
	if h == nil || !h.stopped.CompareAndSwap(false, true) {
		return
	}
	r.retire(h)
	r.halt(ctx, h)
}

// discard stops an actor that was never counted as live (its set-up failed,
// or its group did not form).
func (r *stageRun) discard(ctx context.Context, h *actorHandle) {
	if h.stopped.CompareAndSwap(false, true) {
		r.halt(ctx, h)
	}
}

func (r *stageRun) halt(ctx context.Context, h *actorHandle) {
	defer r.e.ledger.release(h.pl)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := h.a.Stop(sctx); err != nil {
		r.e.log.Warn("actor teardown failed", "stage", r.name(), "actor", h.id, "err", err)
	}
}

// stopAll stops actors concurrently and waits.
func (r *stageRun) stopAll(ctx context.Context, hs []*actorHandle) {
	var wg sync.WaitGroup
	for _, h := range hs {
		wg.Add(1)
		go func() { defer wg.Done(); r.stop(ctx, h) }()
	}
	wg.Wait()
}

func (r *stageRun) report() StageReport {
	var wall time.Duration
	if s, e := r.firstStart.Load(), r.end.Load(); s > 0 && e >= s {
		wall = time.Duration(e - s)
	}
	r.countMu.Lock()
	counts := maps.Clone(r.counts)
	r.countMu.Unlock()
	var cpu time.Duration
	r.handlesMu.Lock()
	for _, h := range r.handles {
		cpu += h.use.cpu()
	}
	r.handlesMu.Unlock()
	return StageReport{
		Name: r.name(), Kind: r.st.Kind().String(),
		Actors: int(r.peak.Load()), ActorsStarted: int(r.started.Load()),
		TasksIn: r.tasksIn.Load(), TasksOut: r.tasksOut.Load(), ItemsIn: r.itemsIn.Load(), ItemsOut: r.itemsOut.Load(),
		Wall: wall, CPU: cpu, Busy: time.Duration(r.busy.Load()),
		Retries: r.retries.Load(), ActorDeaths: r.deaths.Load(), SetupFailures: r.setupFailures.Load(), Failed: r.failed.Load(),
		Counters: counts,
	}
}

func joinInts(ids []int) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += strconv.Itoa(id)
	}
	return s
}

// budget splits the free CPUs and GPUs between the stages that run at the
// same time in streaming mode.
//
// The rule: a stage's share of the CPUs is proportional to its per-actor CPU
// request times its demand, where demand is the fraction of the running
// stages' actor busy time that the stage accounts for (equal shares until
// any stage has finished a batch). A stage's target is its share divided by
// its request, rounded up (an actor that waits for input or for room
// downstream uses no CPU, so rounding up keeps the cores busy), further limited by its GPUs and its NumWorkers
// override; every running stage gets at least one actor, so a pipeline with
// more stages than CPUs oversubscribes instead of deadlocking (Curator
// #1544). A stage becomes active when its first task arrives and leaves when
// it finishes; targets are recomputed as batches complete, so a finished
// stage's CPUs go to the stages still running, and a stage above its target
// retires idle actors.
type budget struct {
	mu     sync.Mutex
	free   func() (cpus, gpus float64) // the free resources now (nodes come and go)
	active map[*stageRun]bool
}

func newBudget(free func() (cpus, gpus float64)) *budget {
	return &budget{free: free, active: make(map[*stageRun]bool)}
}

func (b *budget) join(r *stageRun) {
	b.mu.Lock()
	b.active[r] = true
	b.mu.Unlock()
}

func (b *budget) leave(r *stageRun) {
	b.mu.Lock()
	delete(b.active, r)
	b.mu.Unlock()
}

// running returns the stages running now.
func (b *budget) running() []*stageRun {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*stageRun, 0, len(b.active))
	for s := range b.active {
		out = append(out, s)
	}
	return out
}

// target is the number of actors r should have now.
func (b *budget) target(r *stageRun) int {
	cpus, gpus := b.free()
	b.mu.Lock()
	defer b.mu.Unlock()
	res := r.st.Resources()
	var sumBusy float64
	for s := range b.active {
		sumBusy += float64(s.busy.Load())
	}
	var weight, sumWeight, sumGPU float64
	for s := range b.active {
		sr := s.st.Resources()
		c := max(sr.CPUs, 0.01)
		demand := 1.0
		if sumBusy > 0 {
			// A floor keeps a stage that has not finished a batch yet from
			// being starved of its first actors' worth of share.
			demand = max(float64(s.busy.Load())/sumBusy, 0.05)
		}
		w := c * demand
		sumWeight += w
		sumGPU += sr.GPUs
		if s == r {
			weight = w
		}
	}
	if sumWeight == 0 {
		return 1
	}
	n := int(math.Ceil(cpus*weight/sumWeight/max(res.CPUs, 0.01) - 1e-9))
	if res.GPUs > 0 && sumGPU > 0 {
		n = min(n, int(math.Floor(gpus/sumGPU+1e-9)))
	}
	if w := r.st.NumWorkers(); w > 0 {
		fit := math.MaxInt
		if res.CPUs > 0 {
			fit = int(math.Floor(cpus/res.CPUs + 1e-9))
		}
		n = min(w, max(fit, 1))
	}
	return max(1, n)
}
