package text

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file holds the rules of the Gopher paper (Rae et al. 2021, appendix
// A.1.1 and table A1) as datatrove implements them (GopherQualityFilter,
// GopherRepetitionFilter), with two differences stated in docs/filters.md:
// words are white-space-separated (datatrove runs NLTK's word tokenizer),
// and duplicate n-grams are compared word by word (datatrove compares the
// words concatenated without separator).

// isStopWord reports whether w is one of the Gopher paper's stop words
// (the same list as NeMo's common English words): the, be, to, of, and,
// that, have, with.
func isStopWord(w string) bool {
	switch len(w) {
	case 2:
		return w == "be" || w == "to" || w == "of"
	case 3:
		return w == "the" || w == "and"
	case 4:
		return w == "that" || w == "have" || w == "with"
	}
	return false
}

// trimPunct strips leading and trailing punctuation and symbols from w.
func trimPunct(w string) string {
	for len(w) > 0 {
		r, n := utf8.DecodeRuneInString(w)
		if !IsPunctOrSymbol(r) {
			break
		}
		w = w[n:]
	}
	for len(w) > 0 {
		r, n := utf8.DecodeLastRuneInString(w)
		if !IsPunctOrSymbol(r) {
			break
		}
		w = w[:len(w)-n]
	}
	return w
}

// GopherWordCount scores the number of words that are not made only of
// punctuation and symbols. Kept when Min ≤ score ≤ Max (50 and 100,000).
type GopherWordCount struct {
	Min int `json:"min_doc_words"`
	Max int `json:"max_doc_words"`
}

func (f *GopherWordCount) Name() string { return "gopher_word_count" }
func (f *GopherWordCount) Score(d *Doc) float64 {
	n, _ := d.gopherWords()
	return float64(n)
}
func (f *GopherWordCount) Keep(s float64) bool { return float64(f.Min) <= s && s <= float64(f.Max) }

// GopherMeanWordLength scores the mean length in characters of the words
// not made only of punctuation and symbols, each measured without its
// leading and trailing punctuation; no such word scores 0. Kept when
// Min ≤ score ≤ Max (3 and 10).
type GopherMeanWordLength struct {
	Min float64 `json:"min_avg_word_length"`
	Max float64 `json:"max_avg_word_length"`
}

func (f *GopherMeanWordLength) Name() string { return "gopher_mean_word_length" }
func (f *GopherMeanWordLength) Score(d *Doc) float64 {
	n, total := d.gopherWords()
	return ratio(total, n, 0)
}
func (f *GopherMeanWordLength) Keep(s float64) bool { return f.Min <= s && s <= f.Max }

// GopherSymbolRatio scores the occurrences of Symbol ("#" for the hash rule;
// "..." and "…" for the ellipsis rule) over the number of words; no words
// scores 0. Kept when at most Max (0.1).
type GopherSymbolRatio struct {
	Symbol string  `json:"symbol"`
	Max    float64 `json:"max_symbol_word_ratio"`
}

func (f *GopherSymbolRatio) Name() string {
	if f.Symbol == "#" {
		return "gopher_hash_ratio"
	}
	return "gopher_ellipsis_ratio"
}
func (f *GopherSymbolRatio) Score(d *Doc) float64 {
	var n int
	if f.Symbol == "#" {
		n = strings.Count(d.Text(), "#")
	} else {
		n = strings.Count(d.Text(), "...") + strings.Count(d.Text(), "…")
	}
	return ratio(n, len(d.Words()), 0)
}
func (f *GopherSymbolRatio) Keep(s float64) bool { return s <= f.Max }

// pyLines appends the lines of s split as Python's str.splitlines() does:
// at \n, \r, \r\n, \v, \f, \x1c, \x1d, \x1e, U+0085, U+2028 and U+2029,
// with no empty piece after a final line break.
func pyLines(dst []string, s string) []string {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		n := 0
		switch {
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			n = 2
		case c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e:
			n = 1
		case c == 0xc2 && i+1 < len(s) && s[i+1] == 0x85:
			n = 2
		case c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9):
			n = 3
		}
		if n == 0 {
			i++
			continue
		}
		dst = append(dst, s[start:i])
		i += n
		start = i
	}
	if start < len(s) {
		dst = append(dst, s[start:])
	}
	return dst
}

