package executor_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

func TestMoreStagesThanCPUsDoesNotDeadlock(t *testing.T) {
	rt, err := local.New(local.Options{CPUs: 1, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	var stages []stage.Stage
	for _, name := range []string{"s1", "s2", "s3", "s4", "s5", "s6"} {
		stages = append(stages, newFaulty(name, 2))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := executor.New(rt, executor.Config{}).Execute(ctx, stages, docs(200))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(out), wantTexts(200)) {
		t.Fatal("outputs differ")
	}
}

func TestFinishedStageReleasesCPUs(t *testing.T) {
	fast := newFaulty("fast", 1)
	slow := newFaulty("slow", 1)
	slow.sleep = 3 * time.Millisecond
	ex := newExec(t, executor.Config{})
	if _, err := ex.Execute(context.Background(), []stage.Stage{fast, slow}, docs(300)); err != nil {
		t.Fatal(err)
	}
	rep := ex.Report()
	// 4 CPUs: once "fast" is done, "slow" has the whole budget.
	if rep.Stages[1].Actors != 4 {
		t.Fatalf("slow stage peaked at %d actors, want 4", rep.Stages[1].Actors)
	}
}

// envProbe records the worker each actor was given.
type envProbe struct {
	stage.Base
	mu      *sync.Mutex
	workers *[]stage.Worker
}

func (p *envProbe) Setup(_ context.Context, w *stage.Worker) error {
	p.mu.Lock()
	*p.workers = append(*p.workers, *w)
	p.mu.Unlock()
	return nil
}

func (p *envProbe) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) {
	return ts, nil
}

func TestEnvMergeAndDevices(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&syncWriter{w: &buf, mu: &mu}, nil))
	rt, err := local.New(local.Options{CPUs: 8, GPUs: 2, GPUMemoryGB: 16, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	var workers []stage.Worker
	p := &envProbe{Base: stage.Base{StageName: "gpu", Batch: 1, Res: stage.Resources{CPUs: 1, GPUs: 1},
		EnvVars: map[string]string{"MODE": "stage", "ONLY_STAGE": "1"}}, mu: new(sync.Mutex), workers: &workers}
	ex := executor.New(rt, executor.Config{Mode: executor.StageByStage, Logger: log,
		Env: map[string]string{"MODE": "executor", "ONLY_EXEC": "1"}})
	if _, err := ex.Execute(context.Background(), []stage.Stage{p}, docs(10)); err != nil {
		t.Fatal(err)
	}
	// 2 GPUs, 1 per actor: 2 actors, devices 0 and 1.
	if len(workers) != 2 {
		t.Fatalf("%d actors, want 2", len(workers))
	}
	var devs []string
	for _, w := range workers {
		if w.Env["MODE"] != "stage" || w.Env["ONLY_EXEC"] != "1" || w.Env["ONLY_STAGE"] != "1" {
			t.Fatalf("env = %v", w.Env)
		}
		if len(w.DeviceIDs) != 1 || w.Env["CUDA_VISIBLE_DEVICES"] == "" {
			t.Fatalf("devices = %v env = %v", w.DeviceIDs, w.Env)
		}
		devs = append(devs, w.Env["CUDA_VISIBLE_DEVICES"])
	}
	slices.Sort(devs)
	if !slices.Equal(devs, []string{"0", "1"}) {
		t.Fatalf("CUDA_VISIBLE_DEVICES = %v", devs)
	}
	mu.Lock()
	logged := buf.String()
	mu.Unlock()
	if !strings.Contains(logged, "var=MODE") || strings.Contains(logged, "var=ONLY") {
		t.Fatalf("override warning missing or wrong:\n%s", logged)
	}
}

func TestActorCountCapWarnsAndNoFitErrors(t *testing.T) {
	rt, err := local.New(local.Options{CPUs: 2, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	big := stage.With(newFaulty("big", 1), stage.WithResources(stage.Resources{CPUs: 4}))
	_, err = executor.New(rt, executor.Config{Mode: executor.StageByStage}).Execute(context.Background(), []stage.Stage{big}, docs(3))
	if err == nil || !strings.Contains(err.Error(), "stage big") || !strings.Contains(err.Error(), "no actor fits") {
		t.Fatalf("err = %v", err)
	}
	many := stage.With(newFaulty("many", 1), stage.WithNumWorkers(10))
	ex := executor.New(rt, executor.Config{Mode: executor.StageByStage})
	if _, err := ex.Execute(context.Background(), []stage.Stage{many}, docs(30)); err != nil {
		t.Fatal(err)
	}
	if a := ex.Report().Stages[0].Actors; a != 2 {
		t.Fatalf("num_workers=10 on 2 CPUs gave %d actors, want 2", a)
	}
}

type syncWriter struct {
	w  *strings.Builder
	mu *sync.Mutex
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
