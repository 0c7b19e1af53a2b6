// Package filter holds the document-filtering and text-modifying stages:
// quality_filter (a list of heuristic filters or a preset, in one pass),
// score_filter (one filter, NeMo Curator's ScoreFilter), text_fix and
// url_remover. The filters themselves are in package text.
package filter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
	"github.com/sluice-data/sluice/text"
)

// Registry names of the stage types of this package.
const (
	QualityFilterType = "quality_filter"
	ScoreFilterType   = "score_filter"
)

// Counter names the stages report (stage.Count): CounterDropped+rule for
// each rule that dropped documents, CounterRewritten for texts a rule
// changed.
const (
	CounterDropped   = "dropped."
	CounterRewritten = "rewritten"
)

// RuleConfig configures one filter of a quality_filter, as NeMo Curator's
// ScoreFilter does: the filter's type and parameters, where to write its
// score, and whether to invert it.
type RuleConfig struct {
	// Filter is the filter type (text.Specs), such as "word_count".
	Filter string `json:"filter"`
	// Name replaces the filter's name in counters and rejected records.
	Name string `json:"name,omitempty"`
	// Params are the filter's parameters; missing ones take their defaults.
	Params json.RawMessage `json:"params,omitempty"`
	// ScoreField, when set, receives the score of every kept document.
	ScoreField string `json:"score_field,omitempty"`
	// Invert keeps the documents the filter would drop, and drops the others.
	Invert bool `json:"invert,omitempty"`
}

// Config configures quality_filter.
type Config struct {
	// Preset names a rule set (text.Presets): gopher, c4, fineweb, nemo.
	Preset string `json:"preset,omitempty"`
	// Filters run after the preset's rules, in order.
	Filters []RuleConfig `json:"filters,omitempty"`
	// TextField is the column holding the text (default: the batch's text column).
	TextField string `json:"text_field,omitempty"`
	// ScoreOnly computes and writes every score but drops nothing and
	// rewrites nothing (NeMo Curator's Score).
	ScoreOnly bool `json:"score_only,omitempty"`
	// RejectedDir, when set, receives the dropped documents as JSONL, one
	// file per batch, with the rule that dropped them in "rejected_by".
	RejectedDir string `json:"rejected_dir,omitempty"`
}

// ScoreFilterConfig configures score_filter: one filter.
type ScoreFilterConfig struct {
	RuleConfig
	TextField   string `json:"text_field,omitempty"`
	ScoreOnly   bool   `json:"score_only,omitempty"`
	RejectedDir string `json:"rejected_dir,omitempty"`
}

type rule struct {
	name       string
	filter     text.Filter
	rewriter   text.Rewriter
	scoreField string
	invert     bool
}

// QualityFilter runs a list of rules over each document in one pass. A
// document is dropped by the first filter whose decision (inverted with
// invert) is not to keep it, or by a rewriter (C4's line cleaning) that
// drops it; a rewriter that keeps it may change its text, which the later
// rules see. Kept documents get the score fields; dropped ones go to the
// rejected output. Every dropped document is counted under
// "dropped.<rule>" in the stage's report.
type QualityFilter struct {
	stage.Base
	cfg   Config
	rules []rule
	doc   *text.Doc
	label string // the stage's name in its pipeline, set by Setup
}

// New returns a quality_filter stage named "quality_filter".
func New(cfg Config) (*QualityFilter, error) {
	var rules []rule
	if cfg.Preset != "" {
		rs, err := text.PresetRules(cfg.Preset)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			rules = append(rules, newRule(r, RuleConfig{}))
		}
	}
	for i, rc := range cfg.Filters {
		if rc.Filter == "" {
			return nil, fmt.Errorf("filters[%d]: no filter type", i)
		}
		r, err := text.NewRule(rc.Filter, rc.Params)
		if err != nil {
			return nil, fmt.Errorf("filters[%d]: %w", i, err)
		}
		rl := newRule(r, rc)
		if rl.rewriter != nil && (rc.Invert || rc.ScoreField != "") {
			return nil, fmt.Errorf("filters[%d]: %s rewrites the text and has no score: invert and score_field do not apply", i, rc.Filter)
		}
		rules = append(rules, rl)
	}
	if len(rules) == 0 {
		return nil, errors.New("no rules: set preset or filters")
	}
	seen := map[string]bool{}
	var cols []string
	for _, r := range rules {
		if r.scoreField == "" {
			continue
		}
		if seen[r.scoreField] {
			return nil, fmt.Errorf("score field %q is written by two filters", r.scoreField)
		}
		seen[r.scoreField] = true
		cols = append(cols, r.scoreField)
	}
	return &QualityFilter{
		Base: stage.Base{StageName: QualityFilterType, Batch: 1,
			In: stage.Spec{Kinds: []string{task.KindDocumentBatch}}, Out: stage.Spec{Kinds: []string{task.KindDocumentBatch}, Columns: cols}},
		cfg: cfg, rules: rules,
	}, nil
}

// stageLabel returns label, or name when label is empty.
func stageLabel(label, name string) string {
	if label != "" {
		return label
	}
	return name
}

