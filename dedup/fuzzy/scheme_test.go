package fuzzy_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/dedup/fuzzy/minhash"
)

// TestSchemeOPH runs the workflow with --scheme oph: the stored signatures
// are minhash's OPH signatures (empty texts all zero and not bucketed), the
// LSH edges follow the bucket rule on them, without and with verification
// (exact shingle Jaccard from the OPH shingle hashes, checked against the
// texts), and summary.json records the scheme.
func TestSchemeOPH(t *testing.T) {
	l := writeLayout(t, lshCorpus(21), 2)
	oph := func(c *fuzzy.Config) { c.Scheme = "oph" }
	r := runLSH(t, l, oph)
	if r.sum.Params.Scheme != "oph" {
		t.Fatalf("summary params scheme %q", r.sum.Params.Scheme)
	}
	h, err := minhash.NewHasher(minhash.Params{NumPerm: r.cfg.Bands * r.cfg.Rows, CharNgrams: r.cfg.CharNgrams,
		Seed: r.cfg.Seed, HashBits: 32, Scheme: minhash.SchemeOPH})
	if err != nil {
		t.Fatal(err)
	}
	nemo, err := minhash.NewHasher(minhash.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	for id, d := range r.byID {
		if want := signWords(h, d.Text); !slices.Equal(r.sigs[id], want) {
			t.Fatalf("signature of id %d (%s) is not minhash's OPH signature", id, d.ID)
		}
		if d.Text != "" && slices.Equal(r.sigs[id], signWords(nemo, d.Text)) {
			t.Fatalf("id %d: OPH run stored NeMo's signature", id)
		}
	}
	if r.sum.EmptyDocuments != 2 {
		t.Fatalf("empty documents %d, want 2", r.sum.EmptyDocuments)
	}
	want0, _ := r.oracleEdges(0)
	got0 := slices.Clone(r.edges)
	slices.SortFunc(got0, cmpEdge)
	if len(got0) == 0 || !slices.Equal(got0, want0) {
		t.Fatalf("OPH: %d edges, the bucket rule gives %d", len(got0), len(want0))
	}

	noisy := func(c *fuzzy.Config) { oph(c); c.CharNgrams, c.Bands, c.Rows, c.VerifyThreshold = 5, 8, 2, 0.5 }
	v := runLSH(t, l, noisy)
	want, rejected := v.oracleEdges(0.5)
	got := slices.Clone(v.edges)
	slices.SortFunc(got, cmpEdge)
	if !slices.Equal(got, want) || rejected == 0 || v.sum.RejectedPairs != rejected {
		t.Fatalf("OPH verify 0.5: %d edges (oracle %d), %d rejected (oracle %d)", len(got), len(want), v.sum.RejectedPairs, rejected)
	}
}

// TestSchemeCacheKey: the scheme is part of the MinHash cache key. With one
// cache directory, an OPH run after a NeMo run recomputes signatures, and
// each scheme's re-run resumes its own.
func TestSchemeCacheKey(t *testing.T) {
	l := writeLayout(t, smallDocs(5, 40), 1)
	cache := filepath.Join(t.TempDir(), "cache")
	runScheme := func(scheme string) *fuzzy.Summary {
		cfg := fuzzy.DefaultConfig()
		cfg.Inputs, cfg.Output, cfg.Cache, cfg.NoRemove, cfg.Scheme = []string{l.dir}, filepath.Join(t.TempDir(), "out"), cache, true, scheme
		return mustRun(t, cfg)
	}
	resumed := func(s *fuzzy.Summary) bool { return s.Phases[1].Name == "minhash" && s.Phases[1].Resumed }
	n1 := runScheme("nemo")
	o1 := runScheme("oph")
	if resumed(o1) || n1.CacheDir == o1.CacheDir {
		t.Fatalf("OPH run reused NeMo's signatures (cache %s, %s)", n1.CacheDir, o1.CacheDir)
	}
	if o2, n2 := runScheme("oph"), runScheme(""); !resumed(o2) || !resumed(n2) || n2.CacheDir != n1.CacheDir {
		t.Fatalf("re-runs did not resume their own scheme's signatures: %+v / %+v", o2.Phases[1], n2.Phases[1])
	}
	if slices.Equal(readSignatures(t, n1)[0], readSignatures(t, o1)[0]) {
		t.Fatal("NeMo and OPH signatures are equal")
	}
}

func TestSchemeConfigErrors(t *testing.T) {
	l := writeLayout(t, smallDocs(6, 5), 1)
	for _, c := range []struct {
		scheme string
		bits   int
	}{{"minhash", 32}, {"oph", 64}, {"OPH", 32}} {
		cfg := fuzzy.DefaultConfig()
		cfg.Inputs, cfg.Output, cfg.Scheme, cfg.HashBits = []string{l.dir}, filepath.Join(t.TempDir(), "out"), c.scheme, c.bits
		if _, err := runWorkflow(t, cfg, runOptions{}); !errors.Is(err, fuzzy.ErrConfig) {
			t.Errorf("scheme %q, %d bits: err %v, want a configuration error", c.scheme, c.bits, err)
		}
	}
}

func TestPresets(t *testing.T) {
	p, err := fuzzy.LookupPreset("high-recall")
	if err != nil {
		t.Fatal(err)
	}
	c := fuzzy.DefaultConfig()
	p.Apply(&c, func(flag string) bool { return flag == "rows" })
	if c.Scheme != p.Scheme || c.Bands != p.Bands || c.Rows != fuzzy.DefaultConfig().Rows || c.VerifyThreshold != p.VerifyThreshold {
		t.Fatalf("Apply keeping rows: %+v", c)
	}
	if p.Scheme != "oph" || p.VerifyThreshold <= 0 || p.Bands*p.Rows < 1 {
		t.Fatalf("high-recall preset %+v", p)
	}
	if _, err := fuzzy.LookupPreset("nope"); !errors.Is(err, fuzzy.ErrConfig) {
		t.Fatalf("unknown preset: %v", err)
	}
	n, err := fuzzy.LookupPreset("high-recall-normalized")
	if err != nil || !n.Normalize || n.Scheme != "oph" || n.VerifyThreshold <= 0 {
		t.Fatalf("high-recall-normalized preset %+v, %v", n, err)
	}
	c = fuzzy.DefaultConfig()
	n.Apply(&c, func(flag string) bool { return flag == "normalize" })
	if c.Normalize {
		t.Fatal("Apply set normalize although the flag was given explicitly")
	}
	if len(fuzzy.Presets()) != 2 {
		t.Fatalf("%d presets, want 2", len(fuzzy.Presets()))
	}
}