// GopherBulletLines scores the fraction of lines (Python splitlines) that
// start, after leading white space, with "•" or "-"; no lines scores 0.
// Kept when at most Max (0.9).
type GopherBulletLines struct {
	Max float64 `json:"max_bullet_lines_ratio"`
}

func (f *GopherBulletLines) Name() string { return "gopher_bullet_lines" }
func (f *GopherBulletLines) Score(d *Doc) float64 {
	lines := d.pyLines()
	n := 0
	for _, l := range lines {
		l = StripLeft(l)
		if strings.HasPrefix(l, "•") || strings.HasPrefix(l, "-") {
			n++
		}
	}
	return ratio(n, len(lines), 0)
}
func (f *GopherBulletLines) Keep(s float64) bool { return s <= f.Max }

// GopherEllipsisLines scores the fraction of lines (Python splitlines) that
// end, before trailing white space, with "..." or "…"; no lines scores 0.
// Kept when at most Max (0.3).
type GopherEllipsisLines struct {
	Max float64 `json:"max_ellipsis_lines_ratio"`
}

func (f *GopherEllipsisLines) Name() string { return "gopher_ellipsis_lines" }
func (f *GopherEllipsisLines) Score(d *Doc) float64 {
	lines := d.pyLines()
	n := 0
	for _, l := range lines {
		l = StripRight(l)
		if strings.HasSuffix(l, "...") || strings.HasSuffix(l, "…") {
			n++
		}
	}
	return ratio(n, len(lines), 0)
}
func (f *GopherEllipsisLines) Keep(s float64) bool { return s <= f.Max }

// GopherAlphaWords scores the fraction of words containing a letter
// (Python's isalpha); no words scores 0. Kept when at least Min (0.8).
type GopherAlphaWords struct {
	Min float64 `json:"max_non_alpha_words_ratio"`
}

func (f *GopherAlphaWords) Name() string { return "gopher_alpha_words" }
func (f *GopherAlphaWords) Score(d *Doc) float64 {
	words := d.Words()
	n := 0
	for _, w := range words {
		for _, r := range w {
			if IsPyAlpha(r) {
				n++
				break
			}
		}
	}
	return ratio(n, len(words), 0)
}
func (f *GopherAlphaWords) Keep(s float64) bool { return s >= f.Min }

// GopherStopWords scores the number of words that are one of the, be, to,
// of, and, that, have, with (case-sensitive). Kept when at least Min (2).
type GopherStopWords struct {
	Min int `json:"min_stop_words"`
}

func (f *GopherStopWords) Name() string { return "gopher_stop_words" }
func (f *GopherStopWords) Score(d *Doc) float64 {
	n := 0
	for _, w := range d.Words() {
		if isStopWord(w) {
			n++
		}
	}
	return float64(n)
}
func (f *GopherStopWords) Keep(s float64) bool { return s >= float64(f.Min) }

// ---- repetition -------------------------------------------------------------------

// gopherParagraphs appends the paragraphs of the stripped text: the pieces
// between runs of two or more "\n".
func gopherParagraphs(dst []string, s string) []string {
	s = Strip(s)
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' && i+1 < len(s) && s[i+1] == '\n' {
			dst = append(dst, s[start:i])
			for i < len(s) && s[i] == '\n' {
				i++
			}
			start = i
			i--
		}
	}
	return append(dst, s[start:])
}

// gopherLines appends the pieces of s between runs of "\n".
func gopherLines(dst []string, s string) []string {
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			dst = append(dst, s[start:i])
			for i < len(s) && s[i] == '\n' {
				i++
			}
			start = i
			i--
		}
	}
	return append(dst, s[start:])
}