func newRule(r text.Rule, rc RuleConfig) rule {
	rl := rule{name: r.Name(), scoreField: rc.ScoreField, invert: rc.Invert}
	if rc.Name != "" {
		rl.name = rc.Name
	}
	switch r := r.(type) {
	case text.Filter:
		rl.filter = r
	case text.Rewriter:
		rl.rewriter = r
	}
	return rl
}

// NewScoreFilter returns a score_filter stage: one filter, named after it.
func NewScoreFilter(cfg ScoreFilterConfig) (*QualityFilter, error) {
	q, err := New(Config{Filters: []RuleConfig{cfg.RuleConfig}, TextField: cfg.TextField, ScoreOnly: cfg.ScoreOnly, RejectedDir: cfg.RejectedDir})
	if err != nil {
		return nil, err
	}
	q.StageName = q.rules[0].name
	return q, nil
}

// RuleNames lists the names of the stage's rules, in order.
func (q *QualityFilter) RuleNames() []string {
	out := make([]string, len(q.rules))
	for i, r := range q.rules {
		out[i] = r.name
	}
	return out
}

// Setup implements stage.Stage: it creates the rejected-output directory.
func (q *QualityFilter) Setup(_ context.Context, w *stage.Worker) error {
	q.doc = text.NewDoc("")
	if w != nil && w.StageName != "" {
		q.label = w.StageName
	}
	if q.cfg.RejectedDir != "" {
		if err := os.MkdirAll(q.cfg.RejectedDir, 0o755); err != nil {
			return fmt.Errorf("%s: rejected_dir: %w", q.Name(), err)
		}
	}
	return nil
}

// ProcessBatch implements stage.Stage. Alongside the filtered batches it
// reports the counters of the call (stage.Count).
func (q *QualityFilter) ProcessBatch(ctx context.Context, tasks []task.Task) ([]task.Task, error) {
	if q.doc == nil {
		q.doc = text.NewDoc("")
	}
	out := make([]task.Task, 0, len(tasks)+1)
	counts := map[string]int64{}
	for _, t := range tasks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, ok := t.(*task.DocumentBatch)
		if !ok {
			return nil, fmt.Errorf("%s: task %s is a %s, want a document batch", q.Name(), t.ID(), t.Kind())
		}
		kept, err := q.filterBatch(b, counts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.Name(), err)
		}
		if kept != nil {
			out = append(out, kept)
		}
	}
	for name, n := range counts {
		stage.Count(ctx, name, n)
	}
	return out, nil
}

// filterBatch filters one batch.
func (q *QualityFilter) filterBatch(b *task.DocumentBatch, counts map[string]int64) (*task.DocumentBatch, error) {
	texts, field, err := textColumn(b, q.cfg.TextField)
	if err != nil {
		return nil, stage.Permanent(err)
	}
	n := len(texts)
	e := edits{textField: field, orig: texts}
	var scoreIdx []int // rule index -> index in e.scores, or -1
	for _, r := range q.rules {
		scoreIdx = append(scoreIdx, -1)
		if r.scoreField != "" {
			scoreIdx[len(scoreIdx)-1] = len(e.scores)
			e.scores = append(e.scores, scoreColumn{name: r.scoreField, values: make([]float64, n)})
		}
	}
	var rej []rejection
	d := q.doc
	for i, s := range texts {
		d.Reset(s)
		r, ok := q.row(d, i, &e, scoreIdx)
		if ok {
			continue
		}
		if e.keep == nil {
			e.keep = make([]bool, n)
			for j := range e.keep {
				e.keep[j] = true
			}
		}
		e.keep[i] = false
		counts[CounterDropped+r.rule]++
		rej = append(rej, r)
	}
	for _, c := range e.changed {
		if c {
			counts[CounterRewritten]++
		}
	}
	if q.cfg.RejectedDir != "" {
		if err := writeRejected(q.cfg.RejectedDir, stageLabel(q.label, q.Name()), b, rej); err != nil {
			return nil, err
		}
	}
	// A batch whose rows are all dropped goes on empty, as in NeMo
	// Curator: later stages (a writer) still see it.
	out, err := e.apply(b)
	if err != nil {
		return nil, stage.Permanent(err) // the same raw lines fail every attempt
	}
	return out, nil
}

// row runs the rules over the document in d (row i). It reports whether
// the document is kept and, if not, why.
func (q *QualityFilter) row(d *text.Doc, i int, e *edits, scoreIdx []int) (rejection, bool) {
	for k, r := range q.rules {
		if r.filter != nil {
			s := r.filter.Score(d)
			if j := scoreIdx[k]; j >= 0 {
				e.scores[j].values[i] = s
			}
			if r.filter.Keep(s) == r.invert && !q.cfg.ScoreOnly {
				return rejection{row: i, rule: r.name, score: s, hasScore: true}, false
			}
			continue
		}
		if q.cfg.ScoreOnly {
			continue
		}
		t, changed, reason := r.rewriter.Rewrite(d)
		if reason != "" {
			return rejection{row: i, rule: reason}, false
		}
		if changed {
			if e.texts == nil {
				e.texts = slices.Clone(e.orig)
				e.changed = make([]bool, len(e.texts))
			}
			e.texts[i], e.changed[i] = t, true
			d.Reset(t)
		}
	}
	return rejection{}, true
}
