package runtimetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Names of the suite's stage types (see Register).
const (
	ProbeType   = "runtimetest_probe"
	GroupType   = "runtimetest_group"
	ShuffleType = "runtimetest_shuffle"
)

// ErrProbe is the sentinel the probe stage returns on request. It is
// registered under ErrProbeName, so errors.Is holds after it crossed from
// another process.
var ErrProbe = errors.New("runtimetest: probe error")

// ErrProbeName is ErrProbe's name in the registry.
const ErrProbeName = "runtimetest.probe"

// Register adds the suite's stage types and its named error to reg. A
// runtime whose actors run in other processes must build its workers'
// registry with them too.
func Register(reg *stage.Registry) error {
	for _, t := range []stage.Type{
		{Name: ProbeType, Doc: "runtimetest: a plain stage that does what each batch's first task asks (meta \"op\").", New: newProbe},
		{Name: GroupType, Doc: "runtimetest: a collective stage that exchanges messages in Setup and in its call.", New: newGroup},
		{Name: ShuffleType, Doc: "runtimetest: a shuffle stage that sends each text as a key to its owner.", New: newShuffle},
	} {
		if err := reg.Register(t); err != nil {
			return err
		}
	}
	return reg.RegisterError(ErrProbeName, ErrProbe)
}

// probeConfig configures the probe stage.
type probeConfig struct {
	// Dir receives marker files: <actor>.setup, <actor>.teardown,
	// <actor>.teardown-twice, <actor>.teardown-during-call,
	// node-setup.<node>.<n>.
	Dir string `json:"dir"`
	// FailSetup makes Setup fail; PanicSetup makes it panic.
	FailSetup  bool `json:"fail_setup,omitempty"`
	PanicSetup bool `json:"panic_setup,omitempty"`
}

// probe does what the first task of each batch asks in its metadata "op".
type probe struct {
	stage.Base
	cfg      probeConfig
	w        *stage.Worker
	busy     atomic.Bool
	torn     atomic.Bool
	retained []task.Task
}

func newProbe(config []byte) (stage.Stage, error) {
	var c probeConfig
	if err := stage.DecodeConfig(config, &c); err != nil {
		return nil, err
	}
	if c.Dir == "" {
		return nil, errors.New("runtimetest_probe: dir is required")
	}
	return &probe{Base: stage.Base{StageName: "probe", Batch: 1}, cfg: c}, nil
}

func (p *probe) marker(name string) string { return filepath.Join(p.cfg.Dir, name) }

func (p *probe) SetupOnNode(_ context.Context, n stage.Node, w *stage.Worker) error {
	f, err := os.CreateTemp(p.cfg.Dir, "node-setup."+n.ID+".")
	if err != nil {
		return err
	}
	return f.Close()
}

func (p *probe) Setup(_ context.Context, w *stage.Worker) error {
	p.w = w
	if err := os.WriteFile(p.marker(w.ID+".setup"), nil, 0o644); err != nil {
		return err
	}
	if p.cfg.PanicSetup {
		panic("runtimetest: setup panics on request")
	}
	if p.cfg.FailSetup {
		return fmt.Errorf("setup of %s fails on request: %w", w.ID, ErrProbe)
	}
	return nil
}

func (p *probe) Teardown(context.Context) error {
	id := "unknown"
	if p.w != nil {
		id = p.w.ID
	}
	if p.busy.Load() {
		_ = os.WriteFile(p.marker(id+".teardown-during-call"), nil, 0o644)
	}
	name := id + ".teardown"
	if p.torn.Swap(true) {
		name = id + ".teardown-twice"
	}
	return os.WriteFile(p.marker(name), nil, 0o644)
}

func (p *probe) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	p.busy.Store(true)
	defer p.busy.Store(false)
	if len(ts) == 0 {
		return nil, errors.New("runtimetest_probe: empty batch")
	}
	m := ts[0].Meta()
	switch op := m["op"]; op {
	case "echo":
		return ts, nil
	case "whoami":
		return []task.Task{p.whoami(ctx)}, nil
	case "count":
		stage.Count(ctx, "probe_calls", 1)
		stage.Count(ctx, "probe_tasks", int64(len(ts)))
		return ts, nil
	case "spin":
		ms, _ := strconv.Atoi(m["ms"])
		spin(time.Duration(ms) * time.Millisecond)
		return ts, nil
	case "panic":
		panic("runtimetest: the batch asks for a panic")
	case "error":
		return nil, probeError(m["kind"])
	case "hang":
		<-ctx.Done()
		ms, _ := strconv.Atoi(m["ignore_ms"]) // keeps running after cancellation, as a stuck call would
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return nil, ctx.Err()
	case "mutate-fail":
		for _, t := range ts {
			t.SetID(t.ID() + "-dirty")
			t.Meta()["dirty"] = "1"
			t.AddPerf(task.PerfRecord{Stage: "dirty"})
			if b, ok := t.(*task.DocumentBatch); ok {
				b.SetColumn(&task.Column{Name: b.TextColumn, Type: task.String, Strings: make([]string, b.NumRows())})
			}
		}
		return nil, errors.New("runtimetest: failing after modifying the inputs")
	case "retain":
		out := task.NewDocumentBatch("rtt", "text", []string{"kept"})
		p.retained = []task.Task{out}
		return p.retained, nil
	case "check-retained":
		shared := "0"
		if len(p.retained) == 1 && p.retained[0].Meta()["changed-by-caller"] != "" {
			shared = "1"
		}
		out := task.NewDocumentBatch("rtt", "text", []string{"check"})
		out.Meta()["shared"] = shared
		return []task.Task{out}, nil
	}
	return nil, fmt.Errorf("runtimetest_probe: unknown op %q", m["op"])
}

