//go:build !nolangid

// Command langid measures the language_id stage's detector on labelled
// JSONL: accuracy per language, documents per CPU-second and peak RSS.
// Each record needs a text field and a label field holding a language tag
// such as "de-DE" (its first part is compared with the detected ISO 639-1
// code). See bench/langid.sh and docs/benchmarks.md.
//
//	go run ./bench/langid -input corpus.jsonl.gz -accuracy low
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/stages/filter"
)

func main() {
	input := flag.String("input", "", "JSONL file (.gz allowed) with text and label fields")
	label := flag.String("label", "lang", "field holding the language tag")
	accuracy := flag.String("accuracy", "low", "low or high")
	langs := flag.String("languages", "", "comma-separated candidate languages (default: all)")
	maxChars := flag.Int("max-chars", 0, "characters examined per document (0: the stage's default)")
	skipEN := flag.Bool("skip-en", false, "leave out documents labelled en (the corpus is mostly English)")
	maxEN := flag.Float64("max-english-share", 0, "leave out documents not labelled en whose first 500 characters are at least this share of English function words (0: keep all)")
	flag.Parse()
	cfg := filter.LanguageIDConfig{Accuracy: *accuracy, MaxChars: *maxChars}
	if *langs != "" {
		cfg.Languages = strings.Split(*langs, ",")
	}
	st, err := filter.NewLanguageID(cfg)
	if err != nil {
		log.Fatal(err)
	}
	docs, err := load(*input, *label, *skipEN)
	if err != nil {
		log.Fatal(err)
	}
	if *maxEN > 0 {
		kept := docs[:0]
		for _, d := range docs {
			if strings.HasPrefix(d.label, "en") || englishShare(d.text) < *maxEN {
				kept = append(kept, d)
			}
		}
		fmt.Printf("left out %d documents with an English function-word share of %.2f or more\n\n", len(docs)-len(kept), *maxEN)
		docs = kept
	}
	cpu0, t0 := executor.ProcessCPU(), time.Now()
	type tally struct{ n, ok int }
	per := map[string]*tally{}
	confusions := map[string]map[string]int{}
	var bytes int
	for _, d := range docs {
		got, _ := st.Detect(d.text)
		want := strings.ToLower(strings.SplitN(d.label, "-", 2)[0])
		t := per[want]
		if t == nil {
			t = &tally{}
			per[want] = t
		}
		t.n++
		bytes += len(d.text)
		if got == want {
			t.ok++
		} else {
			if confusions[want] == nil {
				confusions[want] = map[string]int{}
			}
			confusions[want][got]++
		}
	}
	cpu, wall := executor.ProcessCPU()-cpu0, time.Since(t0)
	keys := make([]string, 0, len(per))
	total, ok := 0, 0
	for k, t := range per {
		keys = append(keys, k)
		total += t.n
		ok += t.ok
	}
	sort.Strings(keys)
	fmt.Printf("| language | documents | correct | accuracy | most frequent error |\n|---|---|---|---|---|\n")
	for _, k := range keys {
		t := per[k]
		fmt.Printf("| %s | %d | %d | %.3f | %s |\n", k, t.n, t.ok, float64(t.ok)/float64(t.n), topError(confusions[k]))
	}
	fmt.Printf("| all | %d | %d | %.3f | |\n\n", total, ok, float64(ok)/float64(total))
	fmt.Printf("accuracy=%s documents=%d text=%.1f MB cpu=%.2fs wall=%.2fs docs/cpu-s=%.0f MB/cpu-s=%.2f peak_rss=%.1f MiB (includes loading the corpus)\n",
		*accuracy, total, float64(bytes)/1e6, cpu.Seconds(), wall.Seconds(), float64(total)/cpu.Seconds(), float64(bytes)/1e6/cpu.Seconds(), float64(executor.PeakRSS())/(1<<20))
}

func topError(m map[string]int) string {
	best, n := "", 0
	for k, v := range m {
		if v > n || v == n && k < best {
			best, n = k, v
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%s (%d)", best, n)
}

type doc struct{ text, label string }

func load(path, label string, skipEN bool) ([]doc, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		if r, err = gzip.NewReader(f); err != nil {
			return nil, err
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	var out []doc
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, err
		}
		t, _ := rec["text"].(string)
		l, _ := rec[label].(string)
		if l == "" || skipEN && strings.HasPrefix(l, "en") {
			continue
		}
		out = append(out, doc{t, l})
	}
	return out, sc.Err()
}

// englishWords are frequent English function words.
var englishWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields("the and of to is in that for with this are be by as on it or you can") {
		englishWords[w] = true
	}
}

// englishShare is the share of the white-space words of text's first 500
// characters that are English function words.
func englishShare(text string) float64 {
	if r := []rune(text); len(r) > 500 {
		text = string(r[:500])
	}
	words := strings.Fields(text)
	n := 0
	for _, w := range words {
		if englishWords[strings.Trim(strings.ToLower(w), `.,;:()"`)] {
			n++
		}
	}
	return float64(n) / float64(max(len(words), 1))
}
