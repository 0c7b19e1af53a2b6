package text

import "strings"

// urlChar marks the bytes NeMo Curator's regex_url accepts after "://":
// ASCII letters and digits and $-_@.&+!*(),  ('%' is accepted only as a
// %XX escape; '/', ':', '?', '=' and '#' end the match).
var urlChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "$-_@.&+!*()," {
		t[c] = true
	}
	return t
}()

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f'
}

// NextURL finds the first URL in s by NeMo Curator's regex_url
// (http[s]?:// followed by one or more URL characters or %XX escapes) and
// returns its byte offsets, or -1, -1. Like the regex, it is case-sensitive
// and stops at '/', so "https://a.org/x" yields "https://a.org".
func NextURL(s string) (start, end int) {
	off := 0
	for {
		i := strings.Index(s[off:], "http")
		if i < 0 {
			return -1, -1
		}
		i += off
		j := i + 4
		if j < len(s) && s[j] == 's' {
			j++
		}
		if strings.HasPrefix(s[j:], "://") {
			k := j + 3
			for k < len(s) {
				if urlChar[s[k]] {
					k++
				} else if s[k] == '%' && k+2 < len(s) && isHex(s[k+1]) && isHex(s[k+2]) {
					k += 3
				} else {
					break
				}
			}
			if k > j+3 {
				return i, k
			}
		}
		off = i + 1
	}
}

// URLs appends the URLs of s (NextURL, left to right, non-overlapping) to dst.
func URLs(dst []string, s string) []string {
	off := 0
	for {
		i, j := NextURL(s[off:])
		if i < 0 {
			return dst
		}
		dst = append(dst, s[off+i:off+j])
		off += j
	}
}

// RemoveURLs returns s without the URLs NeMo Curator's UrlRemover removes:
// "http://" or "https://" or "www." (case-insensitive) followed by one or
// more non-white-space characters, up to the next white space. It returns s
// itself, without allocating, when there is nothing to remove.
func RemoveURLs(s string) string {
	var b []byte
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c != 'h' && c != 'w' {
			continue
		}
		var p int
		switch {
		case hasPrefixFold(s[i:], "https://"):
			p = i + 8
		case hasPrefixFold(s[i:], "http://"):
			p = i + 7
		case hasPrefixFold(s[i:], "www."):
			p = i + 4
		default:
			continue
		}
		end := p + len(s[p:]) - len(skipNonSpace(s[p:]))
		if end == p {
			continue
		}
		b = append(b, s[last:i]...)
		last = end
		i = end - 1
	}
	if b == nil {
		return s
	}
	return string(append(b, s[last:]...))
}

// skipNonSpace returns s after its leading run of non-white-space characters.
func skipNonSpace(s string) string {
	for i, r := range s {
		if IsSpace(r) {
			return s[i:]
		}
	}
	return ""
}

// hasPrefixFold reports whether s starts with the lower-case ASCII prefix,
// ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}
