package text

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// A thresholdCase is one filter on one hand-made text: the score worked
// out by hand (in the comment beside it) and whether the filter keeps it.
type thresholdCase struct {
	name  string
	f     Filter
	text  string
	score float64
	keep  bool
}

func runThresholdCases(t *testing.T, cases []thresholdCase) {
	t.Helper()
	d := NewDoc("")
	for _, c := range cases {
		d.Reset(c.text)
		got := c.f.Score(d)
		if math.Abs(got-c.score) > 1e-12 {
			t.Errorf("%s (%s): score %v, want %v", c.name, c.f.Name(), got, c.score)
		}
		if k := c.f.Keep(got); k != c.keep {
			t.Errorf("%s (%s): keep(%v) = %v, want %v", c.name, c.f.Name(), got, k, c.keep)
		}
	}
}

var rep = strings.Repeat

// nLines joins k copies of a and m copies of b as lines.
func nLines(a string, k int, b string, m int) string {
	var ls []string
	for range k {
		ls = append(ls, a)
	}
	for range m {
		ls = append(ls, b)
	}
	return strings.Join(ls, "\n")
}

// distinctLines returns k distinct lines of width characters then m
// repeats of the first one.
func distinctLines(k, m, width int, sep string) string {
	var ls []string
	for i := range k {
		ls = append(ls, fmt.Sprintf("%0*d", width, i))
	}
	for range m {
		ls = append(ls, ls[0])
	}
	return strings.Join(ls, sep)
}

