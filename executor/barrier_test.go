package executor_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// wordCount is a shuffle stage: it counts words across all documents.
type wordCount struct {
	stage.Base
	parts   int
	w       *stage.Worker
	setups  *atomic.Int64
	teardns *atomic.Int64
	inserts *atomic.Int64
}

func (s *wordCount) NumPartitions() int { return s.parts }

func (s *wordCount) Setup(_ context.Context, w *stage.Worker) error {
	if w.Shuffle == nil || w.Size < 1 || w.Rank >= w.Size {
		return fmt.Errorf("shuffle endpoint missing before Setup: %+v", w)
	}
	s.w = w
	s.setups.Add(1)
	return nil
}

func (s *wordCount) Teardown(context.Context) error { s.teardns.Add(1); return nil }

func (s *wordCount) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	return nil, fmt.Errorf("not used")
}

func (s *wordCount) Insert(ctx context.Context, ts []task.Task) error {
	s.inserts.Add(1)
	one := binary.LittleEndian.AppendUint64(nil, 1)
	for _, t := range ts {
		for _, text := range t.(*task.DocumentBatch).Texts() {
			for _, w := range strings.Fields(text) {
				if err := s.w.Shuffle.Sender.Add(ctx, []byte(w), one); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *wordCount) InsertFinished(ctx context.Context) error { return s.w.Shuffle.Sender.Flush(ctx) }

func (s *wordCount) ExtractAndWrite(ctx context.Context) ([]task.Task, error) {
	var lines []string
	for _, p := range s.w.Shuffle.Store.OwnedPartitions() {
		err := s.w.Shuffle.Store.ExtractGroups(p, func(key []byte, values [][]byte) error {
			lines = append(lines, fmt.Sprintf("%s=%d", key, len(values)))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return []task.Task{task.NewDocumentBatch("ds", "text", lines)}, nil
}

func TestShuffleStage(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, mk execMaker) {
		input := docs(0)
		want := map[string]int{}
		for i := range 50 {
			var words []string
			for j := range 20 {
				w := "w" + strconv.Itoa((i*7+j*13)%97)
				words = append(words, w)
				want[w]++
			}
			b := task.NewDocumentBatch("ds", "text", []string{strings.Join(words, " ")})
			b.TaskID = "in" + strconv.Itoa(i)
			input = append(input, b)
		}
		for _, mode := range modes {
			for _, limit := range []int64{0, 512} { // 512 bytes forces spills
				t.Run(fmt.Sprintf("%s/limit=%d", mode, limit), func(t *testing.T) {
					s := &wordCount{Base: stage.Base{StageName: "wc", Batch: 4, StageKind: stage.Shuffle}, parts: 7,
						setups: new(atomic.Int64), teardns: new(atomic.Int64), inserts: new(atomic.Int64)}
					ex := mk(t, executor.Config{Mode: mode, ShuffleMemoryLimit: limit})
					out, err := ex.Execute(context.Background(), []stage.Stage{s}, input)
					if err != nil {
						t.Fatal(err)
					}
					got := map[string]int{}
					for _, l := range texts(out) {
						k, v, _ := strings.Cut(l, "=")
						n, _ := strconv.Atoi(v)
						if _, dup := got[k]; dup {
							t.Fatalf("word %s extracted twice", k)
						}
						got[k] = n
					}
					if len(got) != len(want) {
						t.Fatalf("%d words, want %d", len(got), len(want))
					}
					for k, v := range want {
						if got[k] != v {
							t.Fatalf("count[%s] = %d, want %d", k, got[k], v)
						}
					}
					// 50 tasks / batch 4 = 13 batches, 4 CPUs: 4 actors.
					if rep := ex.Report().Stages[0]; rep.Actors != 4 || s.setups.Load() != 4 || s.teardns.Load() != 4 || s.inserts.Load() != 13 {
						t.Fatalf("actors=%d setups=%d teardowns=%d inserts=%d", rep.Actors, s.setups.Load(), s.teardns.Load(), s.inserts.Load())
					}
				})
			}
		}
	})
}

// allReduce is a collective stage: every rank sums its chunk's documents and
// all ranks agree on the total.
type allReduce struct {
	stage.Base
	w       *stage.Worker
	mu      *sync.Mutex
	seen    *[]string // "rank/size:chunk" per actor
	setups  *atomic.Int64
	teardns *atomic.Int64
}

func (s *allReduce) Setup(ctx context.Context, w *stage.Worker) error {
	if w.Comm == nil || w.Comm.Size() != w.Size || w.Comm.Rank() != w.Rank {
		return fmt.Errorf("communicator missing before Setup")
	}
	s.w = w
	s.setups.Add(1)
	return w.Comm.Barrier(ctx) // set-up may already use the group
}

func (s *allReduce) Teardown(context.Context) error { s.teardns.Add(1); return nil }

func (s *allReduce) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	sum, err := s.w.Comm.AllReduceInt64(ctx, collective.Sum, []int64{int64(len(ts))})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.ID())
	}
	s.mu.Lock()
	*s.seen = append(*s.seen, fmt.Sprintf("%d/%d:%s", s.w.Rank, s.w.Size, strings.Join(ids, ",")))
	s.mu.Unlock()
	return []task.Task{task.NewDocumentBatch("ds", "text", []string{strconv.FormatInt(sum[0], 10)})}, nil
}

func TestCollectiveStage(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, mk execMaker) {
		var seen []string
		s := &allReduce{Base: stage.Base{StageName: "cc", StageKind: stage.Collective, Batch: 1}, mu: new(sync.Mutex), seen: &seen,
			setups: new(atomic.Int64), teardns: new(atomic.Int64)}
		ex := mk(t, executor.Config{})
		out, err := ex.Execute(context.Background(), []stage.Stage{s}, docs(10))
		if err != nil {
			t.Fatal(err)
		}
		// 4 CPUs: 4 ranks; array_split(10, 4) = 3,3,2,2.
		slices.Sort(seen)
		want := []string{"0/4:t0,t1,t2", "1/4:t3,t4,t5", "2/4:t6,t7", "3/4:t8,t9"}
		if !slices.Equal(seen, want) {
			t.Fatalf("chunks = %v, want %v", seen, want)
		}
		if got := texts(out); !slices.Equal(got, []string{"10", "10", "10", "10"}) {
			t.Fatalf("all-reduce results = %v", got)
		}
		if s.setups.Load() != 4 || s.teardns.Load() != 4 {
			t.Fatalf("setups=%d teardowns=%d", s.setups.Load(), s.teardns.Load())
		}
	})
}

