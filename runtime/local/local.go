// Package local is the single-machine Runtime: every actor is a goroutine in
// the current process, collective groups talk through in-memory channels, and
// shuffles deliver rows straight into the owning rank's engine. There is
// nothing to install or start.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/shuffle"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Options configures a local runtime.
type Options struct {
	// CPUs is the CPU budget; 0 means the number of logical CPUs.
	CPUs float64
	// GPUs is the number of GPUs; a negative value means detect with nvidia-smi
	// (none when it is absent), 0 means none.
	GPUs int
	// GPUMemoryGB is the memory of one GPU; detected along with GPUs.
	GPUMemoryGB float64
	// ScratchDir is where shuffles spill; default os.TempDir().
	ScratchDir string
	// ShuffleFlushBytes is how many bytes a shuffle sender buffers per rank; default 1 MiB.
	ShuffleFlushBytes int
	Logger            *slog.Logger
}

// Runtime runs actors as goroutines. Create it with New.
type Runtime struct {
	opts Options
	node stage.Node
	hub  *collective.LocalHub

	mu       sync.Mutex
	shuffles map[string]*shuffleSession
}

// New returns a local runtime.
func New(opts Options) (*Runtime, error) {
	if opts.CPUs <= 0 {
		opts.CPUs = float64(goruntime.NumCPU())
	}
	if opts.GPUs < 0 {
		n, mem, err := DetectGPUs()
		if err != nil {
			return nil, err
		}
		opts.GPUs, opts.GPUMemoryGB = n, mem
	}
	if opts.ScratchDir == "" {
		opts.ScratchDir = os.TempDir()
	}
	if opts.ShuffleFlushBytes <= 0 {
		opts.ShuffleFlushBytes = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runtime{
		opts:     opts,
		node:     stage.Node{ID: "local", CPUs: opts.CPUs, GPUs: float64(opts.GPUs), GPUMemoryGB: opts.GPUMemoryGB, ScratchDir: opts.ScratchDir},
		hub:      collective.NewLocalHub(),
		shuffles: make(map[string]*shuffleSession),
	}, nil
}

// DetectGPUs asks nvidia-smi for the GPUs of this machine: their count and
// the memory of the smallest. Without nvidia-smi it reports none.
func DetectGPUs() (count int, memGB float64, err error) {
	path, lookErr := exec.LookPath("nvidia-smi")
	if lookErr != nil {
		return 0, 0, nil
	}
	out, err := exec.Command(path, "--query-gpu=memory.total", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return 0, 0, fmt.Errorf("detect GPUs: nvidia-smi: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		mib, perr := strconv.ParseFloat(line, 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("detect GPUs: nvidia-smi printed %q: %w", line, perr)
		}
		count++
		// With GPUs of different sizes, report the smallest: fractions
		// computed from it fit on every device.
		if gb := mib / 1024; count == 1 || gb < memGB {
			memGB = gb
		}
	}
	return count, memGB, nil
}

// Nodes implements runtime.Runtime: one node, this process.
func (r *Runtime) Nodes(context.Context) ([]stage.Node, error) { return []stage.Node{r.node}, nil }

// SetupNode implements runtime.Runtime.
func (r *Runtime) SetupNode(ctx context.Context, spec runtime.ActorSpec, node stage.Node) error {
	inst := stage.NewInstance(spec.Stage)
	w := spec.Worker
	return protect("setup_on_node", func() error { return inst.SetupOnNode(ctx, node, &w) })
}

// Spawn implements runtime.Runtime.
func (r *Runtime) Spawn(_ context.Context, spec runtime.ActorSpec) (runtime.Actor, error) {
	w := spec.Worker
	if w.ScratchDir == "" {
		w.ScratchDir = r.opts.ScratchDir
	}
	if w.Logger == nil {
		w.Logger = r.opts.Logger.With("stage", w.StageName, "actor", w.ID)
	}
	return &actor{rt: r, worker: w, inst: stage.NewInstance(spec.Stage)}, nil
}

// Close implements runtime.Runtime. Shuffle sessions still open are closed.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for id, s := range r.shuffles {
		errs = append(errs, s.closeAll())
		delete(r.shuffles, id)
	}
	return errors.Join(errs...)
}

