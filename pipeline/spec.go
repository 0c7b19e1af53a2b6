package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/stage"
	"go.yaml.in/yaml/v3"
)

// Spec is a pipeline loaded from a YAML file: the executor configuration and
// the stages, already built from their descriptors.
//
// The file format is:
//
//	name: demo                      # default: the file name without extension
//	cache: work/cache               # where steps keep their files (default: the first writer's dir/_cache)
//	executor:                       # executor.Config; every key optional
//	  mode: streaming               # or stage-by-stage
//	  max_attempts: 3
//	  max_failed_fraction: 0.05
//	  failed_manifest: out/failed.jsonl
//	  batch_timeout: 30s            # durations are Go duration strings
//	  stages: { chaos: { max_attempts: 5 } }
//	stages:                         # in execution order
//	  - type: jsonl_reader          # a registered stage type (see `sluice stages`)
//	    name: read                  # default: the type's own name
//	    config: { paths: [data/sample.jsonl], batch_rows: 1000 }
//	    resources: { cpus: 1 }      # optional overrides (stage.Descriptor)
//	    batch_size: 4
//	    num_workers: 2
//	    env: { KEY: value }
//
// Unknown keys are errors that name their line, at every level: the top
// level, the executor section, each stage entry and its resources (by the
// loader) and each stage's config (by the stage type, which rejects unknown
// fields; the loader finds the key's line).
//
// # Relative paths
//
// Relative paths in the file are resolved against the directory of the YAML
// file, so a pipeline runs the same from any working directory:
//
//   - cache and executor.failed_manifest;
//   - in a stage's config, at its top level, the string values (or lists of
//     strings) of keys named path, paths, dir, directory, file or files, or
//     ending in _path, _paths, _dir, _file or _files.
//
// Absolute paths, empty strings and URLs (anything containing "://") are
// kept as written.
type Spec struct {
	// Name is the pipeline's name.
	Name string
	// Executor is the executor section, relative paths resolved.
	Executor executor.Config
	// Stages describes the stages in order, relative paths in their configs resolved.
	Stages []stage.Descriptor
	// Cache is the directory steps work under (Pipeline.SetCache), relative
	// path resolved; "" for the default.
	Cache string
	// Path is the file the spec was loaded from, and Dir its directory.
	Path, Dir string

	built []stage.Stage
}

// Pipeline returns the spec's stages as a built pipeline (see Pipeline.Build).
func (s *Spec) Pipeline() (*Pipeline, error) {
	items := make([]any, len(s.built))
	for i, st := range s.built {
		items[i] = st
	}
	p := New(s.Name, items...)
	p.SetCache(s.Cache)
	if err := p.Build(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	return p, nil
}

// LoadFile reads the pipeline YAML at path and builds its stages with reg.
// Every error names the file and, where it concerns one entry, its line.
func LoadFile(path string, reg *stage.Registry) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return Load(data, path, reg)
}

// Load parses pipeline YAML read from path (used for messages, the default
// name and resolving relative paths) and builds its stages with reg.
func Load(data []byte, path string, reg *stage.Registry) (*Spec, error) {
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", path, err)
	}
	l := &loader{path: path, dir: dir}
	return l.load(data, reg)
}

// fileYAML is the top level of a pipeline file. The executor section is
// decoded on its own, key by key (see decodeStruct).
type fileYAML struct {
	Name     string      `yaml:"name"`
	Cache    string      `yaml:"cache"`
	Executor yaml.Node   `yaml:"executor"`
	Stages   []yaml.Node `yaml:"stages"`
}

// stageYAML is one entry of the stages list.
type stageYAML struct {
	Type       string            `yaml:"type"`
	Name       string            `yaml:"name"`
	Config     yaml.Node         `yaml:"config"`
	Resources  *stage.Resources  `yaml:"resources"`
	BatchSize  int               `yaml:"batch_size"`
	NumWorkers int               `yaml:"num_workers"`
	Env        map[string]string `yaml:"env"`
}

type loader struct {
	path, dir string
}

