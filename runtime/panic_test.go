package runtime

import (
	"strings"
	"testing"
)

type boom struct{ p *int }

func (b *boom) explode() int { return *b.p } // nil dereference

func recovered(f func()) (pe *PanicError) {
	defer func() { pe = Recovered(recover()) }()
	f()
	return nil
}

// TestRecovered: the message is one line naming the value and the
// function and file:line that panicked; the stack is kept apart.
func TestRecovered(t *testing.T) {
	pe := recovered(func() { panic("kaput") })
	if msg := pe.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "panic: kaput") ||
		!strings.Contains(msg, "TestRecovered.func1 (panic_test.go:") {
		t.Fatalf("message %q", msg)
	}
	if !strings.Contains(pe.Stack, "goroutine ") {
		t.Fatalf("stack %q", pe.Stack)
	}
	// A runtime fault names the code at fault, not package runtime.
	pe = recovered(func() { (&boom{}).explode() })
	if !strings.Contains(pe.Error(), "(*boom).explode (panic_test.go:10)") || !strings.Contains(pe.Error(), "nil pointer") {
		t.Fatalf("message %q", pe.Error())
	}
}
