package filter

import (
	"bufio"
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	dataio "github.com/sluice-data/sluice/io"
)

func TestLanguageID(t *testing.T) {
	testLanguageID(t, "")
}

// testLanguageID runs the sample through a language_id stage with the given
// detector ("": the default).
func testLanguageID(t *testing.T, detector string) {
	b := readBatch(t, "../../testdata/filter/langid.jsonl")
	rej := t.TempDir()
	// The sample's 16 languages and a few close ones as candidates (loading
	// all 75 of lingua's models takes seconds under the race detector).
	cands := []string{"ar", "cs", "de", "el", "en", "es", "fr", "it", "ja", "nl", "pl", "pt", "ru", "sv", "tr", "zh", "da", "nb", "sk", "ca", "uk", "ko"}
	l, err := NewLanguageID(LanguageIDConfig{Detector: detector, Languages: cands, Keep: []string{"de", "FR"}, RejectedDir: rej})
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
	for _, c := range []LanguageIDConfig{{Languages: []string{"xx", "en"}}, {Languages: []string{"en"}}, {Keep: []string{"klingon"}},
		{Accuracy: "max"}, {MinScore: 2}, {Detector: "fasttext"}} {
		c.Detector = cmp.Or(c.Detector, detector)
		if _, err := NewLanguageID(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	// Restricted candidates and a minimum score: of the 16 documents, the
	// German, English and French ones score above 0.9 among en, de, fr;
	// the Greek, Russian, Chinese, Japanese and Arabic ones are in no
	// candidate's script (und, score 0); the other Latin-script ones fall
	// to one of the three with a lower score.
	l, err = NewLanguageID(LanguageIDConfig{Detector: detector, Languages: []string{"en", "de", "fr"}, MinScore: 0.9, Keep: []string{"en", "de", "fr", "und"}})
	if err != nil {
		t.Fatal(err)
	}
	out, stats = process(t, l, b)
	langs := out[0].Column("language").Strings
	if stats["language.und"] != 5 || stats[CounterDropped+ReasonLanguage] != 0 || stats[CounterDropped+ReasonLanguageScore] < 5 {
		t.Errorf("stats %v", stats)
	}
	for _, want := range []string{"en", "de", "fr"} {
		if !slices.Contains(langs, want) {
			t.Errorf("%s not kept: %v", want, langs)
		}
	}
	for i, s := range out[0].Column("language_score").Floats {
		if s < 0.9 || langs[i] == UndeterminedLanguage {
			t.Errorf("kept %s with score %v", langs[i], s)
		}
	}
}

// TestLanguageIDDefaults checks the default detector and its settings, and
// that a document without letters is "und", never a language.
func TestLanguageIDDefaults(t *testing.T) {
	l, err := NewLanguageID(LanguageIDConfig{Keep: []string{"en"}})
	if err != nil {
		t.Fatal(err)
	}
	if l.cfg.Detector != DetectorTrigram || l.cfg.MaxChars != 500 {
		t.Errorf("defaults: %+v", l.cfg)
	}
	for _, text := range []string{"", "12345 67890", "!!! ... ???"} {
		if got, score := l.Detect(text); got != UndeterminedLanguage || score != 0 {
			t.Errorf("Detect(%q) = %s %v", text, got, score)
		}
	}
	// max_chars: the language of the first 500 characters wins.
	de := strings.Repeat("Der Fluss fließt langsam an der alten Mühle vorbei. ", 10) // 520 characters
	if got, _ := l.Detect(de + strings.Repeat("The river flows slowly past the old mill. ", 100)); got != "de" {
		t.Errorf("German then English: %s", got)
	}
	if _, err := NewLanguageID(LanguageIDConfig{Detector: DetectorTrigram, Accuracy: "high"}); err == nil || !strings.Contains(err.Error(), "lingua") {
		t.Errorf("accuracy with trigram: %v", err)
	}
}
