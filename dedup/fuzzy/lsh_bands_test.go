package fuzzy_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluice-data/sluice/dedup/fuzzy"
)

func TestBandRanges(t *testing.T) {
	tests := []struct {
		bands, per int
		want       [][2]int
	}{
		{20, 5, [][2]int{{0, 5}, {5, 10}, {10, 15}, {15, 20}}},
		{5, 2, [][2]int{{0, 2}, {2, 4}, {4, 5}}},
		{5, 5, [][2]int{{0, 5}}},
		{5, 9, [][2]int{{0, 5}}},
		{5, 0, [][2]int{{0, 5}}},
		{3, 1, [][2]int{{0, 1}, {1, 2}, {2, 3}}},
		{0, 4, nil},
	}
	for _, tt := range tests {
		if got := fuzzy.BandRanges(tt.bands, tt.per); !slices.Equal(got, tt.want) {
			t.Errorf("BandRanges(%d, %d) = %v, want %v", tt.bands, tt.per, got, tt.want)
		}
	}
}

// TestLSHPasses: the LSH stage, not the executor, maps a pass to its band
// range and directory.
func TestLSHPasses(t *testing.T) {
	cfg := fuzzy.LSHConfig{OutputDir: "/out", NumBands: 20, Rows: 13, BandsPerIteration: 6, NumPerm: 260, HashBits: 32}
	s, err := fuzzy.NewLSHStage(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Iterations() != 4 || s.IterationName(0) != "bands [0,6)" || s.IterationName(3) != "bands [18,20)" {
		t.Fatalf("passes %d: %q … %q", s.Iterations(), s.IterationName(0), s.IterationName(3))
	}
	if d := fuzzy.BandDir(cfg, 2); d != filepath.Join("/out", "band_12-band_18") {
		t.Fatalf("BandDir(2) = %s", d)
	}
}
