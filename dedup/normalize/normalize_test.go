package normalize

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
)

func TestAppend(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"Hello,  World!", "hello world"},
		{"  --a_b--  ", "a b"},
		{"Ünïcode  ÉTÉ\n\tx", "ünïcode été x"},
		{"snake_case and CamelCase", "snake case and camelcase"},
		{"1,000.5", "1 000 5"},
		{"\xff bad", "bad"},
	} {
		if got := string(Append(nil, c.in)); got != c.want {
			t.Errorf("Append(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// Append appends: what dst holds is kept.
	if got := string(Append([]byte("x:"), "A B")); got != "x:a b" {
		t.Errorf("Append onto x: = %q", got)
	}
}

// BenchmarkAppend measures normalisation of English-like text with some
// non-ASCII words, in MB/s of input.
func BenchmarkAppend(b *testing.B) {
	var sb strings.Builder
	for sb.Len() < 1<<20 {
		sb.WriteString("The Quick brown fox, jumps over the lazy dog (again); naïve café Übermensch 42 times.\n")
	}
	text := sb.String()
	dst := make([]byte, 0, len(text))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		dst = Append(dst[:0], text)
	}
}

// reference is the definition Append implements, one character at a time.
func reference(text string) string {
	var out []rune
	space := false
	for _, r := range text { // invalid bytes decode as U+FFFD: not a letter
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			space = true
			continue
		}
		if space && len(out) > 0 {
			out = append(out, ' ')
		}
		space = false
		out = append(out, unicode.ToLower(r))
	}
	return string(out)
}

// TestAppendMatchesReference compares Append with the one-character-at-a-
// time definition on random texts of ASCII, accented and CJK letters,
// digits, punctuation, white space and invalid bytes.
func TestAppendMatchesReference(t *testing.T) {
	pieces := []string{"a", "Z", "7", " ", "\t", "\n", ",", "_", "-", "É", "ß", "東", "٣", "\xff", "\xc3", "Ǆ", "İ", "x1Y2"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var sb strings.Builder
		for range rng.IntN(40) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		text := sb.String()
		if got, want := string(Append(nil, text)), reference(text); got != want {
			t.Fatalf("Append(%q) = %q, want %q", text, got, want)
		}
	}
}
