//go:build !nolangid

package filter

import (
	"bufio"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	dataio "github.com/sluice-data/sluice/io"
)

func TestLanguageID(t *testing.T) {
	b := readBatch(t, "../../testdata/filter/langid.jsonl")
	rej := t.TempDir()
	// The sample's 16 languages and a few close ones as candidates (loading
	// all 75 models takes seconds under the race detector).
	cands := []string{"ar", "cs", "de", "el", "en", "es", "fr", "it", "ja", "nl", "pl", "pt", "ru", "sv", "tr", "zh", "da", "nb", "sk", "ca", "uk", "ko"}
	l, err := NewLanguageID(LanguageIDConfig{Languages: cands, Keep: []string{"de", "FR"}, RejectedDir: rej})
	if err != nil {
		t.Fatal(err)
	}
	// Every language of the sample is identified.
	var labels []string
	sc := bufio.NewScanner(strings.NewReader(string(mustRead(t, "../../testdata/filter/langid.jsonl"))))
	for sc.Scan() {
		var rec struct{ Text, Lang string }
		json.Unmarshal(sc.Bytes(), &rec)
		labels = append(labels, rec.Lang)
		if got, score := l.Detect(rec.Text); got != rec.Lang || score <= 0 || score > 1 {
			t.Errorf("Detect(%.30q) = %s %v, want %s", rec.Text, got, score, rec.Lang)
		}
	}
	out, stats := process(t, l, b)
	kept := out[0]
	if kept.NumRows() != 2 || !slices.Equal(kept.Column("language").Strings, []string{"de", "fr"}) {
		t.Fatalf("kept %v", kept.Column("language").Strings)
	}
	raw := string(kept.Column(dataio.RawColumn).Bytes[0])
	if !strings.Contains(raw, `"lang": "de","language":"de","language_score":`) {
		t.Errorf("raw line %s", raw)
	}
	if stats[CounterDropped+ReasonLanguage] != int64(len(labels)-2) || stats["language.ja"] != 1 {
		t.Errorf("stats %v", stats)
	}
	rejected := readRejected(t, rej)
	if len(rejected) != len(labels)-2 {
		t.Fatalf("%d rejected", len(rejected))
	}
	for _, r := range rejected {
		if r[RejectedByField] != ReasonLanguage+":"+r["lang"].(string) {
			t.Errorf("rejected_by %v for %v", r[RejectedByField], r["lang"])
		}
	}
	for _, c := range []LanguageIDConfig{{Languages: []string{"xx", "en"}}, {Languages: []string{"en"}}, {Keep: []string{"klingon"}}, {Accuracy: "max"}, {MinScore: 2}} {
		if _, err := NewLanguageID(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	// Restricted candidates and a minimum score.
	l, err = NewLanguageID(LanguageIDConfig{Languages: []string{"en", "de", "fr"}, MinScore: 0.999999})
	if err != nil {
		t.Fatal(err)
	}
	_, stats = process(t, l, b)
	if stats[CounterDropped+ReasonLanguageScore] == 0 {
		t.Errorf("no document below the minimum score: %v", stats)
	}
}
