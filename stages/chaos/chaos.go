// Package chaos provides the fault-injection stage: a plain stage that
// passes its tasks through unchanged but fails, panics, hangs, sleeps or
// refuses to set up on command, so that the executor's fault tolerance
// (retries, actor replacement, batch timeouts, poison batches, setup
// failures, the failed-task manifest) can be exercised on real pipelines.
//
// # Which batches are hit
//
// A batch is identified by the id of its first task, its key. Every knob is
// deterministic given the configuration and the keys, so a run can be
// repeated:
//
//   - error_ids, panic_ids and hang_ids hit every attempt of a batch that
//     holds one of the listed task ids: the batch can never succeed, so its
//     tasks end up failed (a permanent failure, or a poison batch for
//     panics and hangs).
//   - error_fraction picks the faulty batches: a batch is faulty when
//     hash(seed, key) < error_fraction, a fixed property of the key. A faulty
//     batch returns an error on its first error_attempts attempts (default
//     1) and passes afterwards, so with error_attempts below the executor's
//     max_attempts every faulty batch succeeds on a retry. The attempt number
//     comes with each call (stage.Attempt), so this holds wherever the
//     batch's attempts run.
//   - panic_on_call, panic_every and hang_on_call count the ProcessBatch
//     calls of each actor (each actor is its own stage instance, so a
//     replacement actor starts counting from zero). When the count triggers,
//     the actor panics (or hangs) on that call if it is the batch's first
//     attempt; otherwise the fault is owed and strikes the actor's next call
//     that is a first attempt. So no batch is hit twice by these knobs, and
//     retries succeed.
//   - setup_fail_times fails the set-up of the stage's first actors: those
//     whose id ends in a number below it (the executor numbers a stage's
//     actors from 0 as it creates them, replacements included).
//
// Actors share nothing. What they did is reported through counters that
// travel with each call's result (stage.Count) and that the executor sums
// per stage: chaos_calls, chaos_errors, chaos_panics, chaos_hangs and
// chaos_passed (tasks returned by successful calls).
package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
	"github.com/zeebo/xxh3"
)

// TypeName is the registry name of the chaos stage.
const TypeName = "chaos"

// Config configures the chaos stage. The zero value passes every batch
// through untouched. See the package documentation for how batches are
// chosen.
type Config struct {
	// ErrorFraction is the fraction of batches, in [0, 1], that are faulty:
	// they return an error on their first ErrorAttempts attempts.
	ErrorFraction float64 `json:"error_fraction,omitempty"`
	// ErrorAttempts is how many attempts of a faulty batch fail (default 1).
	ErrorAttempts int `json:"error_attempts,omitempty"`
	// Seed varies which batches are faulty.
	Seed uint64 `json:"seed,omitempty"`
	// ErrorIDs lists task ids whose batches always return an error.
	ErrorIDs []string `json:"error_ids,omitempty"`
	// PanicIDs lists task ids whose batches always panic (poison batches).
	PanicIDs []string `json:"panic_ids,omitempty"`
	// PanicOnCall makes each actor panic on its Nth ProcessBatch call
	// (1-based); 0 means never.
	PanicOnCall int `json:"panic_on_call,omitempty"`
	// PanicEvery makes each actor panic on every Nth call (N, 2N, ...); 0
	// means never.
	PanicEvery int `json:"panic_every,omitempty"`
	// HangIDs lists task ids whose batches block until their context is
	// cancelled (a batch timeout abandons them).
	HangIDs []string `json:"hang_ids,omitempty"`
	// HangOnCall makes each actor hang on its Nth call (1-based); 0 means never.
	HangOnCall int `json:"hang_on_call,omitempty"`
	// SetupFailTimes makes the set-up of the stage's first N actors fail:
	// those whose id ends in a number below N (the executor numbers a
	// stage's actors from 0, replacements included).
	SetupFailTimes int `json:"setup_fail_times,omitempty"`
	// SetupFailAlways makes every Setup fail.
	SetupFailAlways bool `json:"setup_fail_always,omitempty"`
	// Sleep is slept at the start of every call (watching the context).
	Sleep Duration `json:"sleep,omitempty"`
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.ErrorFraction < 0 || c.ErrorFraction > 1:
		return fmt.Errorf("error_fraction %g is outside [0, 1]", c.ErrorFraction)
	case c.ErrorAttempts < 0:
		return fmt.Errorf("error_attempts %d is negative", c.ErrorAttempts)
	case c.PanicOnCall < 0:
		return fmt.Errorf("panic_on_call %d is negative", c.PanicOnCall)
	case c.PanicEvery < 0:
		return fmt.Errorf("panic_every %d is negative", c.PanicEvery)
	case c.HangOnCall < 0:
		return fmt.Errorf("hang_on_call %d is negative", c.HangOnCall)
	case c.SetupFailTimes < 0:
		return fmt.Errorf("setup_fail_times %d is negative", c.SetupFailTimes)
	case c.Sleep < 0:
		return fmt.Errorf("sleep %s is negative", time.Duration(c.Sleep))
	}
	return nil
}

