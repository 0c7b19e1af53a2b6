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
			i++
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
				space = true
				continue
			}
			if space && len(dst) > 0 {
				dst = append(dst, ' ')
			}
			space = false
			dst = append(dst, c)
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