// lshProbe is a multi-pass (LSH kind) stage that records each actor's pass;
// pass i writes under dir/pass-i: the stage, not the executor, decides.
type lshProbe struct {
	wordCount
	passes int
	dir    string
	mu     *sync.Mutex
	seen   map[int]int // pass -> actors
}

func (s *lshProbe) Iterations() int            { return s.passes }
func (s *lshProbe) IterationName(i int) string { return fmt.Sprintf("pass %d", i) }
func (s *lshProbe) passDir(w *stage.Worker) string {
	return filepath.Join(s.dir, fmt.Sprintf("pass-%d", w.Iteration))
}

func (s *lshProbe) Setup(ctx context.Context, w *stage.Worker) error {
	s.mu.Lock()
	s.seen[w.Iteration]++
	s.mu.Unlock()
	return s.wordCount.Setup(ctx, w)
}

func (s *lshProbe) ExtractAndWrite(ctx context.Context) ([]task.Task, error) {
	dir := s.passDir(s.w)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	name := filepath.Join(dir, "part."+strconv.Itoa(s.w.Rank))
	if err := os.WriteFile(name, []byte("x"), 0o644); err != nil {
		return nil, err
	}
	return []task.Task{task.NewFileGroup("ds", []string{name})}, nil
}

func TestLSHBandIterations(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, mk execMaker) {
		dir := t.TempDir()
		s := &lshProbe{
			wordCount: wordCount{Base: stage.Base{StageName: "lsh", StageKind: stage.LSH, Batch: 1, Workers: 2},
				setups: new(atomic.Int64), teardns: new(atomic.Int64), inserts: new(atomic.Int64)},
			passes: 3, dir: dir, mu: new(sync.Mutex), seen: map[int]int{},
		}
		ex := mk(t, executor.Config{})
		out, err := ex.Execute(context.Background(), []stage.Stage{s}, docs(6))
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]int{0: 2, 1: 2, 2: 2}
		if fmt.Sprint(s.seen) != fmt.Sprint(want) {
			t.Fatalf("actors per pass = %v, want %v", s.seen, want)
		}
		// Each iteration re-reads the original 6 inputs: 3 × 6 inserts.
		if s.inserts.Load() != 18 || len(out) != 6 || s.teardns.Load() != 6 {
			t.Fatalf("inserts=%d outputs=%d teardowns=%d", s.inserts.Load(), len(out), s.teardns.Load())
		}
		for _, r := range []string{"pass-0", "pass-1", "pass-2"} {
			if _, err := os.Stat(filepath.Join(dir, r, "part.1")); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// panicOnce is a collective stage whose rank 1 panics on the first attempt.
type panicOnce struct {
	allReduce
	done *atomic.Bool
}

func (s *panicOnce) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	if s.w.Rank == 1 && s.done.CompareAndSwap(false, true) {
		panic("rank 1 gives up")
	}
	return s.allReduce.ProcessBatch(ctx, ts)
}

