package text

import "testing"

// TestNeMoAgreement checks cases built from NeMo Curator's definitions as
// its source states them (heuristic/string.py, repetition.py,
// utils/constants.py, utils/text_utils.py), especially the corners where a
// natural reimplementation would differ. The same definitions, reimplemented
// in Python in bench/nemo_crosscheck.py, agree with these filters on every
// score of the 16,610 documents of the shared benchmark corpus (see
// docs/filters.md).
func TestNeMoAgreement(t *testing.T) {
	runThresholdCases(t, []thresholdCase{
		// SymbolsToWords counts regex matches of "#+" (runs), not '#'
		// characters: "#" (1/1) and "#a#" (2/3) exceed 0.5, "##" (1/2) and
		// "###" (1/3) do not.
		{"hash runs", &SymbolsToWords{0.1}, "# ## ### #a#", 2.0 / 4, false},
		{"ellipsis words", &SymbolsToWords{0.1}, "wait ... more …", 2.0 / 4, false},
		{"no words", &SymbolsToWords{0.1}, "   ", 1, false},
		// regex_url is case-sensitive, needs a character after "://", stops
		// at '/', and takes '%' only before two hex digits.
		{"upper-case scheme", &URLRatio{0.2}, "HTTPS://EXAMPLE.COM", 0, true},
		{"bare scheme", &URLRatio{0.2}, "http:// x", 0, true},
		{"percent escapes", &URLRatio{0.2}, "http://a%41b%zz", 12.0 / 15, false}, // "http://a%41b"
		{"inside a word", &URLRatio{0.2}, "xhttp://ab", 9.0 / 10, false},
		// Words are Python's str.split(): U+001C and NBSP separate words.
		{"split on \\x1c", &WordCount{1, 10}, "a\x1cb", 2, true},
		{"split on nbsp", &WordCount{1, 10}, "a\u00a0b c", 3, true},
		// Empty or blank texts, with the guards of NeMo's current source.
		{"bullets empty", &Bullets{0.9}, "", 1, false},
		{"punctuation empty", &Punctuation{0.85}, "\n \n", 1, false},
		{"ellipsis empty", &Ellipsis{0.3}, "", 1, false},
		{"alphabets empty", &WordsWithoutAlphabets{0.8}, "", 0, false},
		{"paragraphs blank", &RepeatedParagraphs{0.7}, " \n\n ", 0, false},
		// NeMo divides by zero here; Sluice scores 0 (dropped).
		{"lines empty", &RepeatedLines{0.7}, "", 0, false},
		{"lines by char empty", &RepeatedLinesByChar{0.8}, "\n", 0, false},
		// Lines are compared unstripped; blank lines are left out.
		{"unstripped lines", &RepeatedLines{0.7}, "a\na \na\n\n", 2.0 / 3, false},
		{"blank lines skipped", &Bullets{0.9}, "• a\n\n \n• b", 1, false},
		// Paragraphs are split at each "\n\n", left to right.
		{"three newlines", &RepeatedParagraphs{0.7}, "a\n\n\na", 1, true}, // ["a", "\na"]
		// Python's lower(): İ becomes "i̇" (no match), the Kelvin sign K becomes k (match).
		{"dotted capital I", &BoilerplateString{MaxRatio: 0.4}, "PRİVACY POLICY", 0, true},
		{"kelvin sign", &BoilerplateString{MaxRatio: 0.4}, "COOKIE POLICY", 1, false},
		// One of NeMo's long cookie notices, which holds none of the short phrases.
		{"long notice", &BoilerplateString{MaxRatio: 0.4}, "Intro.\n\nNecessary cookies are absolutely essential for the website to function properly. " +
			"This category only includes cookies that ensures basic functionalities and security features of the website. " +
			"These cookies do not store any personal information.", 0.5, false},
		// The top n-gram is counted in the text with str.replace, so it is
		// also found inside other words: "ab cd" twice in 13 characters.
		{"top n-gram inside words", &RepeatingTopNGrams{2, 0.2}, "ab cd xab cdx", 10.0 / 13, false},
		// Ties: every bigram occurs once; the first one ("aa bb") is taken
		// (NeMo's choice depends on set order).
		{"top n-gram tie", &RepeatingTopNGrams{2, 0.2}, "aa bb cc dd", 5.0 / 11, false},
		// Overlapping duplicates count each word once: (a b) then (b c)
		// repeat: a, b and 1 space, then c and 1 space: 5 of 11.
		{"overlapping duplicates", &RepeatingDuplicateNGrams{2, 0.2}, "a b c a b c", 5.0 / 11, false},
		// stop_at_false stops counting at the cutoff.
		{"stop at cutoff", &CommonEnglishWords{2, true}, "the the the", 2, true},
		// [[:alpha:]] is Unicode Alphabetic, which includes some combining marks.
		{"combining alphabetic", &WordsWithoutAlphabets{0.8}, "\u0345", 1, true},
		// \b (backspace) counts as white space, \v does not.
		{"backspace", &WhiteSpace{0.25}, "a\b\v", 1.0 / 3, false},
		// "read more.." in any case; "'" is an end mark.
		{"read more", &Ellipsis{0.3}, "Click to READ MORE..", 1, false},
		{"apostrophe end mark", &Punctuation{0.85}, "it's 'quoted'", 0, true},
	})
}
