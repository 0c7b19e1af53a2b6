// Package steps makes the deduplication workflows steps of a pipeline file
// (`sluice run`): dedup_exact and dedup_fuzzy. Each is a pipeline.Step: the
// documents reaching it are spooled to JSONL files in its work directory
// (a jsonl_writer, raw lines kept byte for byte), the workflow runs over
// them with its cache and output inside the work directory, and the kept
// documents are read back (jsonl_read_files) for the stages after it. Two
// steps in a row pass files without reading them. See docs/pipeline.md.
package steps

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sluice-data/sluice/dedup/exact"
	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/dedup/internal/flow"
	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/pipeline"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/jsonl"
	"github.com/sluice-data/sluice/task"
)

// Registry names of the step types.
const (
	ExactType = "dedup_exact"
	FuzzyType = "dedup_fuzzy"
)

// Fields both steps take.
var commonFields = []stage.Field{
	{Name: "text_field", Type: "string", Default: "text", Doc: "field holding the text"},
	{Name: "id_field", Type: "string", Default: "id", Doc: "field holding the documents' own ids (read back with the kept documents; named in the step's summary)"},
	{Name: "memory_limit", Type: "size", Default: "4GiB", Doc: "memory for buffered shuffle rows before they spill to the work directory (a number of bytes or a string such as \"512MiB\")"},
	{Name: "keep_cache", Type: "bool", Default: "false", Doc: "keep the workflow's cache in the work directory after the step (by default it is removed: the spooled input changes every run)"},
}

// Types returns the step types. Their spool and read stages, and the
// stages of their workflows, are built with reg, so that they carry
// descriptors other processes can rebuild them from.
func Types(reg *stage.Registry) []stage.Type {
	exactFields := append([]stage.Field{
		{Name: "normalize", Type: "bool", Default: "false", Doc: "hash the text lower-cased with punctuation and white space collapsed (default: the raw UTF-8 bytes, NeMo Curator's scheme)"},
	}, commonFields...)
	fuzzyFields := append([]stage.Field{
		{Name: "preset", Type: "string", Default: "none", Doc: "high-recall or high-recall-normalized (sluice dedup fuzzy --help); keys given explicitly win"},
		{Name: "scheme", Type: "string", Default: "nemo", Doc: "MinHash scheme: nemo or oph"},
		{Name: "char_ngrams", Type: "int", Default: "24", Doc: "shingle width in characters"},
		{Name: "bands", Type: "int", Default: "20", Doc: "LSH bands"},
		{Name: "rows", Type: "int", Default: "13", Doc: "rows per band"},
		{Name: "bands_per_iteration", Type: "int", Default: "5", Doc: "bands per LSH shuffle pass"},
		{Name: "seed", Type: "int", Default: "42", Doc: "seed of the MinHash permutations"},
		{Name: "hash_bits", Type: "int", Default: "32", Doc: "32 or 64"},
		{Name: "normalize", Type: "bool", Default: "false", Doc: "shingle lower-cased text with punctuation and white space collapsed"},
		{Name: "verify_threshold", Type: "float", Default: "0 (off)", Doc: "keep only candidate pairs whose shingle Jaccard reaches this"},
	}, commonFields...)
	return []stage.Type{
		{Name: ExactType, Doc: "Step: exact deduplication (sluice dedup exact) of every document reaching it; the kept documents go on, lines byte-identical. Runs in the driver between the stages before and after it.",
			Fields: exactFields,
			New: func(config []byte) (stage.Stage, error) {
				var c ExactConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return NewExact(reg, c)
			}},
		{Name: FuzzyType, Doc: "Step: fuzzy deduplication (sluice dedup fuzzy) of every document reaching it; the kept documents go on, lines byte-identical. Runs in the driver between the stages before and after it.",
			Fields: fuzzyFields,
			New: func(config []byte) (stage.Stage, error) {
				var c FuzzyConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				keys := map[string]json.RawMessage{}
				if len(config) > 0 {
					if err := json.Unmarshal(config, &keys); err != nil {
						return nil, err
					}
				}
				return NewFuzzy(reg, c, func(key string) bool { _, ok := keys[key]; return ok })
			}},
	}
}

// common is what both steps' configurations hold.
type common struct {
	TextField   string          `json:"text_field,omitempty"`
	IDField     string          `json:"id_field,omitempty"`
	MemoryLimit *jsonl.ByteSize `json:"memory_limit,omitempty"`
	KeepCache   bool            `json:"keep_cache,omitempty"`
}

// ExactConfig configures a dedup_exact step.
type ExactConfig struct {
	common
	Normalize bool `json:"normalize,omitempty"`
}