// TestBarrierPanicLogged: a panic in a barrier stage is logged as one ERROR
// line (stage, actor, value, site), the stack only at DEBUG; the stage is
// retried with fresh actors and succeeds.
func TestBarrierPanicLogged(t *testing.T) {
	var seen []string
	var log strings.Builder
	s := &panicOnce{allReduce: allReduce{Base: stage.Base{StageName: "cc", StageKind: stage.Collective, Batch: 1}, mu: new(sync.Mutex), seen: &seen,
		setups: new(atomic.Int64), teardns: new(atomic.Int64)}, done: new(atomic.Bool)}
	ex := newExec(t, executor.Config{Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &log, mu: new(sync.Mutex)}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if _, err := ex.Execute(context.Background(), []stage.Stage{s}, docs(10)); err != nil {
		t.Fatal(err)
	}
	var errLines, stackLines int
	for _, line := range strings.Split(log.String(), "\n") {
		switch {
		case strings.Contains(line, "level=ERROR") && strings.Contains(line, "stage panicked"):
			errLines++
			if !strings.Contains(line, "stage=cc") || !strings.Contains(line, `panic="rank 1 gives up"`) || !strings.Contains(line, "(*panicOnce).ProcessBatch (barrier_test.go:") {
				t.Errorf("panic line %s", line)
			}
		case strings.Contains(line, "level=DEBUG") && strings.Contains(line, "panic stack"):
			stackLines++
		}
	}
	if errLines != 1 || stackLines != 1 {
		t.Fatalf("want one ERROR line and one DEBUG stack, got %d and %d:\n%s", errLines, stackLines, log.String())
	}
}

// insertPanicOnce is a shuffle stage whose first Insert call panics.
type insertPanicOnce struct {
	wordCount
	done *atomic.Bool
}

func (s *insertPanicOnce) Insert(ctx context.Context, ts []task.Task) error {
	if s.done.CompareAndSwap(false, true) {
		panic("insert gives up")
	}
	return s.wordCount.Insert(ctx, ts)
}

// TestShuffleInsertDeath: an actor that dies in a shuffle's insert phase
// (through the pool, not onAll) is counted and reported as a death, and
// the attempt is retried whole with fresh actors.
func TestShuffleInsertDeath(t *testing.T) {
	obs := &eventLog{}
	s := &insertPanicOnce{wordCount: wordCount{Base: stage.Base{StageName: "wc", Batch: 2, StageKind: stage.Shuffle}, parts: 3,
		setups: new(atomic.Int64), teardns: new(atomic.Int64), inserts: new(atomic.Int64)}, done: new(atomic.Bool)}
	ex := newExec(t, executor.Config{Logger: slog.New(slog.DiscardHandler), Observer: obs})
	if _, err := ex.Execute(context.Background(), []stage.Stage{s}, docs(10)); err != nil {
		t.Fatal(err)
	}
	rep := ex.Report().Stages[0]
	if rep.ActorDeaths != 1 || rep.Retries != 1 {
		t.Fatalf("deaths=%d retries=%d; want 1 and 1", rep.ActorDeaths, rep.Retries)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	var deaths int
	for _, e := range obs.events {
		if e.Kind == executor.EventActorDeath {
			deaths++
			if e.Reason != "panic" || e.Stage != "wc" {
				t.Fatalf("death event %+v", e)
			}
		}
	}
	if deaths != 1 {
		t.Fatalf("%d actor-death events; want 1", deaths)
	}
}

// eventLog is an executor.Observer that keeps the events.
type eventLog struct {
	mu     sync.Mutex
	events []executor.Event
}

func (o *eventLog) Begin(*executor.Executor)      {}
func (o *eventLog) End(*executor.Executor, error) {}
func (o *eventLog) Event(e executor.Event) {
	o.mu.Lock()
	o.events = append(o.events, e)
	o.mu.Unlock()
}
