package fuzzy_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind: the
// workflow starts actors, shuffle engines and collective groups.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
