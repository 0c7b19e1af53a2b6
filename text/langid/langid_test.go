package langid

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/xxh3"
)

func compress(t *testing.T, data []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(data, nil)
}

// sample returns the texts and labels of testdata/filter/langid.jsonl:
// one sentence in each of 16 languages.
func sample(t *testing.T) (texts, labels []string) {
	t.Helper()
	f, err := os.Open("../../testdata/filter/langid.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct{ Text, Lang string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		texts, labels = append(texts, rec.Text), append(labels, rec.Lang)
	}
	if len(texts) < 16 {
		t.Fatalf("%d sample texts", len(texts))
	}
	return texts, labels
}

func TestModel(t *testing.T) {
	m, err := loadModel()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.codes) != 75 || len(m.keys) < 250000 || len(m.entries) < 1000000 {
		t.Fatalf("%d languages, %d n-grams, %d entries", len(m.codes), len(m.keys), len(m.entries))
	}
	want := map[string]string{"en": "Latin", "ru": "Cyrillic", "fa": "Arabic", "hi": "Devanagari", "el": "Greek", "ko": "Hangul", "zh": "Han"}
	for i, c := range m.codes {
		if s, ok := want[c]; ok && m.scripts[i] != s {
			t.Errorf("%s: script %s, want %s", c, m.scripts[i], s)
		}
	}
	// "the" is an English trigram, far likelier in English than in Finnish.
	en, fi := lookupQ(m, "the", "en"), lookupQ(m, "the", "fi")
	if en < 0 || fi >= 0 && fi <= en {
		t.Errorf(`-ln p("the"): en %d, fi %d`, en, fi)
	}
}

// lookupQ returns -ln p (1/1024 nat) of ngram in language code, -1 if absent.
func lookupQ(m *model, ngram, code string) int {
	for _, e := range m.lookup(xxh3.HashString(ngram)) {
		if m.codes[e>>16] == code {
			return int(e & 0xffff)
		}
	}
	return -1
}

// tinyModel is a valid model of two languages and three n-grams.
func tinyModel() []byte {
	b := []byte("sluice-langid 1\n")
	b = binary.AppendUvarint(b, 2)
	for _, s := range []string{"en", "Latin", "de", "Latin"} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, 3)
	b = binary.AppendUvarint(b, 6)
	for _, g := range []string{"d", "de", "der"} {
		b = binary.AppendUvarint(b, uint64(len(g)))
		b = append(b, g...)
		b = binary.AppendUvarint(b, 2)
		b = append(b, 0, 0x10, 0, 1, 0x08, 0) // en: 16/1024 nat, de: 8/1024
	}
	return b
}

func TestParseModel(t *testing.T) {
	good := tinyModel()
	m, err := parseModel(compress(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.lookup(xxh3.HashString("der")); len(got) != 2 || got[1] != 1<<16|8 {
		t.Errorf("entries of der: %x", got)
	}
	if m.lookup(xxh3.HashString("die")) != nil {
		t.Error("entries for an absent n-gram")
	}
	badLang := append([]byte(nil), good...)
	badLang[len(badLang)-3] = 9 // language index 9 of 2
	cases := map[string][]byte{
		"not zstd":       good,
		"bad header":     compress(t, append([]byte("sluice-langid 9\n"), good[16:]...)),
		"truncated":      compress(t, good[:len(good)-4]),
		"trailing data":  compress(t, append(good[:len(good):len(good)], 0)),
		"language index": compress(t, badLang),
	}
	for name, data := range cases {
		if _, err := parseModel(data); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	// Two n-grams with one hash would make one unreachable.
	m = &model{keys: []uint64{7, 9, 7}}
	if err := m.buildTable(); err == nil {
		t.Error("duplicate hash accepted")
	}
}

func TestDetectSample(t *testing.T) {
	d, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	texts, labels := sample(t)
	for i, text := range texts {
		got, score := d.Detect(text)
		if got != labels[i] || score <= 0 || score > 1 {
			t.Errorf("Detect(%.30q) = %s %v, want %s", text, got, score, labels[i])
		}
		// Languages decided by their script score 1.
		if strings.Contains("el ja zh", labels[i]) && score != 1 {
			t.Errorf("%s scored %v, want 1", labels[i], score)
		}
	}
}

func TestDetectCandidatesAndUndetermined(t *testing.T) {
	all, _ := New(nil)
	two, err := New([]string{"DE", "nl"})
	if err != nil {
		t.Fatal(err)
	}
	german := "Der Fluss fließt langsam an der alten Mühle vorbei, und die Kinder sehen zu."
	_, sAll := all.Detect(german)
	got, sTwo := two.Detect(german)
	// The score is relative to the candidates: fewer rivals, higher share.
	if got != "de" || sTwo < sAll || sAll <= 0.5 {
		t.Errorf("German: %s %v among de/nl, %v among all", got, sTwo, sAll)
	}
	// A Latin-script text among Latin candidates is one of them, even when
	// it is in neither.
	if got, _ := two.Detect("The river flows slowly past the old mill."); got != "nl" && got != "de" {
		t.Errorf("English among de/nl: %s", got)
	}
	und := map[string]*Detector{
		"":                    all,
		"1234 5678 !!! ---":   all,
		"ab cd ef":            all, // no word of three letters: no trigram
		"Το ποτάμι κυλά αργά": two, // Greek, not a candidate
		"Река медленно течёт мимо старой": two, // no candidate writes Cyrillic
	}
	for text, d := range und {
		if got, score := d.Detect(text); got != Undetermined || score != 0 {
			t.Errorf("Detect(%q) = %s %v, want und 0", text, got, score)
		}
	}
	if _, err := New([]string{"en", "xx"}); err == nil || !strings.Contains(err.Error(), `"xx"`) {
		t.Errorf("unknown code: %v", err)
	}
	codes, err := Languages()
	if err != nil || len(codes) != 75 {
		t.Errorf("Languages() = %d codes, %v", len(codes), err)
	}
}

func TestDetectScripts(t *testing.T) {
	d, _ := New(nil)
	cases := map[string]string{
		"강물이 오래된 방앗간 옆을 천천히 흐른다":                  "ko",
		"河水慢慢地流过老磨坊":                              "zh",
		"川は古い水車小屋のそばをゆっくり流れる":                     "ja",
		"Գետը դանդաղ հոսում է հին ջրաղացի կողքով": "hy",
		// Han characters are words of their own: they outnumber the
		// English words of a synopsis, as in lingua-go.
		"ls [OPTION] 列出目录内容，默认为当前目录，按字母顺序排列": "zh",
	}
	for text, want := range cases {
		if got, score := d.Detect(text); got != want || score != 1 {
			t.Errorf("Detect(%q) = %s %v, want %s 1", text, got, score, want)
		}
	}
}

// TestDetectConcurrent shares one detector between goroutines (run with
// -race).
func TestDetectConcurrent(t *testing.T) {
	d, _ := New(nil)
	texts, labels := sample(t)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, text := range texts {
				if got, _ := d.Detect(text); got != labels[i] {
					t.Errorf("concurrent Detect: %s, want %s", got, labels[i])
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkDetect detects the sample's 16 languages, each text repeated to
// about 500 characters (language_id's default max_chars).
func BenchmarkDetect(b *testing.B) {
	f, err := os.Open("../../testdata/filter/langid.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			b.Fatal(err)
		}
		texts = append(texts, strings.Repeat(rec.Text+" ", 500/len([]rune(rec.Text))))
	}
	d, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Detect(texts[i%len(texts)])
	}
}
