package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestDedupFuzzyScheme: --scheme oph runs the sample, finds duplicates and
// records the scheme in summary.json; a bad scheme, or oph with 64-bit
// hashes, is a usage error (exit 2) naming the flag.
func TestDedupFuzzyScheme(t *testing.T) {
	in := "../../examples/fuzzy/data"
	out := filepath.Join(t.TempDir(), "out")
	r := sluice("dedup", "fuzzy", "--input", in, "--output", out, "--scheme", "oph", "--no-remove")
	if r.code != 0 {
		t.Fatal(r)
	}
	sum, b := readSummary(t, out)
	var params struct {
		Params struct{ Scheme string } `json:"params"`
	}
	if err := json.Unmarshal(b, &params); err != nil {
		t.Fatal(err)
	}
	if params.Params.Scheme != "oph" || sum.Duplicates == 0 {
		t.Fatalf("--scheme oph: want scheme oph in params and duplicates found: %s", b)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--scheme", "minhash"}, `--scheme "minhash"`},
		{[]string{"--scheme", "oph", "--hash-bits", "64"}, "--hash-bits 64"},
	} {
		args := append([]string{"dedup", "fuzzy", "--input", in, "--output", filepath.Join(t.TempDir(), "o")}, c.args...)
		if r := sluice(args...); r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("sluice %s: want exit 2 and %q\n%s", strings.Join(args, " "), c.want, r)
		}
	}
}

// TestDedupFuzzyPreset: --preset high-recall sets scheme, bands, rows and
// verification (recorded in summary.json), flags given explicitly win, and
// an unknown preset is a usage error.
func TestDedupFuzzyPreset(t *testing.T) {
	in := fuzzySubset(t, t.TempDir(), 150) // enough to hold duplicates; the test is of the settings

	type params struct {
		Scheme          string  `json:"scheme"`
		Bands           int     `json:"bands"`
		Rows            int     `json:"rows"`
		VerifyThreshold float64 `json:"verify_threshold"`
		Normalize       bool    `json:"normalize"`
	}
	run := func(extra ...string) params {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out")
		r := sluice(append([]string{"dedup", "fuzzy", "--input", in, "--output", out, "--no-remove"}, extra...)...)
		if r.code != 0 {
			t.Fatal(r)
		}
		sum, b := readSummary(t, out)
		var s struct{ Params params }
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		if sum.Duplicates == 0 {
			t.Fatalf("%v: no duplicates found: %s", extra, b)
		}
		return s.Params
	}
	if got := run("--preset", "high-recall"); got != (params{"oph", 25, 10, 0.8, false}) {
		t.Fatalf("--preset high-recall ran with %+v", got)
	}
	if got := run("--preset", "high-recall-normalized"); got != (params{"oph", 25, 10, 0.8, true}) {
		t.Fatalf("--preset high-recall-normalized ran with %+v", got)
	}
	if got := run("--preset", "high-recall", "--bands", "20", "--verify-threshold", "0.7"); got != (params{"oph", 20, 10, 0.7, false}) {
		t.Fatalf("--preset high-recall --bands 20 --verify-threshold 0.7 ran with %+v", got)
	}
	r := sluice("dedup", "fuzzy", "--input", in, "--output", filepath.Join(t.TempDir(), "o"), "--preset", "fast")
	if r.code != exitUsage || !strings.Contains(r.stderr, `--preset "fast"`) || !strings.Contains(r.stderr, "high-recall") {
		t.Fatalf("unknown preset: want exit 2 naming it and the presets\n%s", r)
	}
}
