// Command langid measures the language_id stage's detector on labelled
// JSONL: accuracy per language, documents per CPU-second and peak RSS.
// Each record needs a text field and a label field holding a language tag
// such as "de-DE" (its first part is compared with the detected ISO 639-1
// code). The detection pass runs -runs times; each run's CPU time and the
// median are printed. See bench/langid.sh and docs/benchmarks.md.
//
//	go run ./bench/langid -input corpus.jsonl.gz
//	go run -tags lingua ./bench/langid -input corpus.jsonl.gz -detector lingua
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
	"unicode"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/stages/filter"
)

func main() {
	input := flag.String("input", "", "JSONL file (.gz allowed) with text and label fields")
	label := flag.String("label", "lang", "field holding the language tag")
	det := flag.String("detector", "", "trigram, lingua (built with -tags lingua) or whatlang (default: the stage's default)")
	accuracy := flag.String("accuracy", "", "lingua's accuracy mode: low or high (default: the stage's)")
	runs := flag.Int("runs", 1, "times the detection pass runs (CPU time: each and the median)")
	langs := flag.String("languages", "", "comma-separated candidate languages (default: all)")
	maxChars := flag.Int("max-chars", 0, "characters examined per document (0: the stage's default)")
	skipEN := flag.Bool("skip-en", false, "leave out documents labelled en (the corpus is mostly English)")
	maxEN := flag.Float64("max-english-share", 0, "leave out documents not labelled en whose first 500 characters are at least this share of English function words (0: keep all)")
	snippet := flag.Int("snippet", 0, "replace each document by about this many characters from its middle, whole words (0: whole documents)")
	flag.Parse()
	cfg := filter.LanguageIDConfig{Detector: *det, Accuracy: *accuracy, MaxChars: *maxChars}
	if *langs != "" {
		cfg.Languages = strings.Split(*langs, ",")
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
	if *snippet > 0 {
		for i := range docs {
			docs[i].text = middle(docs[i].text, *snippet)
		}
		fmt.Printf("snippets of at most %d characters from the middle of each document\n\n", *snippet)
	}
	rssLoaded := executor.PeakRSS()
	var st detector
	if *det == "whatlang" {
		st = whatlangDetector{maxChars: *maxChars}
		if *maxChars == 0 {
			st = whatlangDetector{maxChars: 500}
		}
	} else {
		if st, err = filter.NewLanguageID(cfg); err != nil {
			log.Fatal(err)
		}
	}
	got, cpus, wall := detectAll(st, docs, *runs)
	report(docs, got)
	examined := *maxChars
	if l, ok := st.(*filter.LanguageID); ok {
		examined = l.Config().MaxChars
	} else if examined == 0 {
		examined = 500
	}
	var bytes int
	for _, d := range docs {
		bytes += len(prefix(d.text, examined))
	}
	med := median(cpus)
	parts := make([]string, len(cpus))
	for i, c := range cpus {
		parts[i] = fmt.Sprintf("%.2f", c)
	}
	fmt.Printf("detector=%s accuracy=%s max_chars=%d documents=%d examined text=%.1f MB\n", *det, *accuracy, examined, len(docs), float64(bytes)/1e6)
	fmt.Printf("cpu_s per run: %s (median %.2f) wall_s (last run): %.2f docs/cpu-s=%.0f MB/cpu-s=%.2f\n",
		strings.Join(parts, " "), med, wall.Seconds(), float64(len(docs))/med, float64(bytes)/1e6/med)
	fmt.Printf("peak_rss=%.1f MiB (after loading the documents: %.1f MiB)\n",
		float64(executor.PeakRSS())/(1<<20), float64(rssLoaded)/(1<<20))
}

// detectAll runs the detector over docs runs times and returns the first
// run's answers, each run's CPU seconds and the last run's wall time.
func detectAll(st detector, docs []doc, runs int) ([]string, []float64, time.Duration) {
	got := make([]string, len(docs))
	var cpus []float64
	var wall time.Duration
	for r := 0; r < max(runs, 1); r++ {
		cpu0, t0 := executor.ProcessCPU(), time.Now()
		for i, d := range docs {
			got[i], _ = st.Detect(d.text)
		}
		cpus = append(cpus, (executor.ProcessCPU() - cpu0).Seconds())
		wall = time.Since(t0)
	}
	return got, cpus, wall
}

// middle returns at most n characters from the middle of s, cut at white
// space within 20 characters of either end (for texts without spaces, such
// as Chinese, anywhere).
func middle(s string, n int) string {
	r := []rune(s)
	start := len(r) / 2
	for b := start; b > 0 && b > start-20; b-- {
		if unicode.IsSpace(r[b-1]) {
			start = b
			break
		}
	}
	end := min(start+n, len(r))
	for e := end; e < len(r) && e > end-20 && e > start; e-- {
		if unicode.IsSpace(r[e]) {
			end = e
			break
		}
	}
	return strings.TrimSpace(strings.ReplaceAll(string(r[start:end]), "\n", " "))
}

// prefix returns the first n characters of s (all for n < 0).
func prefix(s string, n int) string {
	if n < 0 {
		return s
	}
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report prints the accuracy per language and the most frequent error.
func report(docs []doc, got []string) {
	type tally struct{ n, ok int }
	per := map[string]*tally{}
	confusions := map[string]map[string]int{}
	for i, d := range docs {
		want := strings.ToLower(strings.SplitN(d.label, "-", 2)[0])
		t := per[want]
		if t == nil {
			t = &tally{}
			per[want] = t
		}
		t.n++
		if got[i] == want {
			t.ok++
			continue
		}
		if confusions[want] == nil {
			confusions[want] = map[string]int{}
		}
		confusions[want][got[i]]++
	}
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

// detector is the language_id stage, or whatlanggo.
type detector interface {
	Detect(text string) (string, float64)
}

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