func TestNeMoFilterThresholds(t *testing.T) {
	url20 := "http://abcdefghij.de" // 7 + 10 + 3 = 20 characters
	runThresholdCases(t, []thresholdCase{
		// non-alphanumeric, max 0.25: '#' is not in [a-zA-Z0-9\n?!,.].
		{"at", &NonAlphaNumeric{0.25}, rep("a", 75) + rep("#", 25), 0.25, true},     // 25/100
		{"below", &NonAlphaNumeric{0.25}, rep("a", 76) + rep("#", 24), 0.24, true},  // 24/100
		{"above", &NonAlphaNumeric{0.25}, rep("a", 74) + rep("#", 26), 0.26, false}, // 26/100
		{"counted", &NonAlphaNumeric{0.25}, "a\n?!,.é ", 2.0 / 8, true},             // é and space: 2 of 8 code points
		{"empty", &NonAlphaNumeric{0.25}, "", 1, false},                             // NeMo: empty scores 1
		// numbers, max 0.15.
		{"at", &Numbers{0.15}, rep("a", 85) + rep("7", 15), 0.15, true},    // 15/100
		{"below", &Numbers{0.15}, rep("a", 86) + rep("7", 14), 0.14, true}, // 14/100
		{"above", &Numbers{0.15}, rep("a", 84) + rep("7", 16), 0.16, false},
		{"ascii only", &Numbers{0.15}, "٣٤5a", 0.25, false}, // Arabic-Indic digits are not [[:digit:]]: 1/4
		// urls, max 0.2.
		{"at", &URLRatio{0.2}, url20 + " " + rep("x", 79), 0.2, true},           // 20/100
		{"below", &URLRatio{0.2}, url20 + " " + rep("x", 80), 20.0 / 101, true}, // 0.198
		{"above", &URLRatio{0.2}, url20 + " " + rep("x", 78), 20.0 / 99, false}, // 0.202
		{"stops at /", &URLRatio{0.2}, "https://a.org/path", 13.0 / 18, false},  // "https://a.org" is 13 of 18
		// bullets, max 0.9 of 20 lines.
		{"at", &Bullets{0.9}, nLines("• item", 18, "text", 2), 0.9, true},     // 18/20
		{"below", &Bullets{0.9}, nLines("• item", 17, "text", 3), 0.85, true}, // 17/20
		{"above", &Bullets{0.9}, nLines("  ◦ item", 19, "text", 1), 0.95, false},
		// white space, max 0.25: tab, newline, CR, backspace and space count.
		{"at", &WhiteSpace{0.25}, rep("a", 75) + rep(" \t\n\r\b", 5), 0.25, true}, // 25/100
		{"below", &WhiteSpace{0.25}, rep("a", 76) + rep(" ", 24), 0.24, true},
		{"above", &WhiteSpace{0.25}, rep("a", 74) + rep(" ", 26), 0.26, false},
		{"nbsp not counted", &WhiteSpace{0.25}, "a\u00a0", 0, true},
		// parentheses, max 0.1.
		{"at", &Parentheses{0.1}, rep("a", 90) + "()[]{}⟨⟩()", 0.1, true}, // 10/100 code points
		{"below", &Parentheses{0.1}, rep("a", 91) + "()[]{}⟨⟩(", 0.09, true},
		{"above", &Parentheses{0.1}, rep("a", 89) + "()[]{}⟨⟩()(", 0.11, false},
		// long word, max 1000 code points.
		{"at", &LongWord{1000}, "a " + rep("é", 1000), 1000, true},
		{"below", &LongWord{1000}, rep("é", 999), 999, true},
		{"above", &LongWord{1000}, rep("é", 1001) + " b", 1001, false},
		{"no words", &LongWord{1000}, " \n ", 1001, false}, // max_word_length + 1
		// word count, 50 to 100000.
		{"at min", &WordCount{50, 100000}, rep("w ", 50), 50, true},
		{"below min", &WordCount{50, 100000}, rep("w ", 49), 49, false},
		{"above min", &WordCount{50, 100000}, rep("w\t", 51), 51, true},
		{"at max", &WordCount{50, 100000}, rep("w ", 100000), 100000, true},
		{"above max", &WordCount{50, 100000}, rep("w ", 100001), 100001, false},
		{"below max", &WordCount{50, 100000}, rep("w ", 99999), 99999, true},
		// mean word length, 3 to 10.
		{"at min", &MeanWordLength{3, 10}, "ab abcd", 3, true},       // (2+4)/2
		{"below min", &MeanWordLength{3, 10}, "ab abc", 2.5, false},  // (2+3)/2
		{"above min", &MeanWordLength{3, 10}, "abc abcd", 3.5, true}, // (3+4)/2
		{"at max", &MeanWordLength{3, 10}, rep("a", 10), 10, true},
		{"above max", &MeanWordLength{3, 10}, rep("a", 10) + " " + rep("a", 11), 10.5, false},
		{"below max", &MeanWordLength{3, 10}, rep("a", 9) + " " + rep("a", 10), 9.5, true},
		{"no words", &MeanWordLength{3, 10}, "", 0, false},
		// punctuation, max 0.85 of 20 lines without an end mark.
		{"at", &Punctuation{0.85}, nLines("no mark", 17, "done.", 3), 0.85, true},
		{"below", &Punctuation{0.85}, nLines("no mark", 16, "'quoted'", 4), 0.8, true},
		{"above", &Punctuation{0.85}, nLines("no mark", 18, "why? ", 2), 0.9, false}, // trailing space stripped
		// ellipsis, max 0.3 of 10 lines.
		{"at", &Ellipsis{0.3}, nLines("cut...", 2, "text", 7) + "\nRead More", 0.3, true}, // "read more" after lower-casing
		{"below", &Ellipsis{0.3}, nLines("cut…", 2, "text", 8), 0.2, true},
		{"above", &Ellipsis{0.3}, nLines("cut [...]", 4, "text", 6), 0.4, false},
		// common English words, at least 2 (counting stops at 2).
		{"at", &CommonEnglishWords{2, true}, "the cat and the dog", 2, true},
		{"below", &CommonEnglishWords{2, true}, "The cat AND a dog with", 1, false}, // case-sensitive: only "with"
		{"above, no stop", &CommonEnglishWords{2, false}, "to be or not to be", 4, true},
		// words with an alphabetic character, at least 0.8 of 10 words.
		{"at", &WordsWithoutAlphabets{0.8}, rep("word ", 8) + "12 34", 0.8, true},
		{"below", &WordsWithoutAlphabets{0.8}, rep("word ", 7) + "12 34 ...", 0.7, false},
		{"above", &WordsWithoutAlphabets{0.8}, rep("wörd ", 8) + "Ⅻ 34", 0.9, true}, // Ⅻ (Nl) is alphabetic
		// boilerplate, max 0.4 of 10 paragraphs.
		{"at", &BoilerplateString{MaxRatio: 0.4}, nLines("See our Privacy Policy.\n", 4, "Body text.\n", 6), 0.4, true},
		{"below", &BoilerplateString{MaxRatio: 0.4}, nLines("terms of use\n", 3, "Body text.\n", 7), 0.3, true},
		{"above", &BoilerplateString{MaxRatio: 0.4}, nLines("This site uses cookies.\n", 5, "Body text.\n", 5), 0.5, false},
		{"lorem ipsum", &BoilerplateString{MaxRatio: 0.4}, "text\n\nLorem Ipsum dolor", 1, false},
		// repeated lines: distinct lines / lines, at least 0.7 of 10.
		{"at", &RepeatedLines{0.7}, distinctLines(7, 3, 4, "\n"), 0.7, true},
		{"below", &RepeatedLines{0.7}, distinctLines(6, 4, 4, "\n"), 0.6, false},
		{"above", &RepeatedLines{0.7}, distinctLines(8, 2, 4, "\n"), 0.8, true},
		// repeated paragraphs, at least 0.7 of 10.
		{"at", &RepeatedParagraphs{0.7}, distinctLines(7, 3, 4, "\n\n"), 0.7, true},
		{"below", &RepeatedParagraphs{0.7}, distinctLines(6, 4, 4, "\n\n"), 0.6, false},
		{"above", &RepeatedParagraphs{0.7}, distinctLines(8, 2, 4, "\n\n"), 0.8, true},
		// by characters: 10 lines of 10 characters, distinct characters / all, at least 0.8.
		{"at", &RepeatedLinesByChar{0.8}, distinctLines(8, 2, 10, "\n"), 0.8, true}, // 80/100
		{"below", &RepeatedLinesByChar{0.8}, distinctLines(7, 3, 10, "\n"), 0.7, false},
		{"above", &RepeatedLinesByChar{0.8}, distinctLines(9, 1, 10, "\n"), 0.9, true},
		{"at", &RepeatedParagraphsByChar{0.8}, distinctLines(8, 2, 10, "\n\n"), 0.8, true},
		{"below", &RepeatedParagraphsByChar{0.8}, distinctLines(7, 3, 10, "\n\n"), 0.7, false},
		{"above", &RepeatedParagraphsByChar{0.8}, distinctLines(9, 1, 10, "\n\n"), 0.9, true},
		// top 2-gram, max 0.2: "ab cd" (5 characters) occurs twice, every
		// other bigram once; the texts are 50, 51 and 49 characters long.
		{"at", &RepeatingTopNGrams{2, 0.2}, "ab cd eeeeee ffffff gggggg hhhhhhhhhhh iiiii ab cd", 10.0 / 50, true},
		{"below", &RepeatingTopNGrams{2, 0.2}, "ab cd eeeeee ffffff gggggg hhhhhhhhhhh iiiiii ab cd", 10.0 / 51, true},
		{"above", &RepeatingTopNGrams{2, 0.2}, "ab cd eeeeee ffffff gggggg hhhhhhhhhhh iiii ab cd", 10.0 / 49, false},
		{"few words", &RepeatingTopNGrams{3, 0.18}, "only two", 1, false},
		// duplicate 2-grams, max 0.2: the second (aa, bb) repeats: 2 + 2
		// characters plus 1 space = 5, over 25, 26 and 24 characters.
		{"at", &RepeatingDuplicateNGrams{2, 0.2}, "aa bb cc aa bb dddddddddd", 0.2, true},
		{"below", &RepeatingDuplicateNGrams{2, 0.2}, "aa bb cc aa bb ddddddddddd", 5.0 / 26, true},
		{"above", &RepeatingDuplicateNGrams{2, 0.2}, "aa bb cc aa bb ddddddddd", 5.0 / 24, false},
		// pornographic URLs: score 1 drops.
		{"porn url", &PornographicURLs{}, "see http://pornsite.example now", 1, false},
		{"porn outside url", &PornographicURLs{}, "porn http://example.com", 0, true},
		// substring.
		{"prefix", &Substring{"Title:", "prefix"}, "Title: x", 1, true},
		{"not prefix", &Substring{"Title:", "prefix"}, " Title: x", 0, false},
		{"suffix", &Substring{"END", "suffix"}, "x END", 1, true},
		{"any", &Substring{"mid", "any"}, "a mid b", 1, true},
	})
}