// FuzzyConfig configures a dedup_fuzzy step. Zero values take fuzzy
// dedup's defaults (or the preset's).
type FuzzyConfig struct {
	common
	Preset            string  `json:"preset,omitempty"`
	Scheme            string  `json:"scheme,omitempty"`
	CharNgrams        int     `json:"char_ngrams,omitempty"`
	Bands             int     `json:"bands,omitempty"`
	Rows              int     `json:"rows,omitempty"`
	BandsPerIteration int     `json:"bands_per_iteration,omitempty"`
	Seed              *uint64 `json:"seed,omitempty"`
	HashBits          int     `json:"hash_bits,omitempty"`
	Normalize         bool    `json:"normalize,omitempty"`
	VerifyThreshold   float64 `json:"verify_threshold,omitempty"`
}

// Step is a deduplication step.
type Step struct {
	stage.Base
	reg                *stage.Registry
	textField, idField string
	// run runs the workflow over inputs with output and cache in workDir.
	run func(ctx context.Context, env pipeline.StepEnv, inputs []string) (*outcome, error)
}

// outcome is what a workflow did, in the step's terms.
type outcome struct {
	records, written int64
	files            []string
	phases           []flow.PhaseSummary
	nodes            []flow.NodeSummary
}

var _ pipeline.Step = (*Step)(nil)

func newStep(name string, reg *stage.Registry, c common) (*Step, error) {
	if c.TextField == "" {
		c.TextField = dataio.DefaultTextField
	}
	if c.IDField == "" {
		c.IDField = dataio.DefaultIDField
	}
	if c.MemoryLimit != nil && *c.MemoryLimit < 0 {
		return nil, fmt.Errorf("memory_limit %d must not be negative", *c.MemoryLimit)
	}
	return &Step{Base: stage.Base{StageName: name, In: stage.Spec{Kinds: []string{task.KindFileGroup}}, Out: stage.Spec{Kinds: []string{task.KindFileGroup}}},
		reg: reg, textField: c.TextField, idField: c.IDField}, nil
}

// memoryLimit is the configured limit, or the workflows' default.
func (c common) memoryLimit(def int64) int64 {
	if c.MemoryLimit == nil {
		return def
	}
	return int64(*c.MemoryLimit)
}

// NewExact returns a dedup_exact step.
func NewExact(reg *stage.Registry, c ExactConfig) (*Step, error) {
	s, err := newStep(ExactType, reg, c.common)
	if err != nil {
		return nil, err
	}
	cfg := exact.DefaultConfig()
	cfg.TextField, cfg.IDField, cfg.Normalize, cfg.MemoryLimit = s.textField, s.idField, c.Normalize, c.memoryLimit(cfg.MemoryLimit)
	cfg.Overwrite, cfg.RemoveCache, cfg.InputsInOrder = true, !c.KeepCache, true
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s.run = func(ctx context.Context, env pipeline.StepEnv, inputs []string) (*outcome, error) {
		cfg := cfg
		cfg.Inputs, cfg.Output, cfg.Cache = inputs, filepath.Join(env.WorkDir, "output"), filepath.Join(env.WorkDir, "cache")
		w := &exact.Workflow{Cfg: cfg, Runtime: env.Runtime, Executor: env.Executor, Registry: reg, Logger: env.Logger}
		sum, err := w.Run(ctx)
		if err != nil {
			return nil, err
		}
		return &outcome{records: sum.Records, written: sum.RecordsWritten, files: w.Written(), phases: sum.Phases, nodes: sum.Nodes}, nil
	}
	return s, nil
}

// NewFuzzy returns a dedup_fuzzy step; given reports which config keys were
// set, so that they win over the preset's.
func NewFuzzy(reg *stage.Registry, c FuzzyConfig, given func(key string) bool) (*Step, error) {
	s, err := newStep(FuzzyType, reg, c.common)
	if err != nil {
		return nil, err
	}
	cfg := fuzzy.DefaultConfig()
	cfg.TextField, cfg.IDField, cfg.MemoryLimit = s.textField, s.idField, c.memoryLimit(cfg.MemoryLimit)
	setInt := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	setInt(&cfg.CharNgrams, c.CharNgrams)
	setInt(&cfg.Bands, c.Bands)
	setInt(&cfg.Rows, c.Rows)
	setInt(&cfg.BandsPerIteration, c.BandsPerIteration)
	setInt(&cfg.HashBits, c.HashBits)
	if c.Seed != nil {
		cfg.Seed = *c.Seed
	}
	if c.Scheme != "" {
		cfg.Scheme = c.Scheme
	}
	cfg.Normalize, cfg.VerifyThreshold = c.Normalize, c.VerifyThreshold
	if c.Preset != "" {
		p, err := fuzzy.LookupPreset(c.Preset)
		if err != nil {
			return nil, err
		}
		keys := map[string]string{"scheme": "scheme", "bands": "bands", "rows": "rows", "verify-threshold": "verify_threshold", "normalize": "normalize"}
		p.Apply(&cfg, func(flag string) bool { return given(keys[flag]) })
	}
	cfg.Overwrite, cfg.RemoveCache, cfg.InputsInOrder = true, !c.KeepCache, true
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s.run = func(ctx context.Context, env pipeline.StepEnv, inputs []string) (*outcome, error) {
		cfg := cfg
		cfg.Inputs, cfg.Output, cfg.Cache = inputs, filepath.Join(env.WorkDir, "output"), filepath.Join(env.WorkDir, "cache")
		w := &fuzzy.Workflow{Cfg: cfg, Runtime: env.Runtime, Executor: env.Executor, Registry: reg, Logger: env.Logger}
		sum, err := w.Run(ctx)
		if err != nil {
			return nil, err
		}
		return &outcome{records: sum.Records, written: sum.RecordsWritten, files: w.Written(), phases: sum.Phases, nodes: sum.Nodes}, nil
	}
	return s, nil
}

