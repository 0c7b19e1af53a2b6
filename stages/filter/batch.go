package filter

import (
	"fmt"
	"slices"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// scoreColumn is a score field a rule writes.
type scoreColumn struct {
	name   string
	values []float64
}

// labelColumn is a string field a stage writes.
type labelColumn struct {
	name   string
	values []string
}

// edits are the changes a stage makes to a batch: rows to drop, new texts,
// score columns. The input batch is never modified: the executor may retry
// it.
type edits struct {
	textField string
	orig      []string // the texts as they came in
	keep      []bool   // nil: keep every row
	texts     []string // new texts, nil when no text changed
	changed   []bool   // rows whose text changed
	scores    []scoreColumn
	labels    []labelColumn
}

// apply returns the batch with the edits made, sharing what is unchanged
// with b. Raw lines (dataio.RawColumn) of changed rows are rewritten so that
// writers copying them carry the new text and the score fields.
func (e *edits) apply(b *task.DocumentBatch) (*task.DocumentBatch, error) {
	if e.texts == nil && len(e.scores) == 0 && len(e.labels) == 0 {
		if e.keep == nil {
			return b, nil
		}
		return b.Filter(e.keep), nil
	}
	out := &task.DocumentBatch{Header: task.HeaderOf(b), TextColumn: b.TextColumn, Columns: slices.Clone(b.Columns)}
	if e.texts != nil {
		out.SetColumn(&task.Column{Name: e.textField, Type: task.String, Strings: e.texts})
	}
	for _, s := range e.scores {
		out.SetColumn(&task.Column{Name: s.name, Type: task.Float64, Floats: s.values})
	}
	for _, l := range e.labels {
		out.SetColumn(&task.Column{Name: l.name, Type: task.String, Strings: l.values})
	}
	if raw := b.Column(dataio.RawColumn); raw != nil && raw.Type == task.Bytes {
		lines, err := e.rawLines(raw.Bytes)
		if err != nil {
			return nil, fmt.Errorf("batch %s: %w", b.ID(), err)
		}
		out.SetColumn(&task.Column{Name: dataio.RawColumn, Type: task.Bytes, Bytes: lines})
	}
	if e.keep != nil {
		out = out.Filter(e.keep)
	}
	return out, nil
}

// rawLines returns the raw lines with the changed texts and the score
// fields set, for the kept rows (dropped rows keep their line).
func (e *edits) rawLines(raw [][]byte) ([][]byte, error) {
	out := slices.Clone(raw)
	var val []byte
	for i, line := range raw {
		if e.keep != nil && !e.keep[i] {
			continue
		}
		textChanged := e.changed != nil && e.changed[i]
		if !textChanged && len(e.scores) == 0 && len(e.labels) == 0 {
			continue
		}
		var err error
		cur := line
		if textChanged {
			val = dataio.AppendJSONString(val[:0], e.texts[i])
			if cur, err = dataio.SetJSONField(nil, cur, e.textField, val); err != nil {
				return nil, fmt.Errorf("row %d: %w", i, err)
			}
		}
		for _, l := range e.labels {
			val = dataio.AppendJSONString(val[:0], l.values[i])
			if cur, err = dataio.SetJSONField(nil, cur, l.name, val); err != nil {
				return nil, fmt.Errorf("row %d: %w", i, err)
			}
		}
		for _, s := range e.scores {
			val = dataio.AppendJSONFloat(val[:0], s.values[i])
			if cur, err = dataio.SetJSONField(nil, cur, s.name, val); err != nil {
				return nil, fmt.Errorf("row %d: %w", i, err)
			}
		}
		out[i] = cur
	}
	return out, nil
}

// textColumn returns the strings of the batch's text column (field, or the
// batch's own text column when field is empty) and the column's name.
func textColumn(b *task.DocumentBatch, field string) ([]string, string, error) {
	if field == "" {
		field = b.TextColumn
	}
	c := b.Column(field)
	if c == nil {
		if b.NumRows() == 0 {
			return nil, field, nil
		}
		return nil, field, fmt.Errorf("batch %s has no column %q (has %v)", b.ID(), field, b.ColumnNames())
	}
	if c.Type != task.String {
		return nil, field, fmt.Errorf("batch %s: column %q has type %s, want string", b.ID(), field, c.Type)
	}
	return c.Strings, field, nil
}
