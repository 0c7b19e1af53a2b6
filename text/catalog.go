package text

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Rule is one step of a quality check: a Filter or a Rewriter.
type Rule interface {
	Name() string
}

// Param documents one parameter of a filter type.
type Param struct {
	Name    string
	Default string
	Doc     string
}

// Spec describes a filter type that configs can name.
type Spec struct {
	// Type is the name configs use, such as "word_count".
	Type string
	// NeMo is the NeMo Curator class the type reproduces, if any.
	NeMo string
	// Doc is a one-line description.
	Doc string
	// Params lists the parameters and their defaults.
	Params []Param
	// new returns the rule with its defaults.
	new func() Rule
}

type validator interface{ validate() error }

func (f *RepeatingTopNGrams) validate() error       { return checkN(f.N) }
func (f *RepeatingDuplicateNGrams) validate() error { return checkN(f.N) }
func (f *GopherTopNGram) validate() error           { return checkN(f.N) }
func (f *GopherDupNGram) validate() error           { return checkN(f.N) }

func checkN(n int) error {
	if n < 1 {
		return fmt.Errorf("n = %d: want at least 1", n)
	}
	return nil
}

func (f *Substring) validate() error {
	if f.Substring == "" {
		return errors.New("substring: must not be empty")
	}
	switch f.Position {
	case "prefix", "suffix", "any":
		return nil
	}
	return fmt.Errorf("position %q: want prefix, suffix or any", f.Position)
}

func (f *GopherSymbolRatio) validate() error {
	if f.Symbol != "#" && f.Symbol != "..." {
		return fmt.Errorf("symbol %q: want \"#\" or \"...\"", f.Symbol)
	}
	return nil
}

func (f *GopherRepetition) validate() error {
	if f.Unit != "line" && f.Unit != "paragraph" {
		return fmt.Errorf("unit %q: want line or paragraph", f.Unit)
	}
	return nil
}

func (f *C4Lines) validate() error {
	if f.MinWordsPerLine < 0 || f.MinSentences < 0 {
		return errors.New("min_words_per_line and min_num_sentences must not be negative")
	}
	return nil
}

func p(name, def, doc string) Param { return Param{Name: name, Default: def, Doc: doc} }