// duplicates counts the elements of xs equal to an earlier one, and their
// characters (datatrove's find_duplicates).
func (d *Doc) duplicates(xs []string) (dups, dupChars int) {
	set := d.scratchSet()
	for _, x := range xs {
		if _, ok := set[x]; ok {
			dups++
			dupChars += Len(x)
		} else {
			set[x] = struct{}{}
		}
	}
	return dups, dupChars
}

// GopherRepetition is one of Gopher's four line and paragraph rules. Unit
// is "paragraph" (pieces between two or more newlines of the stripped text)
// or "line" (pieces between newlines); ByChar scores the characters of the
// duplicated pieces over the characters of the text, otherwise the number
// of duplicated pieces over the number of pieces. An empty text scores 0.
// Kept when at most Max (0.3 by count, 0.2 by characters).
type GopherRepetition struct {
	Unit   string  `json:"unit"`
	ByChar bool    `json:"by_char"`
	Max    float64 `json:"max_fraction"`
}

func (f *GopherRepetition) Name() string {
	n := "gopher_dup_" + f.Unit + "_frac"
	if f.ByChar {
		n = "gopher_dup_" + f.Unit + "_char_frac"
	}
	return n
}
func (f *GopherRepetition) Score(d *Doc) float64 {
	if f.Unit == "paragraph" {
		d.strs = gopherParagraphs(d.strs[:0], d.Text())
	} else {
		d.strs = gopherLines(d.strs[:0], d.Text())
	}
	dups, chars := d.duplicates(d.strs)
	if f.ByChar {
		return ratio(chars, d.Chars(), 0)
	}
	return ratio(dups, len(d.strs), 0)
}
func (f *GopherRepetition) Keep(s float64) bool { return s <= f.Max }

// GopherTopNGram scores the characters of the most frequent word n-gram
// (its words joined by spaces) times its count, over the characters of the
// text; the earliest n-gram wins ties. Fewer than N words scores 0. Kept
// when at most Max (0.20, 0.18, 0.16 for N = 2, 3, 4).
type GopherTopNGram struct {
	N   int     `json:"n"`
	Max float64 `json:"max_fraction"`
}

func (f *GopherTopNGram) Name() string { return fmt.Sprintf("gopher_top_%d_gram", f.N) }
func (f *GopherTopNGram) Score(d *Doc) float64 {
	words := d.Words()
	if len(words) < f.N {
		return 0
	}
	pos, count := d.topNGram(f.N)
	chars := f.N - 1
	for _, l := range d.wordLens()[pos : pos+f.N] {
		chars += int(l)
	}
	return ratio(chars*count, d.Chars(), 0)
}
func (f *GopherTopNGram) Keep(s float64) bool { return s <= f.Max }

// GopherDupNGram scores the characters (without spaces) of the word n-grams
// that repeat an earlier one, scanning left to right and skipping the N
// words of each repeat, over the characters of the text. Fewer than N words
// scores 0. Kept when at most Max (0.15 down to 0.10 for N = 5 … 10).
type GopherDupNGram struct {
	N   int     `json:"n"`
	Max float64 `json:"max_fraction"`
}

func (f *GopherDupNGram) Name() string { return fmt.Sprintf("gopher_dup_%d_gram", f.N) }
func (f *GopherDupNGram) Score(d *Doc) float64 {
	words := d.Words()
	n := f.N
	if len(words) < n {
		return 0
	}
	if d.knownUnique(n) {
		return 0
	}
	ids, lens := d.wordIDs(), d.wordLens()
	t := &d.table
	t.reset(ids, d.prefixHashes(), n)
	chars := 0
	for p := 0; p+n <= len(ids); {
		s := t.slot(p)
		if int(s.pos)-1 != p { // seen before
			for _, l := range lens[p : p+n] {
				chars += int(l)
			}
			p += n
			continue
		}
		p++
	}
	if chars == 0 { // every n-gram was inserted: none occurs twice
		d.markUnique(n)
	}
	return ratio(chars, d.Chars(), 0)
}
func (f *GopherDupNGram) Keep(s float64) bool { return s <= f.Max }