// whoami reports what the actor knows about itself.
func (p *probe) whoami(ctx context.Context) task.Task {
	out := task.NewDocumentBatch("rtt", "text", []string{"whoami"})
	b, _ := json.Marshal(p.w.WorkerSpec)
	out.Meta()["worker"] = string(b)
	out.Meta()["attempt"] = strconv.Itoa(stage.Attempt(ctx))
	out.Meta()["has_logger"] = strconv.FormatBool(p.w.Logger != nil)
	return out
}

func probeError(kind string) error {
	switch kind {
	case "permanent":
		return stage.Permanent(fmt.Errorf("runtimetest: a permanent error: %w", ErrProbe))
	case "sentinel":
		return fmt.Errorf("runtimetest: wrapped: %w", ErrProbe)
	}
	return errors.New("runtimetest: a plain error")
}

// spin burns CPU for about d of wall time.
func spin(d time.Duration) {
	x := uint64(1)
	for start := time.Now(); time.Since(start) < d; {
		for range 1000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	if x == 42 {
		fmt.Print("")
	}
}

// group is a collective stage: rank 0 broadcasts a message in Setup, which
// only sends (before the other ranks may have joined: the transport must
// keep it), the other ranks receive it in their call; then every rank sums
// rank+1 over the group.
type group struct {
	stage.Base
	w *stage.Worker
}

func newGroup(config []byte) (stage.Stage, error) {
	if err := stage.DecodeConfig(config, &struct{}{}); err != nil {
		return nil, err
	}
	return &group{Base: stage.Base{StageName: "group", Batch: 1, StageKind: stage.Collective}}, nil
}

func (g *group) Setup(ctx context.Context, w *stage.Worker) error {
	if w.Comm == nil {
		return errors.New("runtimetest_group: no communicator")
	}
	g.w = w
	if w.Rank != 0 {
		return nil
	}
	_, err := w.Comm.Broadcast(ctx, 0, []byte("hello from rank 0"))
	return err
}

func (g *group) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	c := g.w.Comm
	if len(ts) > 0 && ts[0].Meta()["op"] == "barrier" {
		return nil, c.Barrier(ctx)
	}
	msg := "-"
	if g.w.Rank != 0 {
		b, err := c.Broadcast(ctx, 0, nil)
		if err != nil {
			return nil, err
		}
		msg = string(b)
	}
	sum, err := c.AllReduceInt64(ctx, collective.Sum, []int64{int64(g.w.Rank + 1)})
	if err != nil {
		return nil, err
	}
	out := task.NewDocumentBatch("rtt", "text", []string{"group"})
	out.Meta()["rank"] = strconv.Itoa(g.w.Rank)
	out.Meta()["sum"] = strconv.FormatInt(sum[0], 10)
	out.Meta()["setup_msg"] = msg
	return []task.Task{out}, nil
}

// shuffler sends every text of its input as a key (value "v:"+key) to the
// owner of its partition, and writes back the keys it owns.
type shuffler struct {
	stage.Base
	w *stage.Worker
}

func newShuffle(config []byte) (stage.Stage, error) {
	if err := stage.DecodeConfig(config, &struct{}{}); err != nil {
		return nil, err
	}
	return &shuffler{Base: stage.Base{StageName: "shuffle", Batch: 1, StageKind: stage.Shuffle}}, nil
}

func (s *shuffler) Setup(_ context.Context, w *stage.Worker) error {
	if w.Shuffle == nil || w.Shuffle.Sender == nil || w.Shuffle.Store == nil {
		return errors.New("runtimetest_shuffle: no shuffle endpoint")
	}
	s.w = w
	return nil
}

func (*shuffler) NumPartitions() int { return 0 }

func (*shuffler) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	return nil, errors.New("runtimetest_shuffle: ProcessBatch is not used")
}

func (s *shuffler) Insert(ctx context.Context, ts []task.Task) error {
	for _, t := range ts {
		for _, x := range t.(*task.DocumentBatch).Texts() {
			if err := s.w.Shuffle.Sender.Add(ctx, []byte(x), []byte("v:"+x)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (*shuffler) InsertFinished(context.Context) error { return nil }

func (s *shuffler) ExtractAndWrite(context.Context) ([]task.Task, error) {
	ep := s.w.Shuffle
	var keys []string
	for _, p := range ep.Store.OwnedPartitions() {
		err := ep.Store.Extract(p, func(k, v []byte) error {
			if string(v) != "v:"+string(k) {
				return fmt.Errorf("key %q has value %q", k, v)
			}
			keys = append(keys, string(k))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := task.NewDocumentBatch("rtt", "text", keys)
	out.Meta()["rank"] = strconv.Itoa(ep.Rank)
	return []task.Task{out}, nil
}