// shuffleSession holds the engines of every rank of one shuffle.
type shuffleSession struct {
	dir       string
	engines   []*shuffle.Engine
	transport *shuffle.LocalTransport
	// left holds the ranks whose actor stopped and has not been replaced;
	// the session closes when every rank has left.
	left map[int]bool
}

func (s *shuffleSession) closeAll() error {
	var errs []error
	for _, e := range s.engines {
		if e != nil {
			errs = append(errs, e.Close())
		}
	}
	errs = append(errs, os.RemoveAll(s.dir))
	return errors.Join(errs...)
}

// joinShuffle returns the engine of rank g.Rank, creating the session's
// engines on first use.
func (r *Runtime) joinShuffle(g *runtime.Group) (*shuffle.Engine, *shuffle.LocalTransport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.shuffles[g.Rendezvous]
	if !ok {
		return nil, nil, fmt.Errorf("shuffle %s: unknown rendezvous", g.Rendezvous)
	}
	if s.engines == nil {
		s.engines = make([]*shuffle.Engine, g.Size)
		for rank := range g.Size {
			e, err := shuffle.NewEngine(rank, g.Size, shuffle.Options{
				NumPartitions: g.NumPartitions,
				MemoryLimit:   g.MemoryLimit,
				SpillDir:      s.dir,
			})
			if err != nil {
				_ = s.closeAll()
				delete(r.shuffles, g.Rendezvous)
				return nil, nil, fmt.Errorf("shuffle %s: %w", g.Rendezvous, err)
			}
			s.engines[rank] = e
		}
		s.transport = shuffle.NewLocalTransport(s.engines)
		s.left = make(map[int]bool)
	}
	if g.Rank < 0 || g.Rank >= len(s.engines) {
		return nil, nil, fmt.Errorf("shuffle %s: rank %d out of range [0,%d)", g.Rendezvous, g.Rank, len(s.engines))
	}
	delete(s.left, g.Rank) // a replacement actor rejoins its rank
	return s.engines[g.Rank], s.transport, nil
}

// leaveShuffle records that rank's actor stopped; when every rank has left,
// the session's engines and spill files are released.
func (r *Runtime) leaveShuffle(id string, rank int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.shuffles[id]
	if !ok {
		return nil
	}
	s.left[rank] = true
	if len(s.left) < len(s.engines) {
		return nil
	}
	delete(r.shuffles, id)
	return s.closeAll()
}

// actor is a stage instance run by the caller's goroutine, or by a goroutine
// of its own when the call has a deadline (so that a hung call can be
// abandoned).
type actor struct {
	rt     *Runtime
	worker stage.Worker
	inst   stage.Stage

	mu          sync.Mutex
	setUp       bool
	dead        bool
	busy        bool // a call is running (possibly abandoned)
	stopPending bool // Stop came while an abandoned call was running
	stopped     bool
	shuffleID   string
	transport   collective.Transport
	engine      *shuffle.Engine
}

func (a *actor) ID() string { return a.worker.ID }

func (a *actor) CreateRendezvous(context.Context) (string, error) {
	id := collective.NewGroupID()
	if _, ok := stage.AsShuffle(a.inst); ok {
		dir := filepath.Join(a.rt.opts.ScratchDir, "sluice-shuffle-"+id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("actor %s: shuffle scratch: %w", a.worker.ID, err)
		}
		a.rt.mu.Lock()
		a.rt.shuffles[id] = &shuffleSession{dir: dir}
		a.rt.mu.Unlock()
	}
	return id, nil
}