var specs = []Spec{
	{Type: "non_alpha_numeric", NeMo: "NonAlphaNumericFilter", Doc: "share of characters other than ASCII letters, digits, newline and ?!,.",
		Params: []Param{p("max_non_alpha_numeric_to_text_ratio", "0.25", "keep when the score is at most this")},
		new:    func() Rule { return &NonAlphaNumeric{MaxRatio: 0.25} }},
	{Type: "symbols_to_words", NeMo: "SymbolsToWordsFilter", Doc: "share of words that are ellipses or mostly runs of #",
		Params: []Param{p("max_symbol_to_word_ratio", "0.1", "keep when the score is at most this")},
		new:    func() Rule { return &SymbolsToWords{MaxRatio: 0.1} }},
	{Type: "numbers", NeMo: "NumbersFilter", Doc: "share of characters that are digits 0-9",
		Params: []Param{p("max_number_to_text_ratio", "0.15", "keep when the score is at most this")},
		new:    func() Rule { return &Numbers{MaxRatio: 0.15} }},
	{Type: "urls", NeMo: "UrlsFilter", Doc: "share of characters inside http(s) URLs",
		Params: []Param{p("max_url_to_text_ratio", "0.2", "keep when the score is at most this")},
		new:    func() Rule { return &URLRatio{MaxRatio: 0.2} }},
	{Type: "bullets", NeMo: "BulletsFilter", Doc: "share of lines starting with a bullet character",
		Params: []Param{p("max_bullet_lines_ratio", "0.9", "keep when the score is at most this")},
		new:    func() Rule { return &Bullets{MaxRatio: 0.9} }},
	{Type: "white_space", NeMo: "WhiteSpaceFilter", Doc: "share of characters that are tab, newline, carriage return, backspace or space",
		Params: []Param{p("max_white_space_ratio", "0.25", "keep when the score is at most this")},
		new:    func() Rule { return &WhiteSpace{MaxRatio: 0.25} }},
	{Type: "parentheses", NeMo: "ParenthesesFilter", Doc: "share of characters that are brackets {}[]()⟨⟩",
		Params: []Param{p("max_parentheses_ratio", "0.1", "keep when the score is at most this")},
		new:    func() Rule { return &Parentheses{MaxRatio: 0.1} }},
	{Type: "long_word", NeMo: "LongWordFilter", Doc: "length of the longest word",
		Params: []Param{p("max_word_length", "1000", "keep when the score is at most this")},
		new:    func() Rule { return &LongWord{MaxLength: 1000} }},
	{Type: "word_count", NeMo: "WordCountFilter", Doc: "number of words",
		Params: []Param{p("min_words", "50", "keep when the score is at least this"), p("max_words", "100000", "and at most this")},
		new:    func() Rule { return &WordCount{MinWords: 50, MaxWords: 100000} }},
	{Type: "boilerplate_string", NeMo: "BoilerPlateStringFilter", Doc: "share of paragraphs with policy or cookie boilerplate (1 with lorem ipsum)",
		Params: []Param{p("max_boilerplate_string_ratio", "0.4", "keep when the score is at most this"), p("remove_if_at_top_or_bottom", "true", "accepted and ignored, as in NeMo")},
		new:    func() Rule { return &BoilerplateString{MaxRatio: 0.4, RemoveIfAtTopOrBottom: true} }},
	{Type: "mean_word_length", NeMo: "MeanWordLengthFilter", Doc: "mean word length in characters",
		Params: []Param{p("min_mean_word_length", "3", "keep when the score is at least this"), p("max_mean_word_length", "10", "and at most this")},
		new:    func() Rule { return &MeanWordLength{Min: 3, Max: 10} }},
	{Type: "punctuation", NeMo: "PunctuationFilter", Doc: "share of lines not ending with . ? ! \" '",
		Params: []Param{p("max_num_sentences_without_endmark_ratio", "0.85", "keep when the score is at most this")},
		new:    func() Rule { return &Punctuation{MaxRatio: 0.85} }},
	{Type: "ellipsis", NeMo: "EllipsisFilter", Doc: "share of lines ending with an ellipsis or \"read more\"",
		Params: []Param{p("max_num_lines_ending_with_ellipsis_ratio", "0.3", "keep when the score is at most this")},
		new:    func() Rule { return &Ellipsis{MaxRatio: 0.3} }},
	{Type: "common_english_words", NeMo: "CommonEnglishWordsFilter", Doc: "number of the words the, be, to, of, and, that, have, with",
		Params: []Param{p("min_num_common_words", "2", "keep when the score is at least this"), p("stop_at_false", "true", "stop counting at min_num_common_words")},
		new:    func() Rule { return &CommonEnglishWords{MinCount: 2, StopAtFalse: true} }},
	{Type: "words_without_alphabets", NeMo: "WordsWithoutAlphabetsFilter", Doc: "share of words with an alphabetic character",
		Params: []Param{p("min_words_with_alphabets", "0.8", "keep when the score is at least this")},
		new:    func() Rule { return &WordsWithoutAlphabets{MinRatio: 0.8} }},
	{Type: "pornographic_urls", NeMo: "PornographicUrlsFilter", Doc: "1 when a URL contains \"porn\", else 0",
		new: func() Rule { return &PornographicURLs{} }},
	{Type: "substring", NeMo: "SubstringFilter", Doc: "1 when the text has the substring at the position, else 0",
		Params: []Param{p("substring", "(required)", "the substring"), p("position", "(required)", "prefix, suffix or any")},
		new:    func() Rule { return &Substring{} }},
	{Type: "repeated_lines", NeMo: "RepeatedLinesFilter", Doc: "distinct lines over lines",
		Params: []Param{p("max_repeated_line_fraction", "0.7", "keep when the score is at least this")},
		new:    func() Rule { return &RepeatedLines{MinRatio: 0.7} }},
	{Type: "repeated_paragraphs", NeMo: "RepeatedParagraphsFilter", Doc: "distinct paragraphs over paragraphs",
		Params: []Param{p("max_repeated_paragraphs_ratio", "0.7", "keep when the score is at least this")},
		new:    func() Rule { return &RepeatedParagraphs{MinRatio: 0.7} }},
	{Type: "repeated_lines_by_char", NeMo: "RepeatedLinesByCharFilter", Doc: "characters of distinct lines over characters of lines",
		Params: []Param{p("max_repeated_lines_char_ratio", "0.8", "keep when the score is at least this")},
		new:    func() Rule { return &RepeatedLinesByChar{MinRatio: 0.8} }},
	{Type: "repeated_paragraphs_by_char", NeMo: "RepeatedParagraphsByCharFilter", Doc: "characters of distinct paragraphs over characters of paragraphs",
		Params: []Param{p("max_repeated_paragraphs_char_ratio", "0.8", "keep when the score is at least this")},
		new:    func() Rule { return &RepeatedParagraphsByChar{MinRatio: 0.8} }},
	{Type: "repeating_top_ngrams", NeMo: "RepeatingTopNGramsFilter", Doc: "share of characters in the most frequent word n-gram",
		Params: []Param{p("n", "2", "n-gram size"), p("max_repeating_ngram_ratio", "0.2", "keep when the score is at most this")},
		new:    func() Rule { return &RepeatingTopNGrams{N: 2, MaxRatio: 0.2} }},
	{Type: "repeating_duplicate_ngrams", NeMo: "RepeatingDuplicateNGramsFilter", Doc: "share of characters in repeated word n-grams",
		Params: []Param{p("n", "2", "n-gram size"), p("max_repeating_duplicate_ngram_ratio", "0.2", "keep when the score is at most this")},
		new:    func() Rule { return &RepeatingDuplicateNGrams{N: 2, MaxRatio: 0.2} }},

	{Type: "gopher_word_count", Doc: "Gopher: number of words not made only of punctuation",
		Params: []Param{p("min_doc_words", "50", "keep when at least this"), p("max_doc_words", "100000", "and at most this")},
		new:    func() Rule { return &GopherWordCount{Min: 50, Max: 100000} }},
	{Type: "gopher_mean_word_length", Doc: "Gopher: mean word length, edge punctuation excluded",
		Params: []Param{p("min_avg_word_length", "3", "keep when at least this"), p("max_avg_word_length", "10", "and at most this")},
		new:    func() Rule { return &GopherMeanWordLength{Min: 3, Max: 10} }},
	{Type: "gopher_symbol_ratio", Doc: "Gopher: occurrences of # (or of ... and …) per word",
		Params: []Param{p("symbol", "#", "\"#\" or \"...\" (which also counts …)"), p("max_symbol_word_ratio", "0.1", "keep when at most this")},
		new:    func() Rule { return &GopherSymbolRatio{Symbol: "#", Max: 0.1} }},
	{Type: "gopher_bullet_lines", Doc: "Gopher: share of lines starting with • or -",
		Params: []Param{p("max_bullet_lines_ratio", "0.9", "keep when at most this")},
		new:    func() Rule { return &GopherBulletLines{Max: 0.9} }},
	{Type: "gopher_ellipsis_lines", Doc: "Gopher: share of lines ending with ... or …",
		Params: []Param{p("max_ellipsis_lines_ratio", "0.3", "keep when at most this")},
		new:    func() Rule { return &GopherEllipsisLines{Max: 0.3} }},
	{Type: "gopher_alpha_words", Doc: "Gopher: share of words containing a letter",
		Params: []Param{p("max_non_alpha_words_ratio", "0.8", "keep when at least this (datatrove's name)")},
		new:    func() Rule { return &GopherAlphaWords{Min: 0.8} }},
	{Type: "gopher_stop_words", Doc: "Gopher: number of the words the, be, to, of, and, that, have, with",
		Params: []Param{p("min_stop_words", "2", "keep when at least this")},
		new:    func() Rule { return &GopherStopWords{Min: 2} }},
	{Type: "gopher_repetition", Doc: "Gopher: duplicated lines or paragraphs, by count or by characters",
		Params: []Param{p("unit", "line", "line or paragraph"), p("by_char", "false", "score characters instead of pieces"), p("max_fraction", "0.3", "keep when at most this")},
		new:    func() Rule { return &GopherRepetition{Unit: "line", Max: 0.3} }},
	{Type: "gopher_top_ngram", Doc: "Gopher: characters of the most frequent n-gram times its count, over the text",
		Params: []Param{p("n", "2", "n-gram size"), p("max_fraction", "0.2", "keep when at most this")},
		new:    func() Rule { return &GopherTopNGram{N: 2, Max: 0.2} }},
	{Type: "gopher_dup_ngram", Doc: "Gopher: characters in duplicated n-grams over the text",
		Params: []Param{p("n", "5", "n-gram size"), p("max_fraction", "0.15", "keep when at most this")},
		new:    func() Rule { return &GopherDupNGram{N: 5, Max: 0.15} }},
	{Type: "c4_lines", Doc: "C4: removes lines (no end mark, few words, javascript, policy) and drops pages (lorem ipsum, {, few sentences); rewrites the text",
		Params: []Param{p("min_words_per_line", "5", "remove lines with fewer words"), p("min_num_sentences", "3", "drop pages with fewer sentences"),
			p("max_word_length", "1000", "remove lines with a longer word (-1: off)"), p("end_marks", `[".", "?", "!", "\""]`, "line endings that count as terminal punctuation"),
			p("filter_no_terminal_punct", "true", "remove lines without an end mark"), p("remove_citations", "true", "remove [1], [edit], [citation needed]"),
			p("filter_lorem_ipsum", "true", "drop pages with lorem ipsum"), p("filter_javascript", "true", "remove lines mentioning javascript"),
			p("filter_curly_bracket", "true", "drop pages with {"), p("filter_policy", "true", "remove lines with policy phrases")},
		new: func() Rule { return newC4Paper() }},
	{Type: "fineweb_line_punct", Doc: "FineWeb: share of lines ending with . ' \" ! ?",
		Params: []Param{p("line_punct_thr", "0.12", "keep when above this"), p("line_punct_exclude_zero", "false", "also keep when the score is 0")},
		new:    func() Rule { return &FineWebLinePunct{Min: 0.12} }},
	{Type: "fineweb_short_lines", Doc: "FineWeb: share of lines of at most short_line_length characters",
		Params: []Param{p("short_line_length", "30", "a short line's maximum length"), p("short_line_thr", "0.67", "keep when below this")},
		new:    func() Rule { return &FineWebShortLines{Length: 30, Max: 0.67} }},
	{Type: "fineweb_char_dup", Doc: "FineWeb: characters of duplicated lines over the text's characters",
		Params: []Param{p("char_duplicates_ratio", "0.01", "keep when below this")},
		new:    func() Rule { return &FineWebCharDup{Max: 0.01} }},
	{Type: "fineweb_list_ratio", Doc: "FineWeb: newlines per word",
		Params: []Param{p("new_line_ratio", "0.3", "keep when at most this")},
		new:    func() Rule { return &FineWebListRatio{Max: 0.3} }},
}

