// Package langid identifies the language of a text among 75 languages.
//
// It scores texts the way lingua-go does in its low-accuracy mode, on
// lingua-go's own unigram, bigram and trigram probabilities (Apache-2.0;
// see NOTICE), stored compactly (3.7 MB in the binary, about 12 MB in
// memory once loaded) and looked up in one hash table for all languages:
//
//   - The text is lower-cased and split into words: runs of letters, each
//     Han, Hiragana, Katakana or Hangul character a word of its own.
//   - The script with the most words wins. A script written by one language
//     (Greek, Hangul, Hebrew, Thai, ...) decides it, with score 1; so does
//     Han and kana together: Japanese when at least a tenth of those words
//     are kana, else Chinese.
//   - Otherwise (Latin, Cyrillic, Arabic, Devanagari) each candidate
//     language of that script sums, over the distinct trigrams of the
//     words, the log-probability of the trigram, or, when the language
//     lacks it, of its first two letters, or else of its first letter.
//     The score is the winner's share of the exponentiated sums (softmax
//     over the candidates that matched at least one n-gram), which is
//     lingua-go's confidence.
//
// Texts without letters, without a trigram, or whose script no candidate
// writes are undetermined ("und", score 0); so is an exact tie.
//
// Left out from lingua-go: its rules that pick a language from letters
// only some languages use (ß, ő, ...) when most words have one, which
// matter on short texts, not on documents; and lingua's Japanese rule
// (any kana beside Han) is here a tenth of kana. On the benchmark sets
// (docs/benchmarks.md) both have the same accuracy for every language but
// one (Czech manual pages: 128 against lingua's 126 of 137).
package langid

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/zeebo/xxh3"
)

// Undetermined is the code of a text whose language is not determined
// (ISO 639-2 "und").
const Undetermined = "und"

// Detector identifies languages among a set of candidates. It is
// read-only after New and safe for concurrent use.
type Detector struct {
	m      *model
	cand   []bool         // language index -> candidate
	single map[string]int // script of one language -> its index
	ofs    map[string]int // script -> number of candidates writing it
}

// Languages returns the codes (ISO 639-1) of the languages the model knows.
func Languages() ([]string, error) {
	m, err := loadModel()
	if err != nil {
		return nil, err
	}
	return slices.Clone(m.codes), nil
}

// New returns a detector for the given candidate languages (ISO 639-1
// codes, any case; none: all 75). It loads the model on first use.
func New(languages []string) (*Detector, error) {
	m, err := loadModel()
	if err != nil {
		return nil, err
	}
	d := &Detector{m: m, cand: make([]bool, len(m.codes)), single: map[string]int{}, ofs: map[string]int{}}
	for _, c := range languages {
		i := slices.Index(m.codes, strings.ToLower(c))
		if i < 0 {
			return nil, fmt.Errorf("%q is not the ISO 639-1 code of a language the model knows (%s)", c, strings.Join(m.codes, " "))
		}
		d.cand[i] = true
	}
	if len(languages) == 0 {
		for i := range d.cand {
			d.cand[i] = true
		}
	}
	writers := map[string]int{}
	for i, s := range m.scripts {
		writers[s]++
		if d.cand[i] {
			d.ofs[s]++
		}
	}
	for i, s := range m.scripts {
		if writers[s] == 1 && s != "Han" && s != "Hiragana" && s != "Katakana" {
			d.single[s] = i
		}
	}
	if i := slices.Index(m.codes, "zh"); i < 0 || slices.Index(m.codes, "ja") < 0 {
		return nil, errors.New("langid model: no zh or ja")
	}
	return d, nil
}

// script classes of words.
const (
	scriptOther = iota
	scriptHan
	scriptKana
	scriptFirstNamed // index into namedScripts + scriptFirstNamed
	scriptHangul     = scriptFirstNamed + 5
)

// namedScripts are the scripts words are counted in, besides Han and kana.
var namedScripts = []string{"Latin", "Cyrillic", "Arabic", "Devanagari", "Greek", "Hangul", "Armenian", "Georgian",
	"Hebrew", "Thai", "Bengali", "Gujarati", "Gurmukhi", "Tamil", "Telugu"}

func scriptOf(r rune) int {
	if r < 0x250 {
		return scriptFirstNamed // Latin (every letter below U+0250 is Latin)
	}
	switch {
	case unicode.Is(unicode.Han, r):
		return scriptHan
	case unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r):
		return scriptKana
	}
	for i, s := range namedScripts {
		if unicode.Is(unicode.Scripts[s], r) {
			return scriptFirstNamed + i
		}
	}
	return scriptOther
}

// trigram is a text trigram's hash with those of its first two letters and
// its first letter.
type trigram struct{ h3, h2, h1 uint64 }

