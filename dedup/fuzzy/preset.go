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
}

// Flags returns the preset as command-line flags.
func (p Preset) Flags() string {
	return fmt.Sprintf("--scheme %s --bands %d --rows %d --verify-threshold %g", p.Scheme, p.Bands, p.Rows, p.VerifyThreshold)
}

// Apply sets c's scheme, bands, rows and verification threshold from p,
// except the ones for which keep returns true (the flags a user gave
// explicitly: "scheme", "bands", "rows", "verify-threshold").
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
}

// presets are measured on the shared benchmark corpus
// (bench/fuzzy_quality.sh; docs/benchmarks.md).
var presets = []Preset{{
	Name: "high-recall",
	Summary: "OPH signatures with more, shorter bands and exact verification: on the benchmark corpus " +
		"recall 0.998 at precision 1.000 against 24-character shingle Jaccard ≥ 0.8 (defaults: 0.967 at 0.904), " +
		"for about twice the CPU of the defaults and a shingle store of about 4 bytes per character in the cache",
	Scheme: "oph", Bands: 30, Rows: 10, VerifyThreshold: 0.8,
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
