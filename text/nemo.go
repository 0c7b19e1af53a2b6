package text

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Filter is a document filter in the manner of NeMo Curator's
// DocumentFilter: Score computes a number from the text and Keep decides
// from that number alone, so a score written to a field can be re-checked
// later. Filters are not safe for concurrent use only through the Doc they
// are given; the filters themselves hold no per-document state.
type Filter interface {
	// Name is the filter's name, NeMo's _name where NeMo has the filter.
	Name() string
	// Score computes the document's score.
	Score(d *Doc) float64
	// Keep reports whether a document with this score is kept.
	Keep(score float64) bool
}

// ratio is a/b, or empty when b is 0.
func ratio(a, b int, empty float64) float64 {
	if b == 0 {
		return empty
	}
	return float64(a) / float64(b)
}

// ---- character ratios ---------------------------------------------------------

// NonAlphaNumeric scores the fraction of characters that are not ASCII
// letters, digits, "\n", "?", "!", "," or "." (NeMo's regex_alphanum); an
// empty text scores 1. Kept when the score is at most MaxRatio (default
// 0.25).
type NonAlphaNumeric struct {
	MaxRatio float64 `json:"max_non_alpha_numeric_to_text_ratio"`
}

var alnumNeMo = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "\n?!,." {
		t[c] = true
	}
	return t
}()

func (f *NonAlphaNumeric) Name() string { return "alpha_numeric" }
func (f *NonAlphaNumeric) Score(d *Doc) float64 {
	n := d.Chars()
	return ratio(n-countBytes(d.Text(), &alnumNeMo), n, 1)
}
func (f *NonAlphaNumeric) Keep(s float64) bool { return s <= f.MaxRatio }

func countBytes(s string, set *[256]bool) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if set[s[i]] {
			n++
		}
	}
	return n
}

// Numbers scores the fraction of characters that are the ASCII digits 0–9
// (NeMo's regex_digit, [[:digit:]] in Python's regex module, matches only
// these); an empty text scores 1. Kept when at most MaxRatio (default 0.15).
type Numbers struct {
	MaxRatio float64 `json:"max_number_to_text_ratio"`
}

var digitSet = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	return t
}()

func (f *Numbers) Name() string { return "numbers_ratio" }
func (f *Numbers) Score(d *Doc) float64 {
	return ratio(countBytes(d.Text(), &digitSet), d.Chars(), 1)
}
func (f *Numbers) Keep(s float64) bool { return s <= f.MaxRatio }

// WhiteSpace scores the fraction of characters that are "\t", "\n", "\r",
// "\b" (backspace) or " "; an empty text scores 1. Kept when at most
// MaxRatio (default 0.25).
type WhiteSpace struct {
	MaxRatio float64 `json:"max_white_space_ratio"`
}

var whiteNeMo = [256]bool{'\t': true, '\n': true, '\r': true, '\b': true, ' ': true}

func (f *WhiteSpace) Name() string { return "white_space" }
func (f *WhiteSpace) Score(d *Doc) float64 {
	return ratio(countBytes(d.Text(), &whiteNeMo), d.Chars(), 1)
}
func (f *WhiteSpace) Keep(s float64) bool { return s <= f.MaxRatio }

// Parentheses scores the fraction of characters that are one of
// { } [ ] ( ) ⟨ ⟩; an empty text scores 1. Kept when at most MaxRatio
// (default 0.1).
type Parentheses struct {
	MaxRatio float64 `json:"max_parentheses_ratio"`
}

var parenSet = [256]bool{'{': true, '}': true, '[': true, ']': true, '(': true, ')': true}

func (f *Parentheses) Name() string { return "parentheses_ratio" }
func (f *Parentheses) Score(d *Doc) float64 {
	s := d.Text()
	n := countBytes(s, &parenSet)
	n += strings.Count(s, "⟨") + strings.Count(s, "⟩")
	return ratio(n, d.Chars(), 1)
}
func (f *Parentheses) Keep(s float64) bool { return s <= f.MaxRatio }

