// Package synthetic provides stages that make and consume synthetic
// documents, for benchmarks and tests of the executor: a source that fans out
// into shard descriptions, a generator that turns a shard into documents, a
// text transform, and a sink that counts and discards.
package synthetic

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// SourceConfig configures the synthetic source.
type SourceConfig struct {
	// TotalBytes is the total text to generate across all shards.
	TotalBytes int64 `json:"total_bytes"`
	// ShardBytes is the text per shard (one generator call); default 4 MiB.
	ShardBytes int64 `json:"shard_bytes"`
	// DocBytes is the approximate size of one document; default 2000.
	DocBytes int `json:"doc_bytes"`
	// Seed makes the text reproducible; default 1.
	Seed uint64 `json:"seed"`
}

// Source turns the start task into shard tasks (metadata only) that Generate
// expands into documents.
type Source struct {
	stage.Base
	cfg SourceConfig
}

// NewSource returns a source stage.
func NewSource(cfg SourceConfig) (*Source, error) {
	if cfg.TotalBytes <= 0 {
		return nil, fmt.Errorf("synthetic_source: total_bytes must be positive")
	}
	if cfg.ShardBytes <= 0 {
		cfg.ShardBytes = 4 << 20
	}
	if cfg.DocBytes <= 0 {
		cfg.DocBytes = 2000
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	return &Source{Base: stage.Base{StageName: "synthetic_source", Batch: 1, StageKind: stage.FanOut, Out: stage.Spec{Kinds: []string{task.KindEmpty}}}, cfg: cfg}, nil
}

// ProcessBatch implements stage.Stage.
func (s *Source) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) {
	var out []task.Task
	for range ts {
		for off := int64(0); off < s.cfg.TotalBytes; off += s.cfg.ShardBytes {
			e := task.NewEmpty()
			m := e.Meta()
			m["shard_offset"] = strconv.FormatInt(off, 10)
			m["shard_bytes"] = strconv.FormatInt(min(s.cfg.ShardBytes, s.cfg.TotalBytes-off), 10)
			m["doc_bytes"] = strconv.Itoa(s.cfg.DocBytes)
			m["seed"] = strconv.FormatUint(s.cfg.Seed, 10)
			out = append(out, e)
		}
	}
	return out, nil
}

var words = strings.Fields(`the of and to in is that for it as was with be by on not he this are or
his from at which but have an they you were her she there one all we their has been would will more
if no when what so out up into do can time only my other new some could these two may first then did
River Stream Sluice Corpus Data Model Token Curate Filter Dedup Shard Actor Pool Queue Stage Batch`)

// Generate expands shard tasks into DocumentBatches of synthetic text.
type Generate struct{ stage.Base }

// NewGenerate returns a generator stage.
func NewGenerate() *Generate {
	return &Generate{Base: stage.Base{StageName: "synthetic_generate", Batch: 1, In: stage.Spec{Kinds: []string{task.KindEmpty}}, Out: stage.Spec{Kinds: []string{task.KindDocumentBatch}, Columns: []string{"text", "id"}}}}
}

// ProcessBatch implements stage.Stage.
func (g *Generate) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	out := make([]task.Task, 0, len(ts))
	for _, t := range ts {
		m := t.Meta()
		off, err1 := strconv.ParseInt(m["shard_offset"], 10, 64)
		size, err2 := strconv.ParseInt(m["shard_bytes"], 10, 64)
		docBytes, err3 := strconv.Atoi(m["doc_bytes"])
		seed, err4 := strconv.ParseUint(m["seed"], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			return nil, fmt.Errorf("synthetic_generate: task %s is not a synthetic shard (metadata %v)", t.ID(), m)
		}
		rng := rand.New(rand.NewPCG(seed, uint64(off)))
		var texts []string
		var ids []int64
		var sb strings.Builder
		for made := int64(0); made < size; {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			sb.Reset()
			for sb.Len() < docBytes {
				sb.WriteString(words[rng.IntN(len(words))])
				sb.WriteByte(' ')
			}
			texts = append(texts, sb.String())
			ids = append(ids, off+made)
			made += int64(sb.Len())
		}
		b := task.NewDocumentBatch(t.Dataset(), "text", texts)
		b.SetColumn(&task.Column{Name: "id", Type: task.Int64, Ints: ids})
		out = append(out, b)
	}
	return out, nil
}

