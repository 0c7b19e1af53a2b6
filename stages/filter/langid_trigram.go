package filter

import (
	"fmt"
	"slices"

	"github.com/sluice-data/sluice/text/langid"
)

// trigramKnows reports whether code is one of text/langid's languages.
func trigramKnows(code string) bool {
	all, err := langid.Languages()
	return err == nil && slices.Contains(all, code)
}

// trigramDetector runs text/langid.
type trigramDetector struct{ d *langid.Detector }

func newTrigramDetector(cands []string) (*trigramDetector, error) {
	d, err := langid.New(cands)
	if err != nil {
		return nil, fmt.Errorf("languages: %w", err)
	}
	return &trigramDetector{d}, nil
}

func (t *trigramDetector) detect(text string) (string, float64) { return t.d.Detect(text) }