// Detect returns the code of text's language and its score in [0, 1], or
// ("und", 0).
func (d *Detector) Detect(text string) (string, float64) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	counts := words(strings.ToLower(text), sc)
	best, n := scriptOther, 0
	for s, c := range counts {
		if s != scriptOther && s != scriptHan && s != scriptKana && c > n {
			best, n = s, c
		}
	}
	if cjk := counts[scriptHan] + counts[scriptKana]; cjk > n {
		code := "zh"
		if counts[scriptKana]*10 >= cjk {
			code = "ja"
		}
		if !d.cand[slices.Index(d.m.codes, code)] {
			return Undetermined, 0
		}
		return code, 1
	}
	if n == 0 {
		return Undetermined, 0
	}
	script := namedScripts[best-scriptFirstNamed]
	if i, ok := d.single[script]; ok {
		if !d.cand[i] {
			return Undetermined, 0
		}
		return d.m.codes[i], 1
	}
	switch d.ofs[script] {
	case 0:
		return Undetermined, 0
	case 1:
		for i, s := range d.m.scripts {
			if s == script && d.cand[i] {
				return d.m.codes[i], 1
			}
		}
	}
	return d.score(script, sc.tris)
}

// scratch is a Detect call's working memory, pooled.
type scratch struct {
	tris []trigram
	set  []uint64 // open-addressing set of trigram hashes (0: empty)
}

var scratchPool = sync.Pool{New: func() any { return &scratch{} }}

// words counts text's words per script and returns the distinct trigrams
// of its words of three letters or more, in sc.tris.
func words(text string, sc *scratch) [scriptFirstNamed + 15]int {
	var counts [scriptFirstNamed + 15]int
	sc.tris = sc.tris[:0]
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsLetter(r) {
			i += size
			continue
		}
		s := scriptOf(r)
		if s == scriptHan || s == scriptKana || s == scriptHangul {
			counts[s]++
			i += size
			continue
		}
		j := i + size
		for j < len(text) {
			r, size := utf8.DecodeRuneInString(text[j:])
			if !unicode.IsLetter(r) || isCJK(r) {
				break
			}
			j += size
		}
		counts[s]++
		sc.tris = appendTrigrams(sc.tris, text[i:j])
		i = j
	}
	sc.dedupe()
	return counts
}

// dedupe removes repeated trigrams from sc.tris, keeping the first of each.
func (sc *scratch) dedupe() {
	size := 64
	for size < 2*len(sc.tris) {
		size *= 2
	}
	if len(sc.set) < size {
		sc.set = make([]uint64, size)
	}
	set, mask := sc.set[:size], uint64(size-1)
	out := sc.tris[:0]
	for _, t := range sc.tris {
		k := t.h3 | 1 // 0 marks an empty slot; the lowest bit is given up
		s := k & mask
		for set[s] != 0 && set[s] != k {
			s = (s + 1) & mask
		}
		if set[s] == 0 {
			set[s] = k
			out = append(out, t)
		}
	}
	clear(set)
	sc.tris = out
}

func isCJK(r rune) bool {
	return r >= 0x1100 && (unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r))
}

// appendTrigrams appends the trigrams of word (at least three letters).
func appendTrigrams(tris []trigram, word string) []trigram {
	// b0..b3: byte offsets of four consecutive letters.
	b0 := 0
	_, s0 := utf8.DecodeRuneInString(word)
	b1 := b0 + s0
	if b1 >= len(word) {
		return tris
	}
	_, s1 := utf8.DecodeRuneInString(word[b1:])
	b2 := b1 + s1
	for b2 < len(word) {
		_, s2 := utf8.DecodeRuneInString(word[b2:])
		b3 := b2 + s2
		tris = append(tris, trigram{xxh3.HashString(word[b0:b3]), xxh3.HashString(word[b0:b2]), xxh3.HashString(word[b0:b1])})
		b0, b1, b2 = b1, b2, b3
	}
	return tris
}

// score runs the naive Bayes sums over the candidates writing script.
func (d *Detector) score(script string, tris []trigram) (string, float64) {
	var sum [256]int64
	var seen [256]uint32
	var hit [256]bool
	active := make([]bool, len(d.m.codes))
	nActive := 0
	for i, s := range d.m.scripts {
		if s == script && d.cand[i] {
			active[i] = true
			nActive++
		}
	}
	for t, tri := range tris {
		stamp, marked := uint32(t+1), 0
		for _, h := range [3]uint64{tri.h3, tri.h2, tri.h1} {
			for _, e := range d.m.lookup(h) {
				l := e >> 16
				if active[l] && seen[l] != stamp {
					seen[l], hit[l] = stamp, true
					sum[l] += int64(e & 0xffff)
					marked++
				}
			}
			if marked == nActive {
				break
			}
		}
	}
	best, tie := -1, false
	for l := range active {
		if !hit[l] {
			continue
		}
		switch {
		case best < 0 || sum[l] < sum[best]:
			best, tie = l, false
		case sum[l] == sum[best]:
			tie = true
		}
	}
	if best < 0 || tie {
		return Undetermined, 0
	}
	// softmax of the log-probabilities -sum/1024, taken relative to the best.
	total := 0.0
	for l := range active {
		if hit[l] {
			total += math.Exp(-float64(sum[l]-sum[best]) / 1024)
		}
	}
	return d.m.codes[best], 1 / total
}
