// Package normalize is the text normalisation both deduplication workflows
// apply with --normalize: `sluice dedup fuzzy` shingles the normalised text
// and `sluice dedup exact` hashes it, so documents that differ only in case,
// punctuation or white space count as duplicates.
package normalize

import (
	"unicode"
	"unicode/utf8"
)

// Append appends to dst the text lower-cased, with every run of characters
// that are neither letters nor digits replaced by one space and no leading
// or trailing space. Shingling normalised text makes MinHash insensitive to
// case, punctuation and white-space changes (the similarity of word n-gram
// measures such as the benchmark's J5, which also applies NFKC; this does
// not). Invalid UTF-8 bytes count as neither letters nor digits.
func Append(dst []byte, text string) []byte {
	space := false
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			if asciiKeep[c] == 0 {
				space = true
				i++
				continue
			}
			// A run of ASCII letters and digits, copied at once.
			j := i + 1
			for j < len(text) && text[j] < utf8.RuneSelf && asciiKeep[text[j]] != 0 {
				j++
			}
			if space && len(dst) > 0 {
				dst = append(dst, ' ')
			}
			space = false
			n := len(dst)
			dst = append(dst, text[i:j]...)
			for k := n; k < len(dst); k++ {
				dst[k] = asciiKeep[dst[k]]
			}
			i = j
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			space = true
			continue
		}
		if space && len(dst) > 0 {
			dst = append(dst, ' ')
		}
		space = false
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}

// asciiKeep maps an ASCII letter or digit to itself lower-cased, and every
// other ASCII byte to 0.
var asciiKeep = func() (t [utf8.RuneSelf]byte) {
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c
	}
	for c := byte('a'); c <= 'z'; c++ {
		t[c] = c
		t[c-'a'+'A'] = c
	}
	return t
}()
