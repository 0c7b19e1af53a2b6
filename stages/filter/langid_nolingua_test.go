//go:build !lingua

package filter

import (
	"strings"
	"testing"
)

// Without -tags lingua, detector lingua is refused with the way to get it.
func TestLanguageIDWithoutLingua(t *testing.T) {
	_, err := NewLanguageID(LanguageIDConfig{Detector: DetectorLingua})
	if err == nil || !strings.Contains(err.Error(), "-tags lingua") {
		t.Errorf("detector lingua without the tag: %v", err)
	}
}
