package runtime

import (
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// PanicError is a panic recovered from a stage's code. Its message is one
// line, the panic value and where it was raised; the goroutine's stack is
// kept apart in Stack, for a debug log or a file, never in the message.
type PanicError struct {
	// Value is the value the code panicked with.
	Value any
	// Site is the function and file:line that panicked, for example
	// "chaos.(*Stage).ProcessBatch (chaos.go:308)", or "" when unknown.
	Site string
	// Stack is the goroutine's stack at the recovery.
	Stack string
}

// Recovered describes the value p recovered by a deferred recover(); call
// it in the deferred function, so the stack still holds the panicking
// frames.
func Recovered(p any) *PanicError {
	st := debug.Stack()
	return &PanicError{Value: p, Site: panicSite(st), Stack: string(st)}
}

func (e *PanicError) Error() string {
	if e.Site == "" {
		return fmt.Sprintf("panic: %v", e.Value)
	}
	return fmt.Sprintf("panic: %v (at %s)", e.Value, e.Site)
}

// panicSite finds, in a goroutine stack as debug.Stack prints it, the first
// frame after the call of panic that is not in package runtime: the code
// that panicked (or, for a nil dereference or an index out of range, whose
// fault the runtime turned into a panic).
func panicSite(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			start = i + 2 // the function line after panic's file line
			break
		}
	}
	if start < 0 {
		return ""
	}
	for i := start; i+1 < len(lines); i += 2 {
		fn := lines[i]
		if strings.HasPrefix(fn, "runtime.") || fn == "" {
			continue
		}
		if j := strings.LastIndexByte(fn, '('); j > 0 && strings.HasSuffix(fn, ")") {
			fn = fn[:j] // drop the argument list
		}
		fn = fn[strings.LastIndexByte(fn, '/')+1:]
		loc := strings.TrimSpace(lines[i+1])
		if k := strings.LastIndex(loc, " +0x"); k > 0 {
			loc = loc[:k]
		}
		return fmt.Sprintf("%s (%s)", fn, filepath.Base(loc))
	}
	return ""
}