// SpoolStage implements pipeline.Step: a jsonl_writer into dir that keeps
// the readers' raw lines (records: auto) and replaces its earlier files.
func (s *Step) SpoolStage(name, dir string) (stage.Stage, error) {
	return build(s.reg, jsonl.WriterType, name, jsonl.WriterConfig{Dir: dir, Mode: "overwrite"})
}

// ReadStage implements pipeline.Step: a jsonl_read_files of the step's
// text and id fields.
func (s *Step) ReadStage(name string) (stage.Stage, error) {
	return build(s.reg, jsonl.ReadFilesType, name, jsonl.ReadFilesConfig{TextField: s.textField, IDField: s.idField})
}

func build(reg *stage.Registry, typ, name string, cfg any) (stage.Stage, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return reg.Build(stage.Descriptor{Type: typ, Name: name, Config: b})
}

// ProcessBatch implements stage.Stage; a step runs in the driver.
func (s *Step) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	return nil, stage.Permanent(fmt.Errorf("%s is a pipeline step: it runs in the driver (pipeline.Execute), not on actors", s.Name()))
}

// RunStep implements pipeline.Step: it runs the workflow over the files of
// the file groups it receives, in the order their documents were read (see
// inputOrder), then removes its spool (only the files Sluice wrote there)
// and returns one file group per kept file, in the same order.
func (s *Step) RunStep(ctx context.Context, env pipeline.StepEnv, in []task.Task) (*pipeline.StepResult, error) {
	inputs, err := inputOrder(in)
	if err != nil {
		return nil, err
	}
	if len(inputs) == 0 {
		return &pipeline.StepResult{}, nil
	}
	o, err := s.run(ctx, env, inputs)
	if err != nil {
		return nil, err
	}
	spool := filepath.Join(env.WorkDir, "input")
	if _, err := os.Stat(spool); err != nil {
		// Fed by another step: nothing was spooled.
	} else if _, err := dataio.PrepareOutput(spool, dataio.PrepareOptions{Name: "the spool of step " + s.Name(), Mode: dataio.OutputOverwrite, Logger: env.Logger}); err != nil {
		env.Logger.Warn("cannot remove the spooled input", "step", s.Name(), "dir", spool, "err", err)
	}
	res := &pipeline.StepResult{DocumentsIn: o.records, DocumentsOut: o.written}
	for _, f := range o.files {
		res.Out = append(res.Out, task.NewFileGroup("", []string{f}))
	}
	for _, p := range o.phases {
		res.Stages = append(res.Stages, p.Stages...)
	}
	for _, n := range o.nodes {
		res.Nodes = append(res.Nodes, executor.NodeReport{ID: n.ID, Lost: n.Lost, Calls: n.Calls,
			CPU: time.Duration(n.CPUSec * float64(time.Second)), PeakRSS: n.PeakRSSBytes})
	}
	return res, nil
}

// inputOrder returns the files of the file groups in, ordered by where
// their documents came from (the first source file and record of each
// group, task.MetaSourceFile and task.MetaSourceRows, which the spool
// stage's outputs carry from the batches they wrote): readers list their
// files sorted by path, so this is the input order, and the workflow's ids
// — which decide the document kept of each group — follow it, as they do
// when `sluice dedup` reads the files itself. Groups without sources (the
// files of a step before) keep the order given.
func inputOrder(in []task.Task) ([]string, error) {
	type item struct {
		file  string
		row   int64
		paths []string
	}
	items := make([]item, 0, len(in))
	for _, t := range in {
		fg, ok := t.(*task.FileGroup)
		if !ok {
			return nil, fmt.Errorf("task %s is a %s, want a file group", t.ID(), t.Kind())
		}
		it := item{paths: fg.Paths}
		m := fg.Meta()
		if f, _, _ := strings.Cut(m[task.MetaSourceFile], "\n"); f != "" {
			rows, _, _ := strings.Cut(m[task.MetaSourceRows], "\n")
			first, _, _ := strings.Cut(rows, "-")
			it.file, it.row = f, flow.Atoi(first)
		}
		items = append(items, it)
	}
	slices.SortStableFunc(items, func(a, b item) int {
		return cmp.Or(strings.Compare(a.file, b.file), cmp.Compare(a.row, b.row))
	})
	var files []string
	for _, it := range items {
		files = append(files, it.paths...)
	}
	return files, nil
}
