package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Records accounts for the documents of a run, from the stages' counts of
// document batches' rows:
//
//	Read = Kept + Σ Removed + Failed
type Records struct {
	// Read counts the documents the sources produced: the stages that
	// take other tasks and output document batches (readers).
	Read int64 `json:"read"`
	// Kept counts the documents that reached the end: those the writers
	// (dataio.OutputStage stages that output no documents) received, or,
	// when the last stage outputs document batches, the rows of its
	// outputs, or, when the pipeline ends
	// with a step, the documents the step kept (in its output files).
	Kept int64 `json:"kept"`
	// Removed lists, per stage or step that took documents in and passed
	// fewer on (a filter's drops, a step's duplicates, a sink's documents
	// when it writes no files), how many; negative for a stage that adds
	// documents. Failed tasks are not counted here.
	Removed []Removed `json:"removed"`
	// Failed counts the documents in tasks that failed.
	Failed int64 `json:"failed"`
	// Complete is false when a stage does not declare the task kinds it
	// takes and outputs: the counts are then partial and not checked.
	Complete bool `json:"complete"`
}

// Removed is what one stage or step removed.
type Removed struct {
	Stage string `json:"stage"`
	// Kind is "stage" or "step".
	Kind      string `json:"kind"`
	Documents int64  `json:"documents"`
}

// Balanced reports whether Read = Kept + Σ Removed + Failed.
func (r Records) Balanced() bool {
	sum := r.Kept + r.Failed
	for _, x := range r.Removed {
		sum += x.Documents
	}
	return sum == r.Read
}

// String describes the records in one line.
func (r Records) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d documents read, %d kept", r.Read, r.Kept)
	for _, x := range r.Removed {
		what := "removed"
		if x.Kind == "step" {
			what = "removed as duplicates"
		}
		fmt.Fprintf(&b, ", %d %s by %s", x.Documents, what, x.Stage)
	}
	if r.Failed > 0 {
		fmt.Fprintf(&b, ", %d in failed tasks", r.Failed)
	}
	return b.String()
}

// account computes the records of a run and checks every step's counts
// against the stages around it: a step reads what its spool stage
// received, and its read stage reads what the step kept.
func (p *Pipeline) account(res *Result, steps map[string]*StepResult) (Records, error) {
	rows := map[string]executor.StageReport{}
	for _, r := range res.Report.Stages {
		rows[r.Name] = r
	}
	failed := map[string]int64{}
	for _, f := range res.Failed {
		if f.Original != nil && f.Original.Kind() == task.KindDocumentBatch {
			failed[f.Stage] += int64(f.NumItems())
		}
	}
	rec := Records{Complete: true, Removed: []Removed{}}
	for i, s := range p.stages {
		row, ran := rows[s.Name()]
		if st, ok := steps[s.Name()]; ok {
			if err := p.checkStep(i, st, rows, failed); err != nil {
				return rec, err
			}
			if i == 0 || p.roles[p.stages[i-1].Name()] != roleSpool {
				if _, afterStep := steps[p.stages[max(i-1, 0)].Name()]; i == 0 || !afterStep {
					rec.Read += st.DocumentsIn // files straight from a source
				}
			}
			if n := st.DocumentsIn - st.DocumentsOut; n != 0 {
				rec.Removed = append(rec.Removed, Removed{Stage: s.Name(), Kind: "step", Documents: n})
			}
			continue
		}
		if !ran {
			continue // after a step that kept nothing
		}
		in, out := s.Inputs().Kinds, s.Outputs().Kinds
		if len(in) == 0 || len(out) == 0 {
			rec.Complete = false
		}
		docsIn, docsOut := slices.Contains(in, task.KindDocumentBatch), slices.Contains(out, task.KindDocumentBatch)
		lost := failed[s.Name()]
		rec.Failed += lost
		_, writer := stage.Unwrap(s).(dataio.OutputStage)
		switch role := p.roles[s.Name()]; {
		case role != "":
			// A step's spool or read stage: checked with the step.
		case docsIn && docsOut:
			// A filter (a stage that also writes, say its rejected
			// documents, is one too: what it passes on counts).
			if n := row.ItemsIn - row.ItemsOut - lost; n != 0 {
				rec.Removed = append(rec.Removed, Removed{Stage: s.Name(), Kind: "stage", Documents: n})
			}
		case docsIn && writer:
			rec.Kept += row.ItemsIn - lost
		case docsIn:
			// A sink that writes nothing: its documents leave the pipeline.
			if n := row.ItemsIn - lost; n != 0 {
				rec.Removed = append(rec.Removed, Removed{Stage: s.Name(), Kind: "stage", Documents: n})
			}
		case docsOut:
			rec.Read += row.ItemsOut
		}
	}
	last := p.stages[len(p.stages)-1]
	if st, ok := steps[last.Name()]; ok {
		rec.Kept += st.DocumentsOut // the pipeline ends with a step: its files are the result
	} else if slices.Contains(last.Outputs().Kinds, task.KindDocumentBatch) {
		for _, t := range res.Out {
			if t.Kind() == task.KindDocumentBatch {
				rec.Kept += int64(t.NumItems())
			}
		}
	}
	if rec.Complete && !rec.Balanced() {
		return rec, fmt.Errorf("pipeline %s: record accounting: %s does not add up", p.name, rec)
	}
	return rec, nil
}

// checkStep checks step i's document counts against its spool stage (the
// documents it received, less failed ones) and its read stage (the
// documents it read back).
func (p *Pipeline) checkStep(i int, st *StepResult, rows map[string]executor.StageReport, failed map[string]int64) error {
	name := p.stages[i].Name()
	if i > 0 && p.roles[p.stages[i-1].Name()] == roleSpool {
		sp := p.stages[i-1].Name()
		if got := rows[sp].ItemsIn - failed[sp]; got != st.DocumentsIn {
			return fmt.Errorf("pipeline %s: record accounting: step %s read %d documents, but its spool stage received %d", p.name, name, st.DocumentsIn, got)
		}
	}
	if i+1 < len(p.stages) && p.roles[p.stages[i+1].Name()] == roleRead {
		rd := p.stages[i+1].Name()
		if row, ran := rows[rd]; ran && row.ItemsOut != st.DocumentsOut {
			return fmt.Errorf("pipeline %s: record accounting: step %s kept %d documents, but its read stage read %d", p.name, name, st.DocumentsOut, row.ItemsOut)
		}
	}
	return nil
}
