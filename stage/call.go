package stage

import (
	"context"
	"sync"
	"sync/atomic"
)

// CallInfo is what the runtime tells a stage about the call it is running.
// It reaches ProcessBatch (and the shuffle methods) through the call's
// context: read it with Attempt, report counters with Count. Nothing in it
// is shared between actors or processes: the attempt number travels with the
// call, and the counts travel back with its result.
type CallInfo struct {
	// Attempt is the 1-based attempt number of the batch: 1 on its first
	// call, 2 on its first retry, and so on. Calls that killed an actor count
	// as attempts. 0 means the caller did not say.
	Attempt int
	// Counts collects the counters the stage reports during the call.
	Counts Counts
}

type callKey struct{}

// WithCall returns ctx carrying info, for the runtime that runs a call.
func WithCall(ctx context.Context, info *CallInfo) context.Context {
	return context.WithValue(ctx, callKey{}, info)
}

// CallFrom returns the call information in ctx, or nil outside a call.
func CallFrom(ctx context.Context) *CallInfo {
	info, _ := ctx.Value(callKey{}).(*CallInfo)
	return info
}

// Attempt returns the 1-based attempt number of the batch that the call in
// ctx runs, or 0 when the runtime did not say. A stage that must behave
// differently on retries (such as the chaos stage's error_attempts) uses it
// instead of counting calls itself, which would not work when the actors of
// a stage live in different processes.
func Attempt(ctx context.Context) int {
	if info := CallFrom(ctx); info != nil {
		return info.Attempt
	}
	return 0
}

// Counters with a meaning every observer knows: a stage that reads input
// files reports the records and uncompressed bytes it read, and progress
// lines, metrics and the dashboard show them as the stage's records and
// bytes.
const (
	CounterRecordsRead = "records_read"
	CounterBytesRead   = "bytes_read"
)

// Count adds delta to the counter name of the call in ctx. The counts of a
// call return with its result, and the executor sums them per stage
// (executor.StageReport.Counters). Outside a call Count does nothing.
// Counters of a call that dies (a panic, a timeout, a lost process) may be
// missing or partial.
func Count(ctx context.Context, name string, delta int64) {
	if info := CallFrom(ctx); info != nil {
		info.Counts.Add(name, delta)
	}
}

// Counts is a set of named counters. It is safe for concurrent use (a call
// that was abandoned may still count while its caller reads). The zero value
// is empty and ready to use.
type Counts struct {
	mu    sync.Mutex
	m     map[string]int64
	dirty atomic.Bool // m is not nil: Take must lock
}

// Add adds delta to the counter name.
func (c *Counts) Add(name string, delta int64) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]int64)
		c.dirty.Store(true)
	}
	c.m[name] += delta
	c.mu.Unlock()
}

// Take returns the counters and empties c. It returns nil when nothing was
// counted.
func (c *Counts) Take() map[string]int64 {
	if !c.dirty.Load() {
		return nil
	}
	c.mu.Lock()
	m := c.m
	c.m = nil
	c.dirty.Store(false)
	c.mu.Unlock()
	return m
}