// errorf returns an error prefixed with "path:line: ".
func (l *loader) errorf(line int, format string, args ...any) error {
	if line > 0 {
		return fmt.Errorf("%s:%d: %s", l.path, line, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%s: %s", l.path, fmt.Sprintf(format, args...))
}

func (l *loader) load(data []byte, reg *stage.Registry) (*Spec, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, l.syntaxError(data, err)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty pipeline file", l.path)
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, l.errorf(top.Line, "the pipeline must be a mapping with name, executor and stages")
	}
	var f fileYAML
	if err := l.decodeStruct(top, &f, "pipeline"); err != nil {
		return nil, err
	}
	spec := &Spec{Name: f.Name, Path: l.path, Dir: l.dir}
	if f.Cache != "" {
		spec.Cache = l.resolve(f.Cache)
	}
	if err := l.decodeStruct(valueOf(top, "executor"), &spec.Executor, "executor"); err != nil {
		return nil, err
	}
	if spec.Name == "" {
		base := filepath.Base(l.path)
		spec.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if err := l.checkExecutor(&spec.Executor, valueOf(top, "executor")); err != nil {
		return nil, err
	}
	if len(f.Stages) == 0 {
		return nil, l.errorf(keyLine(top, "stages"), "the pipeline has no stages")
	}
	firstLine := make(map[string]int)
	for i := range f.Stages {
		n := &f.Stages[i]
		d, s, err := l.buildStage(n, reg)
		if err != nil {
			return nil, err
		}
		name := s.Name()
		if prev, dup := firstLine[name]; dup {
			return nil, l.errorf(n.Line, "duplicate stage name %q (first used at line %d)", name, prev)
		}
		firstLine[name] = n.Line
		spec.Stages = append(spec.Stages, d)
		spec.built = append(spec.built, s)
	}
	return spec, nil
}

// checkExecutor validates the executor section and resolves its paths.
func (l *loader) checkExecutor(c *executor.Config, n *yaml.Node) error {
	line := func(key string) int {
		if n == nil {
			return 0
		}
		return keyLine(n, key)
	}
	switch c.Mode {
	case "", executor.Streaming, executor.StageByStage:
	default:
		return l.errorf(line("mode"), "executor: mode %q: want %s or %s", c.Mode, executor.Streaming, executor.StageByStage)
	}
	if c.MaxFailedFraction < 0 || c.MaxFailedFraction > 1 {
		return l.errorf(line("max_failed_fraction"), "executor: max_failed_fraction %g is outside [0, 1]", c.MaxFailedFraction)
	}
	for key, bad := range map[string]bool{
		"max_attempts":         c.MaxAttempts < 0,
		"max_actor_deaths":     c.MaxActorDeaths < 0,
		"max_setup_failures":   c.MaxSetupFailures < 0,
		"batch_timeout":        c.BatchTimeout < 0,
		"retry_backoff":        c.RetryBackoff < 0,
		"queue_size":           c.QueueSize < 0,
		"max_pending":          c.MaxPending < 0,
		"shuffle_memory_limit": c.ShuffleMemoryLimit < 0,
		"reserved_cpus":        c.ReservedCPUs < 0,
		"reserved_gpus":        c.ReservedGPUs < 0,
	} {
		if bad {
			return l.errorf(line(key), "executor: %s must not be negative", key)
		}
	}
	if c.FailedManifest != "" {
		c.FailedManifest = l.resolve(c.FailedManifest)
	}
	return nil
}

// buildStage decodes one stage entry and builds it.
func (l *loader) buildStage(n *yaml.Node, reg *stage.Registry) (stage.Descriptor, stage.Stage, error) {
	var d stage.Descriptor
	if n.Kind != yaml.MappingNode {
		return d, nil, l.errorf(n.Line, "a stage must be a mapping with type, name and config")
	}
	label := "stage"
	for _, key := range []string{"name", "type"} {
		if v := valueOf(n, key); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" {
			label += " " + v.Value
			break
		}
	}
	var y stageYAML
	if err := l.decodeStruct(n, &y, label); err != nil {
		return d, nil, err
	}
	if y.Type == "" {
		return d, nil, l.errorf(n.Line, "stage %q has no type", y.Name)
	}
	d = stage.Descriptor{Type: y.Type, Name: y.Name, Resources: y.Resources, BatchSize: y.BatchSize, NumWorkers: y.NumWorkers, Env: y.Env}
	label = y.Type
	if y.Name != "" && y.Name != y.Type {
		label = y.Name + " (" + y.Type + ")"
	}
	cfgNode := valueOf(n, "config")
	if cfgNode != nil && !isNull(cfgNode) {
		if cfgNode.Kind != yaml.MappingNode {
			return d, nil, l.errorf(cfgNode.Line, "stage %s: config must be a mapping", label)
		}
		var v map[string]any
		if err := cfgNode.Decode(&v); err != nil {
			return d, nil, l.errorf(cfgNode.Line, "stage %s: config: %v", label, err)
		}
		l.resolveConfig(v)
		b, err := json.Marshal(v)
		if err != nil {
			return d, nil, l.errorf(cfgNode.Line, "stage %s: config: %v", label, err)
		}
		d.Config = b
	}
	if y.BatchSize < 0 {
		return d, nil, l.errorf(keyLine(n, "batch_size"), "stage %s: batch_size must not be negative", label)
	}
	if y.NumWorkers < 0 {
		return d, nil, l.errorf(keyLine(n, "num_workers"), "stage %s: num_workers must not be negative", label)
	}
	s, err := reg.Build(d)
	if err != nil {
		line := n.Line
		if kl := keyLine(n, "type"); kl > 0 && strings.Contains(err.Error(), "unknown stage type") {
			line = kl
		}
		if cfgNode != nil {
			if terr, ok := l.configTypeError(err, label, cfgNode); ok {
				return d, nil, terr
			}
			if field := unknownField(err); field != "" {
				return d, nil, l.unknownConfigKey(cfgNode, field, label, reg.Types(), y.Type)
			} else if strings.Contains(err.Error(), "config:") {
				line = cfgNode.Line
				if kl := mentionedKey(cfgNode, err.Error()); kl > 0 {
					line = kl
				}
			}
		}
		return d, nil, l.errorf(line, "%v", err)
	}
	return d, s, nil
}

// unknownConfigKey reports a key of a stage's config that its type does not
// know, at the key's line, with the type's keys and the nearest one.
func (l *loader) unknownConfigKey(cfgNode *yaml.Node, field, label string, types []stage.Type, typ string) error {
	k := &yaml.Node{Value: field, Line: cfgNode.Line}
	if fl := findKey(cfgNode, field); fl > 0 {
		k.Line = fl
	}
	var known []string
	if i := slices.IndexFunc(types, func(t stage.Type) bool { return t.Name == typ }); i >= 0 {
		for _, f := range types[i].Fields {
			known = append(known, f.Name)
		}
	}
	return l.unknownKey(k, "stage "+label+": config", known)
}

// isPathKey reports whether a config key holds paths under the resolution rule.
func isPathKey(k string) bool {
	switch k {
	case "path", "paths", "dir", "directory", "file", "files":
		return true
	}
	for _, suf := range []string{"_path", "_paths", "_dir", "_file", "_files"} {
		if strings.HasSuffix(k, suf) {
			return true
		}
	}
	return false
}

// resolveConfig resolves the relative paths at the top level of a stage config.
func (l *loader) resolveConfig(cfg map[string]any) {
	for k, v := range cfg {
		if !isPathKey(k) {
			continue
		}
		switch v := v.(type) {
		case string:
			cfg[k] = l.resolve(v)
		case []any:
			for i, e := range v {
				if s, ok := e.(string); ok {
					v[i] = l.resolve(s)
				}
			}
		}
	}
}

// resolve makes a relative path relative to the YAML file's directory.
func (l *loader) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") {
		return p
	}
	return filepath.Join(l.dir, p)
}

// valueOf returns the value node of key in mapping n, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// keyLine returns the line of key in mapping n, or 0.
func keyLine(n *yaml.Node, key string) int {
	if n == nil || n.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return 0
}

// findKey returns the line of the first mapping key named key anywhere under n, or 0.
func findKey(n *yaml.Node, key string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.MappingNode {
		if l := keyLine(n, key); l > 0 {
			return l
		}
	}
	for _, c := range n.Content {
		if l := findKey(c, key); l > 0 {
			return l
		}
	}
	return 0
}

// mentionedKey returns the line of the first top-level key of mapping n
// that msg mentions, or 0.
func mentionedKey(n *yaml.Node, msg string) int {
	if n.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if re, err := regexp.Compile(`\b` + regexp.QuoteMeta(k.Value) + `\b`); err == nil && re.MatchString(msg) {
			return k.Line
		}
	}
	return 0
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

var unknownFieldRE = regexp.MustCompile(`unknown field "([^"]+)"`)

// unknownField extracts the field name of a JSON "unknown field" error.
func unknownField(err error) string {
	m := unknownFieldRE.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	return m[1]
}
