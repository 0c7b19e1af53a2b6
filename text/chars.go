package text

import (
	"unicode"
	"unicode/utf8"
)

// asciiSpace marks the ASCII bytes Python's str.split() and str.strip()
// treat as white space: \t \n \v \f \r, the separators 0x1c–0x1f, and space.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true,
	0x1c: true, 0x1d: true, 0x1e: true, 0x1f: true, ' ': true}

// IsSpace reports whether r is white space by Python's str.isspace(), the
// definition NeMo Curator's words (str.split()) and strip() use. It differs
// from unicode.IsSpace in including U+001C–U+001F.
func IsSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiSpace[r]
	}
	switch r {
	case 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// byteClass classifies bytes for AppendWords: 0 a byte of a word, 1 ASCII
// white space, 2 the lead byte of a multi-byte character that may be white
// space (U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F,
// U+205F, U+3000 start with 0xC2, 0xE1, 0xE2 or 0xE3). Every other byte,
// continuation bytes included, belongs to a word.
var byteClass = func() (t [256]uint8) {
	for c := range utf8.RuneSelf {
		if asciiSpace[c] {
			t[c] = 1
		}
	}
	t[0xc2], t[0xe1], t[0xe2], t[0xe3] = 2, 2, 2, 2
	return t
}()

// AppendWords appends the white-space-separated words of s to dst, as
// Python's s.split() does, and returns the extended slice. The words are
// substrings of s.
func AppendWords(dst []string, s string) []string {
	start := -1
	for i := 0; i < len(s); {
		size := 1
		sp := false
		switch byteClass[s[i]] {
		case 1:
			sp = true
		case 2:
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			sp = IsSpace(r)
		}
		if sp {
			if start >= 0 {
				dst = append(dst, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
		i += size
	}
	if start >= 0 {
		dst = append(dst, s[start:])
	}
	return dst
}

// countWords counts the words of s (AppendWords) without collecting them.
func countWords(s string) int {
	n, in := 0, false
	for i := 0; i < len(s); {
		size := 1
		sp := false
		switch byteClass[s[i]] {
		case 1:
			sp = true
		case 2:
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			sp = IsSpace(r)
		}
		if !sp && !in {
			n++
		}
		in = !sp
		i += size
	}
	return n
}

// Strip removes leading and trailing white space (IsSpace), as Python's
// str.strip() does.
func Strip(s string) string { return StripRight(StripLeft(s)) }

// StripLeft removes leading white space, as Python's str.lstrip().
func StripLeft(s string) string {
	for len(s) > 0 {
		c := s[0]
		if c < utf8.RuneSelf {
			if !asciiSpace[c] {
				return s
			}
			s = s[1:]
			continue
		}
		r, n := utf8.DecodeRuneInString(s)
		if !IsSpace(r) {
			return s
		}
		s = s[n:]
	}
	return s
}

// StripRight removes trailing white space, as Python's str.rstrip().
func StripRight(s string) string {
	for len(s) > 0 {
		c := s[len(s)-1]
		if c < utf8.RuneSelf {
			if !asciiSpace[c] {
				return s
			}
			s = s[:len(s)-1]
			continue
		}
		r, n := utf8.DecodeLastRuneInString(s)
		if !IsSpace(r) {
			return s
		}
		s = s[:len(s)-n]
	}
	return s
}

// IsBlank reports whether s is empty or only white space.
func IsBlank(s string) bool { return len(StripLeft(s)) == 0 }

// Len is Python's len(s): the number of code points (an invalid byte counts
// as one).
func Len(s string) int { return utf8.RuneCountInString(s) }

// IsAlphabetic reports whether r has the Unicode Alphabetic property, which
// is what the [[:alpha:]] class of Python's regex module (NeMo's
// regex_alpha) matches: letters, letter numbers (Nl) and Other_Alphabetic
// marks.
func IsAlphabetic(r rune) bool {
	if r < utf8.RuneSelf {
		return r|0x20 >= 'a' && r|0x20 <= 'z'
	}
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r)
}

// IsPyAlpha is Python's str.isalpha() for one code point: a letter (categories
// Lu, Ll, Lt, Lm, Lo). datatrove's Gopher rules use it.
func IsPyAlpha(r rune) bool {
	if r < utf8.RuneSelf {
		return r|0x20 >= 'a' && r|0x20 <= 'z'
	}
	return unicode.IsLetter(r)
}

// IsPunctOrSymbol reports whether r is punctuation or a symbol (Unicode
// categories P and S). The presets treat a word made only of such
// characters as a symbol, not a word.
func IsPunctOrSymbol(r rune) bool {
	if r < utf8.RuneSelf {
		return r > ' ' && r < 0x7f && !(r >= '0' && r <= '9') && !(r|0x20 >= 'a' && r|0x20 <= 'z')
	}
	return unicode.IsPunct(r) || unicode.IsSymbol(r)
}

// AppendLower appends s lower-cased as Python's str.lower() does to dst:
// per-code-point lower case, except that U+0130 (İ) becomes "i̇" (i and
// U+0307), Python's full mapping.
func AppendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, c)
			i++
			continue
		}
		if r == 0x130 {
			dst = append(dst, 'i', 0xcc, 0x87)
		} else {
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		}
		i += n
	}
	return dst
}

// hasSuffixFold reports whether s ends with the lower-case ASCII suffix,
// comparing ASCII letters case-insensitively.
func hasSuffixFold(s, suffix string) bool {
	if len(s) < len(suffix) {
		return false
	}
	t := s[len(s)-len(suffix):]
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != suffix[i] {
			return false
		}
	}
	return true
}