func (a *actor) Setup(ctx context.Context, g *runtime.Group) error {
	if g != nil {
		a.worker.Rank, a.worker.Size = g.Rank, g.Size
		if _, ok := stage.AsShuffle(a.inst); ok {
			eng, tr, err := a.rt.joinShuffle(g)
			if err != nil {
				return err
			}
			a.shuffleID, a.engine = g.Rendezvous, eng
			a.worker.Shuffle = &stage.ShuffleEndpoint{
				Rank: g.Rank, NumRanks: g.Size, NumPartitions: g.NumPartitions,
				Sender: shuffle.NewSender(g.Rank, g.Size, g.NumPartitions, tr, a.rt.opts.ShuffleFlushBytes),
				Store:  eng,
			}
		} else {
			t, err := a.rt.hub.Join(g.Rendezvous, g.Rank, g.Size)
			if err != nil {
				return fmt.Errorf("actor %s: join group: %w", a.worker.ID, err)
			}
			a.transport = t
			a.worker.Comm = collective.New(t)
		}
	}
	err := protect("setup", func() error { return a.inst.Setup(ctx, &a.worker) })
	a.mu.Lock()
	// Setup ran (even if it failed part way): Teardown is owed.
	a.setUp = true
	a.mu.Unlock()
	return err
}

func (a *actor) Call(ctx context.Context, m runtime.Method, tasks []task.Task) ([]task.Task, error) {
	a.mu.Lock()
	if a.dead || a.stopped {
		a.mu.Unlock()
		return nil, &runtime.DiedError{ActorID: a.worker.ID, Reason: "lost", Err: errors.New("actor is no longer running")}
	}
	a.busy = true
	a.mu.Unlock()

	if _, hasDeadline := ctx.Deadline(); !hasDeadline {
		out, err := a.run(ctx, m, tasks)
		a.finishCall(ctx)
		return out, err
	}
	type result struct {
		out []task.Task
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := a.run(ctx, m, tasks)
		// Mark the actor idle before the caller sees the result, so that a
		// Stop or Call right after this one never finds it still busy.
		a.finishCall(context.WithoutCancel(ctx))
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		a.mu.Lock()
		a.dead = true
		a.mu.Unlock()
		reason := "timeout"
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			reason = "cancelled" // the caller gave up (the run is stopping)
		}
		return nil, &runtime.DiedError{ActorID: a.worker.ID, Reason: reason, Err: ctx.Err()}
	}
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

// run executes one call, turning a panic into the actor's death.
func (a *actor) run(ctx context.Context, m runtime.Method, tasks []task.Task) (out []task.Task, err error) {
	defer func() {
		if p := recover(); p != nil {
			a.mu.Lock()
			a.dead = true
			a.mu.Unlock()
			err = &runtime.DiedError{ActorID: a.worker.ID, Reason: "panic", Err: runtime.Recovered(p)}
		}
	}()
	switch m {
	case runtime.Process:
		return a.inst.ProcessBatch(ctx, tasks)
	}
	ss, ok := stage.AsShuffle(a.inst)
	if !ok {
		return nil, fmt.Errorf("actor %s: stage %s is not a shuffle stage; cannot %s", a.worker.ID, a.worker.StageName, m)
	}
	switch m {
	case runtime.Insert:
		return nil, ss.Insert(ctx, tasks)
	case runtime.InsertFinished:
		if err := ss.InsertFinished(ctx); err != nil {
			return nil, err
		}
		return nil, a.worker.Shuffle.Sender.Flush(ctx)
	case runtime.ExtractAndWrite:
		if err := a.engine.Finish(); err != nil {
			return nil, err
		}
		return ss.ExtractAndWrite(ctx)
	}
	return nil, fmt.Errorf("actor %s: unknown method %s", a.worker.ID, m)
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
	a.mu.Unlock()
	var errs []error
	if owed {
		errs = append(errs, protect("teardown", func() error { return a.inst.Teardown(ctx) }))
	}
	if a.transport != nil {
		errs = append(errs, a.transport.Close())
	}
	if a.shuffleID != "" {
		errs = append(errs, a.rt.leaveShuffle(a.shuffleID, a.worker.Rank))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("actor %s: stop: %w", a.worker.ID, err)
	}
	return nil
}

// protect runs fn, turning a panic into an error.
func protect(what string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s panicked: %w", what, runtime.Recovered(p))
		}
	}()
	return fn()
}
