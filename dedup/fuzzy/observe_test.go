package fuzzy_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/sluice-data/sluice/executor"
)

// phaseLog records what the workflow tells an executor observer.
type phaseLog struct {
	mu       sync.Mutex
	phases   []string // "2/5 minhash running"
	executes int
}

func (p *phaseLog) Begin(*executor.Executor)      { p.mu.Lock(); p.executes++; p.mu.Unlock() }
func (p *phaseLog) End(*executor.Executor, error) {}
func (p *phaseLog) Event(executor.Event)          {}
func (p *phaseLog) Phase(ph executor.Phase) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phases = append(p.phases, fmt.Sprintf("%d/%d %s %s", ph.Index, ph.Total, ph.Name, ph.State))
}

// TestWorkflowReportsPhases: the observer in the executor configuration
// hears every phase start and finish, numbered in the workflow's plan, and
// a re-run's cached phases as resumed.
func TestWorkflowReportsPhases(t *testing.T) {
	in := writeCorpus(t, smallDocs(3, 40), 2)
	cfg := quickConfig(in, filepath.Join(t.TempDir(), "out"))
	obs := &phaseLog{}
	if _, err := runWorkflow(t, cfg, runOptions{ex: executor.Config{Observer: obs}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"1/5 ids running", "1/5 ids done", "2/5 minhash running", "2/5 minhash done", "3/5 lsh running", "3/5 lsh done",
		"4/5 components running", "4/5 components done", "5/5 removal running", "5/5 removal done"}
	if !slices.Equal(obs.phases, want) || obs.executes != 4 {
		t.Fatalf("phases %q (%d executes), want %q (4 executes)", obs.phases, obs.executes, want)
	}
	// A re-run resumes the cached phases; --no-remove alone has no removal.
	cfg.Overwrite, cfg.NoRemove = true, true
	obs = &phaseLog{}
	if _, err := runWorkflow(t, cfg, runOptions{ex: executor.Config{Observer: obs}}); err != nil {
		t.Fatal(err)
	}
	want = []string{"1/4 ids resumed", "2/4 minhash resumed", "3/4 lsh resumed", "4/4 components resumed"}
	if !slices.Equal(obs.phases, want) || obs.executes != 0 {
		t.Fatalf("re-run: phases %q (%d executes), want %q", obs.phases, obs.executes, want)
	}
}