// Fields documents the configuration for `sluice stages`.
var Fields = []stage.Field{
	{Name: "error_fraction", Type: "float", Default: "0", Doc: "fraction of batches that are faulty: hash(seed, first task id) < error_fraction"},
	{Name: "error_attempts", Type: "int", Default: "1", Doc: "attempts of a faulty batch that return an error before it passes"},
	{Name: "seed", Type: "uint", Default: "0", Doc: "varies which batches are faulty"},
	{Name: "error_ids", Type: "[string]", Default: "[]", Doc: "task ids whose batches always return an error (permanent failure)"},
	{Name: "panic_ids", Type: "[string]", Default: "[]", Doc: "task ids whose batches always panic (poison batch)"},
	{Name: "panic_on_call", Type: "int", Default: "0", Doc: "each actor panics on its Nth call, 1-based (0 = never); a batch is hit at most once"},
	{Name: "panic_every", Type: "int", Default: "0", Doc: "each actor panics on every Nth call (0 = never); a batch is hit at most once"},
	{Name: "hang_ids", Type: "[string]", Default: "[]", Doc: "task ids whose batches block until cancelled (use with batch_timeout)"},
	{Name: "hang_on_call", Type: "int", Default: "0", Doc: "each actor blocks on its Nth call until cancelled (0 = never); a batch is hit at most once"},
	{Name: "setup_fail_times", Type: "int", Default: "0", Doc: "the stage's first N actors (ids ending in 0 to N-1; replacements count) fail to set up"},
	{Name: "setup_fail_always", Type: "bool", Default: "false", Doc: "every actor set-up fails"},
	{Name: "sleep", Type: "duration", Default: "0s", Doc: "time slept at the start of every call, e.g. \"10ms\""},
}

// Type returns the registry entry of the chaos stage.
func Type() stage.Type {
	return stage.Type{
		Name: TypeName,
		Doc: "Fault injection: passes tasks through unchanged while failing, panicking, hanging or sleeping " +
			"on chosen batches and refusing to set up, to exercise retries, actor replacement and batch timeouts.",
		Fields: Fields,
		New: func(config []byte) (stage.Stage, error) {
			var c Config
			if err := stage.DecodeConfig(config, &c); err != nil {
				return nil, err
			}
			return New(c)
		},
	}
}

// Names of the counters the stage reports (stage.Count).
const (
	CounterCalls  = "chaos_calls"
	CounterErrors = "chaos_errors"
	CounterPanics = "chaos_panics"
	CounterHangs  = "chaos_hangs"
	CounterPassed = "chaos_passed"
)

// Stage is the chaos stage. Build it with New (or through the registry).
type Stage struct {
	stage.Base
	cfg      Config
	errorIDs map[string]bool
	panicIDs map[string]bool
	hangIDs  map[string]bool

	// Per-actor state, reset by Setup.
	calls     int
	owedPanic bool
	owedHang  bool
}

// New returns a chaos stage named "chaos".
func New(cfg Config) (*Stage, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	if cfg.ErrorAttempts == 0 {
		cfg.ErrorAttempts = 1
	}
	return &Stage{
		Base:     stage.Base{StageName: TypeName, Batch: 1},
		cfg:      cfg,
		errorIDs: set(cfg.ErrorIDs),
		panicIDs: set(cfg.PanicIDs),
		hangIDs:  set(cfg.HangIDs),
	}, nil
}