// URLRatio scores the fraction of characters inside URLs found by NextURL;
// an empty text scores 1. Kept when at most MaxRatio (default 0.2).
type URLRatio struct {
	MaxRatio float64 `json:"max_url_to_text_ratio"`
}

func (f *URLRatio) Name() string { return "urls_ratio" }
func (f *URLRatio) Score(d *Doc) float64 {
	s := d.Text()
	n := 0
	for {
		i, j := NextURL(s)
		if i < 0 {
			break
		}
		n += j - i // URL characters are ASCII: bytes are code points
		s = s[j:]
	}
	return ratio(n, d.Chars(), 1)
}
func (f *URLRatio) Keep(s float64) bool { return s <= f.MaxRatio }

// PornographicURLs scores 1 when some URL (NextURL) contains "porn", else 0.
// Kept when the score is not 1.
type PornographicURLs struct{}

func (f *PornographicURLs) Name() string { return "pornographic_urls" }
func (f *PornographicURLs) Score(d *Doc) float64 {
	s := d.Text()
	for {
		i, j := NextURL(s)
		if i < 0 {
			return 0
		}
		if strings.Contains(s[i:j], "porn") {
			return 1
		}
		s = s[j:]
	}
}
func (f *PornographicURLs) Keep(s float64) bool { return s != 1 }

// ---- words ----------------------------------------------------------------

// ellipsisMarks is NeMo's ellipsis_marks.
var ellipsisMarks = []string{"...", "[...]", "…", "(...)", "[…]", "-»", "read more..", "read more"}

func isEllipsisWord(w string) bool {
	for _, m := range ellipsisMarks {
		if w == m {
			return true
		}
	}
	return false
}

// SymbolsToWords scores the fraction of words that are an ellipsis mark or
// whose number of runs of "#" exceeds half their length (NeMo counts
// regex matches of "#+", that is runs, not characters: "#" and "#a#" are
// symbol words, "##" and "###" are not). No words scores 1. Kept when at
// most MaxRatio (default 0.1).
type SymbolsToWords struct {
	MaxRatio float64 `json:"max_symbol_to_word_ratio"`
}

func (f *SymbolsToWords) Name() string { return "symbol_to_word" }
func (f *SymbolsToWords) Score(d *Doc) float64 {
	words, lens := d.Words(), d.wordLens()
	n := 0
	for i, w := range words {
		if isEllipsisWord(w) || 2*hashRuns(w) > int(lens[i]) {
			n++
		}
	}
	return ratio(n, len(words), 1)
}
func (f *SymbolsToWords) Keep(s float64) bool { return s <= f.MaxRatio }

// hashRuns counts the maximal runs of '#' in w.
func hashRuns(w string) int {
	n := 0
	for i := 0; i < len(w); i++ {
		if w[i] == '#' && (i == 0 || w[i-1] != '#') {
			n++
		}
	}
	return n
}

// LongWord scores the length in characters of the longest word; a text
// without words scores MaxLength+1. Kept when at most MaxLength (default
// 1000).
type LongWord struct {
	MaxLength int `json:"max_word_length"`
}

func (f *LongWord) Name() string { return "max_word_length" }
func (f *LongWord) Score(d *Doc) float64 {
	words := d.Words()
	if len(words) == 0 {
		return float64(f.MaxLength + 1)
	}
	m := int32(0)
	for _, n := range d.wordLens() {
		m = max(m, n)
	}
	return float64(m)
}
func (f *LongWord) Keep(s float64) bool { return s <= float64(f.MaxLength) }

// WordCount scores the number of words. Kept when MinWords ≤ score ≤
// MaxWords (defaults 50 and 100000).
type WordCount struct {
	MinWords int `json:"min_words"`
	MaxWords int `json:"max_words"`
}

