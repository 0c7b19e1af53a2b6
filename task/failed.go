package task

import "time"

// Attempt records one try at processing a batch.
type Attempt struct {
	// Actor is the id of the actor that ran the attempt.
	Actor string
	// Outcome is "error", "panic" (the actor died) or "timeout".
	Outcome string
	// Error is the attempt's error message, one line for a panic.
	Error string
	At    time.Time
	// Stack is the goroutine stack of a panic, kept out of Error.
	Stack string
}

// Failed is the sentinel a task becomes when every attempt to process it
// failed. It never reaches the next stage; the executor writes it to the
// failed-task manifest instead.
type Failed struct {
	Header
	// Stage is the name of the stage that gave up on the task.
	Stage string
	// Err is the last error.
	Err string
	// Attempts is the history of tries, oldest first.
	Attempts []Attempt
	// Original is the task that failed.
	Original Task
}

// NumItems implements Task: the items of the original task.
func (f *Failed) NumItems() int {
	if f.Original == nil {
		return 0
	}
	return f.Original.NumItems()
}

// Kind implements Task.
func (*Failed) Kind() string { return KindFailed }

// Error implements error, so a Failed can be returned where an error is expected.
func (f *Failed) Error() string {
	return "task " + f.TaskID + " failed in stage " + f.Stage + ": " + f.Err
}

// NewFailed wraps t as a failure of stage after attempts.
func NewFailed(t Task, stage string, attempts []Attempt) *Failed {
	f := &Failed{Header: t.header().clone(), Stage: stage, Attempts: attempts, Original: t}
	if len(attempts) > 0 {
		f.Err = attempts[len(attempts)-1].Error
	}
	return f
}

// IsSentinel reports whether t is a sentinel that must not reach the next
// stage: a Failed.
func IsSentinel(t Task) bool {
	switch t.(type) {
	case *Failed:
		return true
	}
	return false
}
