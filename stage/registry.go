package stage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-data/sluice/task"
)

// Descriptor is the serialisable description of a stage: a registered type
// name, its config, and the overrides of With. The driver sends it to other
// processes, which build the same stage from it with Registry.Build.
type Descriptor struct {
	Type       string            `json:"type" yaml:"type"`
	Name       string            `json:"name,omitempty" yaml:"name,omitempty"`
	Config     json.RawMessage   `json:"config,omitempty" yaml:"-"`
	Resources  *Resources        `json:"resources,omitempty" yaml:"resources,omitempty"`
	BatchSize  int               `json:"batch_size,omitempty" yaml:"batch_size,omitempty"`
	NumWorkers int               `json:"num_workers,omitempty" yaml:"num_workers,omitempty"`
	Env        map[string]string `json:"env,omitempty" yaml:"env,omitempty"`
}

// Field documents one config field of a stage type.
type Field struct {
	Name    string
	Type    string
	Default string
	Doc     string
}

// Type is a registered stage type.
type Type struct {
	// Name is the type name used in YAML and descriptors, such as "jsonl_reader".
	Name string
	// Doc is a one-paragraph description.
	Doc string
	// Fields documents the config fields.
	Fields []Field
	// New builds a stage from a JSON config (which may be empty). It must
	// reject unknown fields.
	New func(config []byte) (Stage, error)
}

// Registry maps stage type names to constructors. Beside the stage types it
// holds what another process needs to exchange the stages' data: the codecs
// of the task types (built-in ones, plus any a program registers with
// RegisterTask) and named sentinel errors (RegisterError). A process that
// runs actors for a head builds the same registry, so that both ends agree.
// It is a plain value: each program builds its own (no package-level state).
type Registry struct {
	types  map[string]Type
	codecs *task.Codecs
	errs   map[string]error
}

// NewRegistry returns a registry with no stage types, the built-in task
// codecs and no named errors.
func NewRegistry() *Registry {
	return &Registry{types: make(map[string]Type), codecs: task.NewCodecs(), errs: make(map[string]error)}
}

// Register adds a type. Registering a name twice is an error.
func (r *Registry) Register(t Type) error {
	if t.Name == "" || t.New == nil {
		return fmt.Errorf("stage registry: type needs a name and a constructor")
	}
	if _, dup := r.types[t.Name]; dup {
		return fmt.Errorf("stage registry: type %q registered twice", t.Name)
	}
	r.types[t.Name] = t
	return nil
}

// RegisterTask adds the codec of a task type, so that tasks of that kind can
// cross between processes. Registering a kind that already has a codec (a
// built-in one included) is an error.
func (r *Registry) RegisterTask(c task.Codec) error {
	if c.Kind == "" || c.Encode == nil || c.Decode == nil {
		return fmt.Errorf("stage registry: task codec needs a kind, Encode and Decode")
	}
	if r.codecs.Has(c.Kind) {
		return fmt.Errorf("stage registry: task kind %q already has a codec", c.Kind)
	}
	r.codecs.Register(c)
	return nil
}

// Codecs returns the task codecs: the built-in ones and those added with
// RegisterTask. The runtime uses them to move tasks between processes.
func (r *Registry) Codecs() *task.Codecs { return r.codecs }

// RegisterError names a sentinel error, so that errors.Is(err, sentinel)
// still holds for an error that crossed from another process (the error
// codec in package runtime sends the names of the registered sentinels an
// error matches). Names are unique.
func (r *Registry) RegisterError(name string, sentinel error) error {
	if name == "" || sentinel == nil {
		return fmt.Errorf("stage registry: a named error needs a name and an error")
	}
	if _, dup := r.errs[name]; dup {
		return fmt.Errorf("stage registry: error %q registered twice", name)
	}
	r.errs[name] = sentinel
	return nil
}

// Errors returns a copy of the named sentinel errors.
func (r *Registry) Errors() map[string]error { return maps.Clone(r.errs) }

// MustRegister is Register that panics on error, for program initialisation.
func (r *Registry) MustRegister(t Type) {
	if err := r.Register(t); err != nil {
		panic(err)
	}
}

// Types lists the registered types sorted by name.
func (r *Registry) Types() []Type {
	out := make([]Type, 0, len(r.types))
	for _, t := range r.types {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Build makes the stage d describes.
func (r *Registry) Build(d Descriptor) (Stage, error) {
	t, ok := r.types[d.Type]
	if !ok {
		names := make([]string, 0, len(r.types))
		for n := range r.types {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("stage registry: unknown stage type %q (known: %s)", d.Type, strings.Join(names, ", "))
	}
	cfg := d.Config
	if len(bytes.TrimSpace(cfg)) == 0 || string(bytes.TrimSpace(cfg)) == "null" {
		cfg = []byte("{}")
	}
	label := d.Type
	if d.Name != "" {
		label = d.Name + " (" + d.Type + ")"
	}
	s, err := t.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("stage %s: config: %w", label, err)
	}
	opts := []Option{withDescriptor(Descriptor{Type: d.Type, Config: cfg})}
	if d.Name != "" {
		opts = append(opts, WithName(d.Name))
	}
	if d.Resources != nil {
		if err := d.Resources.Validate(); err != nil {
			return nil, fmt.Errorf("stage %s: %w", label, err)
		}
		opts = append(opts, WithResources(*d.Resources))
	}
	if d.BatchSize != 0 {
		opts = append(opts, WithBatchSize(d.BatchSize))
	}
	if d.NumWorkers != 0 {
		opts = append(opts, WithNumWorkers(d.NumWorkers))
	}
	if d.Env != nil {
		opts = append(opts, WithEnv(d.Env))
	}
	return With(s, opts...), nil
}

// DecodeConfig decodes a JSON config into v, rejecting unknown fields with an
// error that names them. Stage constructors use it.
func DecodeConfig(config []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	return nil
}

// yamlDescriptor is the YAML form of a descriptor: the config is any YAML
// mapping, converted to JSON.
type yamlDescriptor struct {
	Type       string            `yaml:"type"`
	Name       string            `yaml:"name"`
	Config     yaml.Node         `yaml:"config"`
	Resources  *Resources        `yaml:"resources"`
	BatchSize  int               `yaml:"batch_size"`
	NumWorkers int               `yaml:"num_workers"`
	Env        map[string]string `yaml:"env"`
}

// UnmarshalYAML implements yaml.Unmarshaler: `config` may be any YAML mapping.
func (d *Descriptor) UnmarshalYAML(n *yaml.Node) error {
	var y yamlDescriptor
	if err := n.Decode(&y); err != nil {
		return err
	}
	*d = Descriptor{Type: y.Type, Name: y.Name, Resources: y.Resources, BatchSize: y.BatchSize, NumWorkers: y.NumWorkers, Env: y.Env}
	if y.Config.Kind != 0 {
		var v any
		if err := y.Config.Decode(&v); err != nil {
			return fmt.Errorf("line %d: stage %q config: %w", y.Config.Line, y.Name, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: stage %q config: %w", y.Config.Line, y.Name, err)
		}
		d.Config = b
	}
	return nil
}
