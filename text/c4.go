package text

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Rewriter is a rule that may change the text of a document it keeps, or
// drop the document. C4's line filter is one.
type Rewriter interface {
	// Name is the rule's name.
	Name() string
	// Rewrite returns the new text and whether it differs from d's, or a
	// non-empty reason when the document is dropped.
	Rewrite(d *Doc) (text string, changed bool, dropReason string)
}

// C4Lines is the page cleaning of C4 (Raffel et al. 2020), as TensorFlow
// Datasets' c4_utils.clean_page and datatrove's C4QualityFilter implement
// it. The text is split into lines (Python splitlines) and each line is
// stripped; then, in order, a line is removed if it has a word longer than
// MaxWordLength characters, loses its Wikipedia-style citations ([1],
// [edit], [citation needed]) with RemoveCitations, is removed if
// RequireEndMark and it does not end with one of EndMarks or ends with
// "...", is removed if it has fewer than MinWordsPerLine words, drops the
// whole document if it contains "lorem ipsum" (any case) with LoremIpsum,
// is removed if it contains "javascript" (any case) with Javascript, drops
// the document if it contains "{" with CurlyBracket, and is removed if it
// contains a policy phrase ("terms of use", "privacy policy", "cookie
// policy", "uses cookies", "use of cookies", "use cookies") with Policy.
// A document whose kept lines hold fewer than MinSentences sentences
// (CountSentences) is dropped; otherwise its text becomes the kept lines
// joined by "\n".
type C4Lines struct {
	RuleName        string   `json:"-"`
	MinWordsPerLine int      `json:"min_words_per_line"`
	MinSentences    int      `json:"min_num_sentences"`
	MaxWordLength   int      `json:"max_word_length"`
	EndMarks        []string `json:"end_marks"`
	RequireEndMark  bool     `json:"filter_no_terminal_punct"`
	RemoveCitations bool     `json:"remove_citations"`
	LoremIpsum      bool     `json:"filter_lorem_ipsum"`
	Javascript      bool     `json:"filter_javascript"`
	CurlyBracket    bool     `json:"filter_curly_bracket"`
	Policy          bool     `json:"filter_policy"`
}

// C4 reasons for dropping a document.
const (
	C4LoremIpsum    = "c4_lorem_ipsum"
	C4CurlyBracket  = "c4_curly_bracket"
	C4FewSentences  = "c4_too_few_sentences"
	c4DefaultName   = "c4_lines"
	c4PolicyPhrases = "terms of use|privacy policy|cookie policy|uses cookies|use of cookies|use cookies"
)

var c4Policy = strings.Split(c4PolicyPhrases, "|")

// Name implements Rewriter.
func (f *C4Lines) Name() string {
	if f.RuleName != "" {
		return f.RuleName
	}
	return c4DefaultName
}

// Rewrite implements Rewriter.
func (f *C4Lines) Rewrite(d *Doc) (string, bool, string) {
	src := d.Text()
	var out []byte
	sentences, kept := 0, 0
	for _, line := range d.pyLines() {
		line = Strip(line)
		if f.MaxWordLength >= 0 && hasLongWord(line, f.MaxWordLength) {
			continue
		}
		if f.RemoveCitations {
			line = RemoveCitations(line)
		}
		if f.RequireEndMark && (!hasAnySuffix(line, f.EndMarks) || strings.HasSuffix(line, "...")) {
			continue
		}
		if countWords(line) < f.MinWordsPerLine {
			continue
		}
		d.buf = AppendLower(d.buf[:0], line)
		low := d.buf
		if f.LoremIpsum && bytes.Contains(low, []byte("lorem ipsum")) {
			return "", false, C4LoremIpsum
		}
		if f.Javascript && bytes.Contains(low, []byte("javascript")) {
			continue
		}
		if f.CurlyBracket && strings.Contains(line, "{") {
			return "", false, C4CurlyBracket
		}
		if f.Policy && containsAny(low, c4Policy) {
			continue
		}
		sentences += CountSentences(line)
		if kept > 0 {
			out = append(out, '\n')
		}
		out = append(out, line...)
		kept++
	}
	if sentences < f.MinSentences {
		return "", false, C4FewSentences
	}
	text := Strip(string(out))
	return text, text != src, ""
}

// hasLongWord reports whether a word of line has more than max characters.
func hasLongWord(line string, max int) bool {
	if len(line) <= max {
		return false // a word's characters never outnumber its bytes
	}
	for len(line) > max {
		line = StripLeft(line)
		end := len(line) - len(skipNonSpace(line))
		if end > max && Len(line[:end]) > max {
			return true
		}
		line = line[end:]
	}
	return false
}

func hasAnySuffix(s string, suffixes []string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}

func containsAny(s []byte, subs []string) bool {
	for _, x := range subs {
		if bytes.Contains(s, []byte(x)) {
			return true
		}
	}
	return false
}

// RemoveCitations removes Wikipedia-style citations from s: "[" digits "]"
// (including "[]"), "[edit]" and "[citation needed]" (C4's citation regex).
func RemoveCitations(s string) string {
	if strings.IndexByte(s, '[') < 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '[' {
			continue
		}
		end := citationEnd(s[i:])
		if end == 0 {
			continue
		}
		b.WriteString(s[last:i])
		last = i + end
		i = last - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// citationEnd returns the length of the citation s starts with, or 0.
func citationEnd(s string) int {
	for _, lit := range []string{"[edit]", "[citation needed]"} {
		if strings.HasPrefix(s, lit) {
			return len(lit)
		}
	}
	j := 1
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j < len(s) && s[j] == ']' {
		return j + 1
	}
	return 0
}

// CountSentences counts the sentences of a line as the runs of ".", "!" or
// "?" that end the line or are followed (after any closing quotes or
// brackets) by white space; a line with none counts as one sentence. It
// stands in for the Punkt tokenizer C4 uses, which also knows abbreviations.
func CountSentences(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c != '.' && c != '!' && c != '?' {
			continue
		}
		j := i
		for j < len(line) && (line[j] == '.' || line[j] == '!' || line[j] == '?') {
			j++
		}
		k := j
		for k < len(line) && strings.IndexByte(`"')]}`, line[k]) >= 0 {
			k++
		}
		if k == len(line) || line[k] < utf8.RuneSelf && asciiSpace[line[k]] || strings.HasPrefix(line[k:], "”") || strings.HasPrefix(line[k:], "’") {
			n++
		}
		i = j - 1
	}
	return max(n, 1)
}