func newC4Paper() *C4Lines {
	return &C4Lines{MinWordsPerLine: 5, MinSentences: 3, MaxWordLength: 1000, EndMarks: []string{".", "?", "!", `"`},
		RequireEndMark: true, RemoveCitations: true, LoremIpsum: true, Javascript: true, CurlyBracket: true, Policy: true}
}

// Specs lists the filter types, sorted by type name.
func Specs() []Spec {
	out := append([]Spec(nil), specs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// NewRule builds the rule of filter type typ from its JSON parameters
// (which may be empty: defaults apply). Unknown parameters are errors.
func NewRule(typ string, params []byte) (Rule, error) {
	for _, s := range specs {
		if s.Type != typ {
			continue
		}
		r := s.new()
		if t := bytes.TrimSpace(params); len(t) > 0 && string(t) != "null" {
			dec := json.NewDecoder(bytes.NewReader(t))
			dec.DisallowUnknownFields()
			if err := dec.Decode(r); err != nil {
				return nil, fmt.Errorf("filter %s: params: %w", typ, err)
			}
		}
		if v, ok := r.(validator); ok {
			if err := v.validate(); err != nil {
				return nil, fmt.Errorf("filter %s: %w", typ, err)
			}
		}
		return r, nil
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Type
	}
	sort.Strings(names)
	return nil, fmt.Errorf("unknown filter type %q (known: %s)", typ, strings.Join(names, ", "))
}
