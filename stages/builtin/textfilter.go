package builtin

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// TextFilterConfig configures the text_filter stage. Lengths are counted in
// Unicode code points; a bound of 0 is no bound.
type TextFilterConfig struct {
	MinChars int `json:"min_chars,omitempty"`
	MaxChars int `json:"max_chars,omitempty"`
}

// TextFilter keeps the documents whose text length lies within
// [MinChars, MaxChars]. Every column is filtered alike, so raw lines stay
// aligned with their text. A batch left with no rows is dropped.
type TextFilter struct {
	stage.Base
	cfg TextFilterConfig
}

// NewTextFilter returns a text_filter stage named "text_filter".
func NewTextFilter(cfg TextFilterConfig) (*TextFilter, error) {
	if cfg.MinChars < 0 || cfg.MaxChars < 0 {
		return nil, errors.New("min_chars and max_chars must not be negative")
	}
	if cfg.MaxChars > 0 && cfg.MinChars > cfg.MaxChars {
		return nil, fmt.Errorf("min_chars %d exceeds max_chars %d", cfg.MinChars, cfg.MaxChars)
	}
	return &TextFilter{
		Base: stage.Base{StageName: "text_filter", Batch: 1, In: stage.Spec{Kinds: []string{task.KindDocumentBatch}}, Out: stage.Spec{Kinds: []string{task.KindDocumentBatch}}},
		cfg:  cfg,
	}, nil
}

// ProcessBatch implements stage.Stage.
func (f *TextFilter) ProcessBatch(_ context.Context, tasks []task.Task) ([]task.Task, error) {
	out := make([]task.Task, 0, len(tasks))
	for _, t := range tasks {
		b, ok := t.(*task.DocumentBatch)
		if !ok {
			return nil, fmt.Errorf("%s: task %s is a %s, want a document batch", f.Name(), t.ID(), t.Kind())
		}
		texts := b.Texts()
		if texts == nil && b.NumRows() > 0 {
			return nil, fmt.Errorf("%s: batch %s has no string text column %q", f.Name(), b.ID(), b.TextColumn)
		}
		keep := make([]bool, len(texts))
		kept := 0
		for i, s := range texts {
			n := utf8.RuneCountInString(s)
			keep[i] = n >= f.cfg.MinChars && (f.cfg.MaxChars == 0 || n <= f.cfg.MaxChars)
			if keep[i] {
				kept++
			}
		}
		switch kept {
		case 0:
		case len(texts):
			out = append(out, b)
		default:
			out = append(out, b.Filter(keep))
		}
	}
	return out, nil
}

// TextFilterType returns the registry entry of text_filter.
func TextFilterType() stage.Type {
	return stage.Type{
		Name: "text_filter",
		Doc:  "Keeps documents whose text length in code points lies within [min_chars, max_chars]; empty batches are dropped.",
		Fields: []stage.Field{
			{Name: "min_chars", Type: "int", Default: "0", Doc: "minimum text length (0 = no minimum)"},
			{Name: "max_chars", Type: "int", Default: "0", Doc: "maximum text length (0 = no maximum)"},
		},
		New: func(config []byte) (stage.Stage, error) {
			var c TextFilterConfig
			if err := stage.DecodeConfig(config, &c); err != nil {
				return nil, err
			}
			return NewTextFilter(c)
		},
	}
}
