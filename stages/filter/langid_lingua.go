//go:build lingua

package filter

import (
	"fmt"
	"strings"
	"sync"

	"github.com/pemistahl/lingua-go"
)

// linguaCompiled reports whether detector lingua is in this binary.
const linguaCompiled = true

// linguaKnows reports whether code is the ISO 639-1 code of one of
// lingua's languages.
func linguaKnows(code string) bool {
	return linguaLanguage(code) != lingua.Unknown
}

func linguaLanguage(code string) lingua.Language {
	return lingua.GetLanguageFromIsoCode639_1(lingua.GetIsoCode639_1FromValue(strings.ToUpper(code)))
}

// linguaDetector runs lingua-go. The detector is built on first use (its
// models load lazily and are shared by the detectors of a process).
type linguaDetector struct {
	builder lingua.LanguageDetectorBuilder
	once    sync.Once
	det     lingua.LanguageDetector
}

func newLinguaDetector(cands []string, accuracy string) (*linguaDetector, error) {
	b := lingua.NewLanguageDetectorBuilder()
	var built lingua.LanguageDetectorBuilder
	if len(cands) == 0 {
		built = b.FromAllLanguages()
	} else {
		langs := make([]lingua.Language, len(cands))
		for i, c := range cands {
			if langs[i] = linguaLanguage(c); langs[i] == lingua.Unknown {
				return nil, fmt.Errorf("languages: %q is not the ISO 639-1 code of a language detector %s knows", c, DetectorLingua)
			}
		}
		built = b.FromLanguages(langs...)
	}
	switch accuracy {
	case "", "low":
		built = built.WithLowAccuracyMode()
	case "high":
	default:
		return nil, fmt.Errorf("accuracy %q: want low or high", accuracy)
	}
	return &linguaDetector{builder: built}, nil
}

// detect returns lingua's most likely language and its confidence: the
// softmax of the candidates' summed n-gram log-probabilities (relative to
// the candidates, summing to 1 over them), or 1 when lingua's rules decide
// from the characters alone. No language, or a confidence of 0, gives
// "und".
func (d *linguaDetector) detect(text string) (string, float64) {
	d.once.Do(func() { d.det = d.builder.Build() })
	vals := d.det.ComputeLanguageConfidenceValues(text)
	if len(vals) == 0 || vals[0].Value() <= 0 {
		return UndeterminedLanguage, 0
	}
	return strings.ToLower(vals[0].Language().IsoCode639_1().String()), vals[0].Value()
}
