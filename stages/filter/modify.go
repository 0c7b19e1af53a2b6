package filter

import (
	"context"
	"fmt"
	"slices"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
	"github.com/sluice-data/sluice/text"
)

// Registry names of the modifier stages.
const (
	TextFixType    = "text_fix"
	URLRemoverType = "url_remover"
)

// CounterModified counts the documents whose text a modifier changed.
const CounterModified = "modified"

// TextFixConfig configures text_fix. Every repair is on by default.
type TextFixConfig struct {
	// TextField is the column holding the text (default: the batch's text column).
	TextField string `json:"text_field,omitempty"`
	// Mojibake repairs UTF-8 decoded as Windows-1252 or Latin-1.
	Mojibake bool `json:"mojibake"`
	// Newlines turns \r\n, \r, U+0085, U+2028, U+2029 into \n.
	Newlines bool `json:"newlines"`
	// Controls removes control characters other than \t and \n, and U+FEFF.
	Controls bool `json:"controls"`
	// Normalization is "NFC" (default), "NFKC" or "none".
	Normalization string `json:"normalization"`
	// CollapseNewlines turns runs of 3 or more newlines into 2 (NeMo's NewlineNormalizer).
	CollapseNewlines bool `json:"collapse_newlines"`
}

// DefaultTextFixConfig is text_fix's configuration when none is given.
func DefaultTextFixConfig() TextFixConfig {
	return TextFixConfig{Mojibake: true, Newlines: true, Controls: true, Normalization: "NFC"}
}

// URLRemoverConfig configures url_remover.
type URLRemoverConfig struct {
	TextField string `json:"text_field,omitempty"`
}

// Modifier is a stage that rewrites each document's text with a function
// of the text alone (text_fix, url_remover). Raw lines are rewritten too,
// so a JSONL writer copying them writes the new text with every other field
// of the record unchanged.
type Modifier struct {
	stage.Base
	textField string
	fn        func(string) string
}

// NewTextFix returns a text_fix stage named "text_fix".
func NewTextFix(cfg TextFixConfig) (*Modifier, error) {
	o := text.FixOptions{Mojibake: cfg.Mojibake, Newlines: cfg.Newlines, Controls: cfg.Controls, Form: cfg.Normalization, CollapseNewlines: cfg.CollapseNewlines}
	if o.Form == "none" {
		o.Form = ""
	} else if o.Form == "" {
		return nil, fmt.Errorf(`normalization: want NFC, NFKC or none`)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return newModifier(TextFixType, cfg.TextField, func(s string) string { return text.Fix(s, o) }), nil
}

// NewURLRemover returns a url_remover stage named "url_remover".
func NewURLRemover(cfg URLRemoverConfig) *Modifier {
	return newModifier(URLRemoverType, cfg.TextField, text.RemoveURLs)
}

func newModifier(name, field string, fn func(string) string) *Modifier {
	return &Modifier{
		Base:      stage.Base{StageName: name, Batch: 1, In: stage.Spec{Kinds: []string{task.KindDocumentBatch}}, Out: stage.Spec{Kinds: []string{task.KindDocumentBatch}}},
		textField: field, fn: fn,
	}
}

// ProcessBatch implements stage.Stage.
func (m *Modifier) ProcessBatch(ctx context.Context, tasks []task.Task) ([]task.Task, error) {
	out := make([]task.Task, 0, len(tasks)+1)
	var modified int64
	for _, t := range tasks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, ok := t.(*task.DocumentBatch)
		if !ok {
			return nil, fmt.Errorf("%s: task %s is a %s, want a document batch", m.Name(), t.ID(), t.Kind())
		}
		texts, field, err := textColumn(b, m.textField)
		if err != nil {
			return nil, stage.Permanent(fmt.Errorf("%s: %w", m.Name(), err))
		}
		e := edits{textField: field, orig: texts}
		for i, s := range texts {
			ns := m.fn(s)
			if ns == s {
				continue
			}
			if e.texts == nil {
				e.texts = slices.Clone(texts)
				e.changed = make([]bool, len(texts))
			}
			e.texts[i], e.changed[i] = ns, true
			modified++
		}
		nb, err := e.apply(b)
		if err != nil {
			return nil, stage.Permanent(fmt.Errorf("%s: %w", m.Name(), err))
		}
		out = append(out, nb)
	}
	if modified > 0 {
		stage.Count(ctx, CounterModified, modified)
	}
	return out, nil
}