// Normalize lower-cases the text and collapses runs of white space: a
// CPU-bound transform that allocates new text.
type Normalize struct{ stage.Base }

// NewNormalize returns a normalize stage.
func NewNormalize() *Normalize {
	return &Normalize{Base: stage.Base{StageName: "normalize", Batch: 1, In: stage.Spec{Kinds: []string{task.KindDocumentBatch}, Columns: []string{"text"}}}}
}

// ProcessBatch implements stage.Stage.
func (n *Normalize) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) {
	for _, t := range ts {
		b, ok := t.(*task.DocumentBatch)
		if !ok {
			return nil, fmt.Errorf("normalize: task %s is %s, want %s", t.ID(), t.Kind(), task.KindDocumentBatch)
		}
		texts := b.Texts()
		norm := make([]string, len(texts))
		for i, s := range texts {
			norm[i] = strings.Join(strings.FieldsFunc(strings.ToLower(s), unicode.IsSpace), " ")
		}
		b.SetColumn(&task.Column{Name: b.TextColumn, Type: task.String, Strings: norm})
	}
	return ts, nil
}

// Names of the counters Discard reports (stage.Count); the executor sums
// them per stage (executor.StageReport.Counters).
const (
	CounterDocs  = "discard_docs"
	CounterBytes = "discard_bytes"
)

// Discard counts documents and bytes and drops the tasks. The counts travel
// with each call's result as counters: actors share nothing.
type Discard struct{ stage.Base }

// NewDiscard returns a sink stage.
func NewDiscard() *Discard {
	return &Discard{Base: stage.Base{StageName: "discard", Batch: 1}}
}

// ProcessBatch implements stage.Stage.
func (d *Discard) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	var docs, bytes int64
	for _, t := range ts {
		if b, ok := t.(*task.DocumentBatch); ok {
			docs += int64(b.NumRows())
			for _, s := range b.Texts() {
				bytes += int64(len(s))
			}
		}
	}
	stage.Count(ctx, CounterDocs, docs)
	stage.Count(ctx, CounterBytes, bytes)
	return nil, nil
}

// Register adds the synthetic stage types to r.
func Register(r *stage.Registry) error {
	types := []stage.Type{
		{Name: "synthetic_source", Doc: "Fans the start task out into shard tasks that synthetic_generate expands into documents.",
			Fields: []stage.Field{
				{Name: "total_bytes", Type: "int", Doc: "total text to generate (required)"},
				{Name: "shard_bytes", Type: "int", Default: "4194304", Doc: "text per shard task"},
				{Name: "doc_bytes", Type: "int", Default: "2000", Doc: "approximate size of one document"},
				{Name: "seed", Type: "int", Default: "1", Doc: "random seed"},
			},
			New: func(config []byte) (stage.Stage, error) {
				var c SourceConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return NewSource(c)
			}},
		{Name: "synthetic_generate", Doc: "Expands synthetic shard tasks into DocumentBatches (columns text, id).",
			New: func(config []byte) (stage.Stage, error) {
				if err := stage.DecodeConfig(config, &struct{}{}); err != nil {
					return nil, err
				}
				return NewGenerate(), nil
			}},
		{Name: "normalize", Doc: "Lower-cases text and collapses white space.",
			New: func(config []byte) (stage.Stage, error) {
				if err := stage.DecodeConfig(config, &struct{}{}); err != nil {
					return nil, err
				}
				return NewNormalize(), nil
			}},
		{Name: "discard", Doc: "Counts documents and bytes, then drops the tasks (a sink for benchmarks).",
			New: func(config []byte) (stage.Stage, error) {
				if err := stage.DecodeConfig(config, &struct{}{}); err != nil {
					return nil, err
				}
				return NewDiscard(), nil
			}},
	}
	for _, t := range types {
		if err := r.Register(t); err != nil {
			return err
		}
	}
	return nil
}
