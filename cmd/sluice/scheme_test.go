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
