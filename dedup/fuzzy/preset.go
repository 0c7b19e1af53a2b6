package fuzzy

import (
	"fmt"
	"strings"
)

// Preset is a named choice of the parameters that trade speed against
// quality, for `sluice dedup fuzzy --preset NAME`. Flags given explicitly
// override the preset's values.
type Preset struct {
	Name string
	// Summary says what the preset is for, with its measured quality and
	// cost (docs/benchmarks.md, "Quality").
	Summary         string
	Scheme          string
	Bands, Rows     int
	VerifyThreshold float64
	Normalize       bool
}

// Flags returns the preset as command-line flags.
func (p Preset) Flags() string {
	f := fmt.Sprintf("--scheme %s --bands %d --rows %d --verify-threshold %g", p.Scheme, p.Bands, p.Rows, p.VerifyThreshold)
	if p.Normalize {
		f += " --normalize"
	}
	return f
}

// Apply sets c's scheme, bands, rows, verification threshold and
// normalization from p, except the ones for which keep returns true (the
// flags a user gave explicitly: "scheme", "bands", "rows",
// "verify-threshold", "normalize").
func (p Preset) Apply(c *Config, keep func(flag string) bool) {
	if !keep("scheme") {
		c.Scheme = p.Scheme
	}
	if !keep("bands") {
		c.Bands = p.Bands
	}
	if !keep("rows") {
		c.Rows = p.Rows
	}
	if !keep("verify-threshold") {
		c.VerifyThreshold = p.VerifyThreshold
	}
	if !keep("normalize") {
		c.Normalize = p.Normalize
	}
}

// presets are measured on the shared benchmark corpus
// (bench/fuzzy_quality.sh; docs/benchmarks.md).
var presets = []Preset{{
	Name: "high-recall",
	Summary: "for near-duplicates by raw text (24-character shingle Jaccard, what NeMo's scheme measures): " +
		"OPH signatures, 25 bands of 10 rows and exact verification; on the benchmark corpus precision 1.000 and recall 0.994 " +
		"against Jaccard >= 0.8 (defaults: 0.892 and 0.959)",
	Scheme: "oph", Bands: 25, Rows: 10, VerifyThreshold: 0.8,
}, {
	Name: "high-recall-normalized",
	Summary: "for near-duplicates by words (case, punctuation and spacing ignored): high-recall on normalized text; " +
		"on the benchmark corpus precision 0.979 and recall 0.978 against word 5-gram Jaccard >= 0.8 " +
		"(defaults: 0.849 and 0.865)",
	Scheme: "oph", Bands: 25, Rows: 10, VerifyThreshold: 0.8, Normalize: true,
}}

// Presets returns the named presets.
func Presets() []Preset { return append([]Preset(nil), presets...) }

// LookupPreset returns the preset called name.
func LookupPreset(name string) (Preset, error) {
	var names []string
	for _, p := range presets {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Preset{}, fmt.Errorf("%w: fuzzy: --preset %q: want one of %s", ErrConfig, name, strings.Join(names, ", "))
}