func (f *WordCount) Name() string         { return "word_count" }
func (f *WordCount) Score(d *Doc) float64 { return float64(len(d.Words())) }
func (f *WordCount) Keep(s float64) bool  { return float64(f.MinWords) <= s && s <= float64(f.MaxWords) }

// MeanWordLength scores the mean length of the words in characters; no words
// scores 0. Kept when Min ≤ score ≤ Max (defaults 3 and 10).
type MeanWordLength struct {
	Min float64 `json:"min_mean_word_length"`
	Max float64 `json:"max_mean_word_length"`
}

func (f *MeanWordLength) Name() string { return "mean_word_length" }
func (f *MeanWordLength) Score(d *Doc) float64 {
	lens := d.wordLens()
	total := 0
	for _, n := range lens {
		total += int(n)
	}
	return ratio(total, len(lens), 0)
}
func (f *MeanWordLength) Keep(s float64) bool { return f.Min <= s && s <= f.Max }

// CommonEnglishWords scores the number of words that are exactly (case
// included) one of the, be, to, of, and, that, have, with; with StopAtFalse
// (default true) counting stops once it reaches MinCount. Kept when the
// score is at least MinCount (default 2).
type CommonEnglishWords struct {
	MinCount    int  `json:"min_num_common_words"`
	StopAtFalse bool `json:"stop_at_false"`
}

func (f *CommonEnglishWords) Name() string { return "common_english_words" }
func (f *CommonEnglishWords) Score(d *Doc) float64 {
	n := 0
	for _, w := range d.Words() {
		if isStopWord(w) { // NeMo's common_english_words
			n++
		}
		if f.StopAtFalse && n >= f.MinCount {
			return float64(n)
		}
	}
	return float64(n)
}
func (f *CommonEnglishWords) Keep(s float64) bool { return s >= float64(f.MinCount) }

// WordsWithoutAlphabets scores the fraction of words that contain at least
// one alphabetic character (IsAlphabetic); no words scores 0. Kept when at
// least MinRatio (default 0.8).
type WordsWithoutAlphabets struct {
	MinRatio float64 `json:"min_words_with_alphabets"`
}

func (f *WordsWithoutAlphabets) Name() string { return "words_without_alphabets" }
func (f *WordsWithoutAlphabets) Score(d *Doc) float64 {
	words := d.Words()
	n := 0
	for _, w := range words {
		if hasAlphabetic(w) {
			n++
		}
	}
	return ratio(n, len(words), 0)
}
func (f *WordsWithoutAlphabets) Keep(s float64) bool { return s >= f.MinRatio }

