package stage

import (
	"context"
	"maps"
	"reflect"

	"github.com/sluice-data/sluice/task"
)

// Option overrides one setting of a stage; see With.
type Option func(*Overridden)

// WithName overrides the stage name.
func WithName(name string) Option { return func(o *Overridden) { o.name = &name } }

// WithResources overrides the resource request.
func WithResources(r Resources) Option { return func(o *Overridden) { o.res = &r } }

// WithBatchSize overrides the batch size.
func WithBatchSize(n int) Option { return func(o *Overridden) { o.batch = &n } }

// WithNumWorkers overrides the actor count.
func WithNumWorkers(n int) Option { return func(o *Overridden) { o.workers = &n } }

// WithEnv overlays env vars on the stage's own. On a stage that already has
// env overrides (With of a With), env is overlaid on them.
func WithEnv(env map[string]string) Option {
	return func(o *Overridden) { o.env = mergeEnv(o.env, env, nil) }
}

// withDescriptor records how a registry built the stage.
func withDescriptor(d Descriptor) Option { return func(o *Overridden) { o.desc = &d } }

// Overridden is a stage with some settings replaced. Build one with With.
type Overridden struct {
	Stage
	name           *string
	res            *Resources
	batch, workers *int
	env            map[string]string
	desc           *Descriptor
}

// With returns a copy of s with the given settings overridden. s itself is
// not modified.
func With(s Stage, opts ...Option) Stage {
	o := &Overridden{Stage: s}
	if prev, ok := s.(*Overridden); ok {
		c := *prev
		o = &c
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// Name implements Stage.
func (o *Overridden) Name() string {
	if o.name != nil {
		return *o.name
	}
	return o.Stage.Name()
}

// Resources implements Stage.
func (o *Overridden) Resources() Resources {
	if o.res != nil {
		return *o.res
	}
	return o.Stage.Resources()
}

// BatchSize implements Stage.
func (o *Overridden) BatchSize() int {
	if o.batch != nil {
		return *o.batch
	}
	return o.Stage.BatchSize()
}

// NumWorkers implements Stage.
func (o *Overridden) NumWorkers() int {
	if o.workers != nil {
		return *o.workers
	}
	return o.Stage.NumWorkers()
}

// Env implements Stage: the inner env overlaid with the override.
func (o *Overridden) Env() map[string]string {
	if o.env == nil {
		return o.Stage.Env()
	}
	return mergeEnv(o.Stage.Env(), o.env, nil)
}

// Unwrap returns the stage whose settings are overridden.
func (o *Overridden) Unwrap() Stage { return o.Stage }

// Unwrap returns the innermost stage under any With overrides.
func Unwrap(s Stage) Stage {
	for {
		o, ok := s.(*Overridden)
		if !ok {
			return s
		}
		s = o.Stage
	}
}

// AsShuffle returns s's ShuffleStage implementation, if it has one.
func AsShuffle(s Stage) (ShuffleStage, bool) {
	ss, ok := Unwrap(s).(ShuffleStage)
	return ss, ok
}

// AsLSH returns s's LSHStage implementation, if it has one.
func AsLSH(s Stage) (LSHStage, bool) {
	ls, ok := Unwrap(s).(LSHStage)
	return ls, ok
}

// DescriptorOf returns the descriptor a Registry built s from, with s's
// current overrides, so another process can build the same stage.
func DescriptorOf(s Stage) (Descriptor, bool) {
	o, ok := s.(*Overridden)
	if !ok || o.desc == nil {
		return Descriptor{}, false
	}
	d := *o.desc
	d.Name = o.Name()
	if o.res != nil {
		r := *o.res
		d.Resources = &r
	}
	if o.batch != nil {
		d.BatchSize = *o.batch
	}
	if o.workers != nil {
		d.NumWorkers = *o.workers
	}
	if o.env != nil {
		d.Env = maps.Clone(o.env)
	}
	return d, true
}

// NewInstance returns a fresh copy of the prototype s for one actor, for
// runtimes that run actors in this process. A stage that implements Cloner
// is cloned with CloneStage; a pointer to a struct is copied shallowly
// (fields that Setup assigns become per-actor; pointers, maps and slices set
// at construction stay shared, so treat them as read-only); any other value
// is used as is. A runtime that runs actors in other processes builds each
// one from its Descriptor instead, so nothing is shared at all: never rely
// on state shared between actors (count with Count, read retries with
// Attempt).
func NewInstance(s Stage) Stage {
	if o, ok := s.(*Overridden); ok {
		c := *o
		c.Stage = NewInstance(o.Stage)
		return &c
	}
	if c, ok := s.(Cloner); ok {
		return c.CloneStage()
	}
	v := reflect.ValueOf(s)
	if v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() == reflect.Struct {
		cp := reflect.New(v.Elem().Type())
		cp.Elem().Set(v.Elem())
		if st, ok := cp.Interface().(Stage); ok {
			return st
		}
	}
	return s
}

// Cloner is implemented by stages that need a custom per-actor copy.
type Cloner interface {
	CloneStage() Stage
}

// ensure Overridden keeps satisfying Stage.
var _ Stage = (*Overridden)(nil)

// processFunc adapts a function to a stage, see Func.
type funcStage struct {
	Base
	fn func(ctx context.Context, tasks []task.Task) ([]task.Task, error)
}

func (f *funcStage) ProcessBatch(ctx context.Context, tasks []task.Task) ([]task.Task, error) {
	return f.fn(ctx, tasks)
}

// Func returns a stateless plain stage named name that runs fn on each batch.
func Func(name string, fn func(ctx context.Context, tasks []task.Task) ([]task.Task, error)) Stage {
	return &funcStage{Base: Base{StageName: name}, fn: fn}
}
