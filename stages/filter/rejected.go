package filter

import (
	"fmt"
	"os"
	"path/filepath"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stages/jsonl"
	"github.com/sluice-data/sluice/task"
)

// Fields added to every rejected record.
const (
	RejectedByField    = "rejected_by"
	RejectedScoreField = "rejected_score"
)

// rejection is one dropped row: the rule that dropped it and, for filters,
// the score that did.
type rejection struct {
	row      int
	rule     string
	score    float64
	hasScore bool
}

// writeRejected writes the rejected rows of b to
// dir/<stage>_<batch id>.jsonl (the stage's name in its pipeline), atomically: each record as it came into
// the stage, with rejected_by and rejected_score added. A retried batch
// rewrites the same file.
func writeRejected(dir, stageName string, b *task.DocumentBatch, rej []rejection) error {
	if len(rej) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("rejected output: %w", err)
	}
	idx := make([]int, len(rej))
	by := make([]string, len(rej))
	scores := make([]string, len(rej))
	for i, r := range rej {
		idx[i], by[i] = r.row, r.rule
		if r.hasScore {
			scores[i] = string(dataio.AppendJSONFloat(nil, r.score))
		}
	}
	out := b.Take(idx)
	opts := dataio.JSONLWriterOptions{Mode: dataio.ColumnObjects, RawJSONColumns: []string{RejectedScoreField}}
	if raw := out.Column(dataio.RawColumn); raw != nil && raw.Type == task.Bytes {
		opts.Mode = dataio.RawLines
		for i, line := range raw.Bytes {
			var err error
			if line, err = dataio.SetJSONField(nil, line, RejectedByField, dataio.AppendJSONString(nil, by[i])); err != nil {
				return fmt.Errorf("rejected output: row %d: %w", idx[i], err)
			}
			if scores[i] != "" {
				if line, err = dataio.SetJSONField(nil, line, RejectedScoreField, []byte(scores[i])); err != nil {
					return fmt.Errorf("rejected output: row %d: %w", idx[i], err)
				}
			}
			raw.Bytes[i] = line
		}
	} else {
		out.SetColumn(&task.Column{Name: RejectedByField, Type: task.String, Strings: by})
		out.SetColumn(&task.Column{Name: RejectedScoreField, Type: task.String, Strings: scores})
	}
	path := filepath.Join(dir, jsonl.FileName(stageName+"_"+b.ID())+".jsonl")
	w, err := dataio.CreateJSONL(path, opts)
	if err != nil {
		return fmt.Errorf("rejected output: %w", err)
	}
	if err := w.Write(out); err != nil {
		w.Abort()
		return fmt.Errorf("rejected output %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("rejected output %s: %w", path, err)
	}
	return nil
}