func hasAlphabetic(w string) bool {
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < utf8.RuneSelf {
			if c|0x20 >= 'a' && c|0x20 <= 'z' {
				return true
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(w[i:])
		if IsAlphabetic(r) {
			return true
		}
		i += n - 1
	}
	return false
}

// ---- lines and paragraphs -----------------------------------------------------

// bulletMarks is NeMo's bullet_list.
var bulletMarks = []string{"•", "‣", "⁃", "⁌", "⁍", "∙", "○", "●", "◘", "◦", "⦾", "⦿"}

// Bullets scores the fraction of lines (Doc.Lines) that start with a bullet
// (• ‣ ⁃ ⁌ ⁍ ∙ ○ ● ◘ ◦ ⦾ ⦿) after stripping; no lines scores 1. Kept when at
// most MaxRatio (default 0.9).
type Bullets struct {
	MaxRatio float64 `json:"max_bullet_lines_ratio"`
}

func (f *Bullets) Name() string { return "bullet_ratio" }
func (f *Bullets) Score(d *Doc) float64 {
	lines := d.Lines()
	n := 0
	for _, l := range lines {
		l = StripLeft(l)
		if len(l) > 0 && l[0] >= 0xe2 { // every bullet's UTF-8 starts with 0xe2
			for _, b := range bulletMarks {
				if strings.HasPrefix(l, b) {
					n++
					break
				}
			}
		}
	}
	return ratio(n, len(lines), 1)
}
func (f *Bullets) Keep(s float64) bool { return s <= f.MaxRatio }

// endMarks is NeMo's end_marks.
var endMarks = [256]bool{'.': true, '?': true, '!': true, '"': true, '\'': true}

// Punctuation scores the fraction of lines that, stripped, do not end with
// . ? ! " or '; no lines scores 1. Kept when at most MaxRatio (default 0.85).
type Punctuation struct {
	MaxRatio float64 `json:"max_num_sentences_without_endmark_ratio"`
}

func (f *Punctuation) Name() string { return "punctuation" }
func (f *Punctuation) Score(d *Doc) float64 {
	lines := d.Lines()
	n := 0
	for _, l := range lines {
		l = StripRight(l)
		if !endMarks[l[len(l)-1]] { // lines are not blank
			n++
		}
	}
	return ratio(n, len(lines), 1)
}
func (f *Punctuation) Keep(s float64) bool { return s <= f.MaxRatio }

// Ellipsis scores the fraction of lines that, stripped and lower-cased, end
// with one of ... [...] … (...) […] -» "read more.." "read more"; no lines
// scores 1. Kept when at most MaxRatio (default 0.3).
type Ellipsis struct {
	MaxRatio float64 `json:"max_num_lines_ending_with_ellipsis_ratio"`
}

func (f *Ellipsis) Name() string { return "ellipsis" }
func (f *Ellipsis) Score(d *Doc) float64 {
	lines := d.Lines()
	n := 0
	for _, l := range lines {
		if endsWithEllipsisMark(StripRight(l)) {
			n++
		}
	}
	return ratio(n, len(lines), 1)
}
func (f *Ellipsis) Keep(s float64) bool { return s <= f.MaxRatio }

func endsWithEllipsisMark(l string) bool {
	for _, m := range ellipsisMarks[:6] {
		if strings.HasSuffix(l, m) {
			return true
		}
	}
	// "read more.." and "read more": only ASCII letters can lower-case into
	// these, so an ASCII case-insensitive comparison is exact.
	return hasSuffixFold(l, "read more..") || hasSuffixFold(l, "read more")
}

// policySubstrings is NeMo's policy_substrings (lower case).
var policySubstrings = []string{
	"terms of use", "privacy policy", "cookie policy", "uses cookies", "privacy overview", "use of cookies", "use cookies",
	"privacy & cookies policy", "privacy and cookies policy",
	"this website uses cookies to improve your experience while you navigate through the website. out of these cookies, the cookies that are categorized as necessary are stored on your browser as they are essential for the working of basic functionalities of the website. we also use third-party cookies that help us analyze and understand how you use this website. these cookies will be stored in your browser only with your consent. you also have the option to opt-out of these cookies. but opting out of some of these cookies may have an effect on your browsing experience.",
	"necessary cookies are absolutely essential for the website to function properly. this category only includes cookies that ensures basic functionalities and security features of the website. these cookies do not store any personal information.",
	"any cookies that may not be particularly necessary for the website to function and is used specifically to collect user personal data via analytics, ads, other embedded contents are termed as non-necessary cookies. it is mandatory to procure user consent prior to running these cookies on your website.",
	"this site uses cookies, including for analytics, personalization, and advertising purposes. for more information or to change your cookie settings, click here.",
	"if you continue to browse this site without changing your cookie settings, you agree to this use. acceptread more",
}

// BoilerplateString scores the fraction of paragraphs (Doc.Paragraphs)
// that, lower-cased, contain one of NeMo's policy substrings ("terms of
// use", "privacy policy", cookie notices…); a paragraph containing "lorem
// ipsum" makes the score 1. Kept when at most MaxRatio (default 0.4).
// RemoveIfAtTopOrBottom is accepted for compatibility with NeMo's
// parameters; NeMo does not use it, and neither does this filter.
type BoilerplateString struct {
	RemoveIfAtTopOrBottom bool    `json:"remove_if_at_top_or_bottom"`
	MaxRatio              float64 `json:"max_boilerplate_string_ratio"`
}

func (f *BoilerplateString) Name() string { return "boilerplate_string_ratio" }
func (f *BoilerplateString) Score(d *Doc) float64 {
	paras := d.Paragraphs()
	n := 0
	for _, p := range paras {
		d.buf = AppendLower(d.buf[:0], p)
		low := d.buf
		if bytes.Contains(low, []byte("lorem ipsum")) {
			return 1
		}
		if !bytes.Contains(low, []byte("cookie")) && !bytes.Contains(low, []byte("privacy")) && !bytes.Contains(low, []byte("terms of use")) {
			continue // every policy substring contains one of these
		}
		for _, sub := range policySubstrings {
			if bytes.Contains(low, []byte(sub)) {
				n++
				break
			}
		}
	}
	return ratio(n, len(paras), 1)
}
func (f *BoilerplateString) Keep(s float64) bool { return s <= f.MaxRatio }

// RepeatedLines scores the number of distinct lines over the number of
// lines (Doc.Lines); no lines scores 0 (NeMo divides by zero). Kept when at
// least MinRatio (default 0.7, NeMo's max_repeated_line_fraction).
type RepeatedLines struct {
	MinRatio float64 `json:"max_repeated_line_fraction"`
}

func (f *RepeatedLines) Name() string { return "repeated_lines" }
func (f *RepeatedLines) Score(d *Doc) float64 {
	lines := d.Lines()
	u, _, _ := d.uniqueStats(lines)
	return ratio(u, len(lines), 0)
}
func (f *RepeatedLines) Keep(s float64) bool { return s >= f.MinRatio }

// RepeatedParagraphs scores the number of distinct paragraphs over the
// number of paragraphs (Doc.Paragraphs); a blank text scores 0. Kept when at
// least MinRatio (default 0.7).
type RepeatedParagraphs struct {
	MinRatio float64 `json:"max_repeated_paragraphs_ratio"`
}

func (f *RepeatedParagraphs) Name() string { return "repeated_paragraphs" }
func (f *RepeatedParagraphs) Score(d *Doc) float64 {
	if IsBlank(d.Text()) {
		return 0
	}
	paras := d.Paragraphs()
	u, _, _ := d.uniqueStats(paras)
	return ratio(u, len(paras), 0)
}
func (f *RepeatedParagraphs) Keep(s float64) bool { return s >= f.MinRatio }

// RepeatedLinesByChar scores the characters of the distinct lines over the
// characters of all lines; no line characters scores 0 (NeMo divides by
// zero). Kept when at least MinRatio (default 0.8).
type RepeatedLinesByChar struct {
	MinRatio float64 `json:"max_repeated_lines_char_ratio"`
}

func (f *RepeatedLinesByChar) Name() string { return "repeated_lines_char" }
func (f *RepeatedLinesByChar) Score(d *Doc) float64 {
	_, uc, ac := d.uniqueStats(d.Lines())
	return ratio(uc, ac, 0)
}
func (f *RepeatedLinesByChar) Keep(s float64) bool { return s >= f.MinRatio }

// RepeatedParagraphsByChar scores the characters of the distinct paragraphs
// over the characters of all paragraphs; none scores 0 (NeMo divides by
// zero). Kept when at least MinRatio (default 0.8).
type RepeatedParagraphsByChar struct {
	MinRatio float64 `json:"max_repeated_paragraphs_char_ratio"`
}

func (f *RepeatedParagraphsByChar) Name() string { return "repeated_paragraphs_char" }
func (f *RepeatedParagraphsByChar) Score(d *Doc) float64 {
	_, uc, ac := d.uniqueStats(d.Paragraphs())
	return ratio(uc, ac, 0)
}
func (f *RepeatedParagraphsByChar) Keep(s float64) bool { return s >= f.MinRatio }

// ---- n-grams --------------------------------------------------------------------

// RepeatingTopNGrams scores the share of the text's characters taken by the
// most frequent word n-gram: its words joined by single spaces, counted as
// non-overlapping occurrences in the text (Python's str.replace). On ties
// the n-gram that occurs first wins (NeMo picks one in set order, which
// varies between runs). Fewer than N words scores 1. Kept when at most
// MaxRatio (default 0.2 for N = 2).
type RepeatingTopNGrams struct {
	N        int     `json:"n"`
	MaxRatio float64 `json:"max_repeating_ngram_ratio"`
}

func (f *RepeatingTopNGrams) Name() string { return fmt.Sprintf("repeating_top_%dgrams", f.N) }
func (f *RepeatingTopNGrams) Score(d *Doc) float64 {
	words := d.Words()
	if len(words) < f.N {
		return 1
	}
	pos, _ := d.topNGram(f.N)
	d.buf = d.buf[:0]
	for i, w := range words[pos : pos+f.N] {
		if i > 0 {
			d.buf = append(d.buf, ' ')
		}
		d.buf = append(d.buf, w...)
	}
	gram := string(d.buf)
	occ := strings.Count(d.Text(), gram)
	return ratio(occ*Len(gram), d.Chars(), 1)
}
func (f *RepeatingTopNGrams) Keep(s float64) bool { return s <= f.MaxRatio }

// RepeatingDuplicateNGrams scores the share of the text's characters in
// word n-grams that occurred before, counting each word once when
// duplicated n-grams overlap, plus one space between counted words (NeMo's
// definition). Fewer than N words scores 1. Kept when at most MaxRatio
// (default 0.2 for N = 2).
type RepeatingDuplicateNGrams struct {
	N        int     `json:"n"`
	MaxRatio float64 `json:"max_repeating_duplicate_ngram_ratio"`
}

func (f *RepeatingDuplicateNGrams) Name() string { return fmt.Sprintf("repeating_dup_%dgram", f.N) }
func (f *RepeatingDuplicateNGrams) Score(d *Doc) float64 {
	words := d.Words()
	n := f.N
	if len(words) < n {
		return 1
	}
	if d.knownUnique(n) {
		return 0
	}
	ids, lens := d.wordIDs(), d.wordLens()
	t := &d.table
	t.reset(ids, d.prefixHashes(), n)
	dup, overlap, repeats := 0, 0, false
	for p := 0; p+n <= len(ids); p++ {
		s := t.slot(p)
		s.count++
		if s.count > 1 {
			repeats = true
			for _, l := range lens[p+overlap : p+n] {
				dup += int(l)
			}
			dup += min(n-overlap, n-1)
			overlap = n
		}
		overlap = max(overlap-1, 0)
	}
	if !repeats {
		d.markUnique(n)
	}
	return ratio(dup, d.Chars(), 1)
}
func (f *RepeatingDuplicateNGrams) Keep(s float64) bool { return s <= f.MaxRatio }

// ---- substring ------------------------------------------------------------------

// Substring scores 1 when the text has Substring at Position ("prefix",
// "suffix" or "any"), else 0. Kept when the score is 1.
type Substring struct {
	Substring string `json:"substring"`
	Position  string `json:"position"`
}

func (f *Substring) Name() string { return "substring" }
func (f *Substring) Score(d *Doc) float64 {
	var ok bool
	switch f.Position {
	case "prefix":
		ok = strings.HasPrefix(d.Text(), f.Substring)
	case "suffix":
		ok = strings.HasSuffix(d.Text(), f.Substring)
	default:
		ok = strings.Contains(d.Text(), f.Substring)
	}
	if ok {
		return 1
	}
	return 0
}
func (f *Substring) Keep(s float64) bool { return s == 1 }