func set(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// Config returns the stage's configuration, defaults applied.
func (s *Stage) Config() Config { return s.cfg }

// ErrInjected is wrapped by every error the stage injects on purpose.
var ErrInjected = errors.New("chaos: injected fault")

// ErrorName is the name under which ErrInjected is registered in a stage
// registry (stage.Registry.RegisterError), so that errors.Is(err,
// ErrInjected) holds for errors that crossed from another process.
const ErrorName = "chaos.injected"

// Setup implements stage.Stage. It fails for the stage's first
// SetupFailTimes actors (see the package documentation), or always with
// SetupFailAlways.
func (s *Stage) Setup(_ context.Context, w *stage.Worker) error {
	s.calls, s.owedPanic, s.owedHang = 0, false, false
	if s.cfg.SetupFailAlways {
		return fmt.Errorf("%w: setup of actor %s fails (setup_fail_always)", ErrInjected, w.ID)
	}
	if s.cfg.SetupFailTimes > 0 {
		if n, ok := actorNumber(w.ID); ok && n < s.cfg.SetupFailTimes {
			return fmt.Errorf("%w: setup of actor %s fails (setup_fail_times=%d)", ErrInjected, w.ID, s.cfg.SetupFailTimes)
		}
	}
	return nil
}

// actorNumber is the number at the end of an actor id ("chaos-3" → 3).
func actorNumber(id string) (int, bool) {
	i := strings.LastIndexAny(id, "-_")
	n, err := strconv.Atoi(id[i+1:])
	return n, err == nil && n >= 0
}

// ProcessBatch implements stage.Stage: it returns tasks unchanged unless a
// fault is due.
func (s *Stage) ProcessBatch(ctx context.Context, tasks []task.Task) ([]task.Task, error) {
	s.calls++
	stage.Count(ctx, CounterCalls, 1)
	key := ""
	if len(tasks) > 0 {
		key = tasks[0].ID()
	}
	attempt := max(stage.Attempt(ctx), 1) // unknown: treat as the first

	if s.cfg.Sleep > 0 {
		t := time.NewTimer(time.Duration(s.cfg.Sleep))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	if id, ok := s.listed(tasks, s.errorIDs); ok {
		stage.Count(ctx, CounterErrors, 1)
		return nil, fmt.Errorf("%w: task %s is in error_ids", ErrInjected, id)
	}
	if id, ok := s.listed(tasks, s.panicIDs); ok {
		stage.Count(ctx, CounterPanics, 1)
		panic(fmt.Sprintf("chaos: task %s is in panic_ids", id))
	}
	if id, ok := s.listed(tasks, s.hangIDs); ok {
		return nil, s.hang(ctx, "task "+id+" is in hang_ids")
	}
	if (s.cfg.PanicOnCall > 0 && s.calls == s.cfg.PanicOnCall) || (s.cfg.PanicEvery > 0 && s.calls%s.cfg.PanicEvery == 0) {
		s.owedPanic = true
	}
	if s.cfg.HangOnCall > 0 && s.calls == s.cfg.HangOnCall {
		s.owedHang = true
	}
	if s.owedPanic && attempt == 1 {
		s.owedPanic = false
		stage.Count(ctx, CounterPanics, 1)
		panic("chaos: injected panic on call " + strconv.Itoa(s.calls) + " of this actor (batch " + key + ")")
	}
	if s.owedHang && attempt == 1 {
		s.owedHang = false
		return nil, s.hang(ctx, "call "+strconv.Itoa(s.calls)+" of this actor")
	}
	if s.cfg.ErrorFraction > 0 && attempt <= s.cfg.ErrorAttempts && Faulty(s.cfg.Seed, key, s.cfg.ErrorFraction) {
		stage.Count(ctx, CounterErrors, 1)
		return nil, fmt.Errorf("%w: transient error for batch %s (attempt %d; the first %d fail)", ErrInjected, key, attempt, s.cfg.ErrorAttempts)
	}
	stage.Count(ctx, CounterPassed, int64(len(tasks)))
	return tasks, nil
}

// hang blocks until ctx is done and returns an error saying why.
func (s *Stage) hang(ctx context.Context, why string) error {
	stage.Count(ctx, CounterHangs, 1)
	<-ctx.Done()
	return fmt.Errorf("%w: hung on %s until cancelled: %w", ErrInjected, why, context.Cause(ctx))
}

// listed returns the first task id of tasks that is in ids.
func (s *Stage) listed(tasks []task.Task, ids map[string]bool) (string, bool) {
	if len(ids) == 0 {
		return "", false
	}
	for _, t := range tasks {
		if ids[t.ID()] {
			return t.ID(), true
		}
	}
	return "", false
}

// Faulty reports whether the batch whose first task id is key is one of the
// faulty fraction under seed: whether xxh3(seed, key), scaled to [0, 1), is
// below fraction.
func Faulty(seed uint64, key string, fraction float64) bool {
	h := xxh3.HashStringSeed(key, seed)
	return float64(h>>11)/(1<<53) < fraction
}

// Duration is a time.Duration that JSON encodes as a Go duration string such
// as "150ms". Decoding also accepts a number of nanoseconds.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration %s: want a string such as \"10ms\"", b)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
