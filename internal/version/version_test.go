package version

import (
	"runtime"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	s := String()
	if !strings.HasPrefix(s, "sluice ") || !strings.Contains(s, runtime.Version()) {
		t.Fatalf("String() = %q, want it to start with \"sluice \" and name %s", s, runtime.Version())
	}
	if !strings.HasPrefix(s, Short()) {
		t.Fatalf("String() = %q does not start with Short() = %q", s, Short())
	}
}
