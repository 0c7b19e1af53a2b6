package text

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FixOptions chooses what Fix does. The zero value does nothing.
type FixOptions struct {
	// Mojibake repairs UTF-8 text that was decoded as Windows-1252 or
	// Latin-1 (FixMojibake).
	Mojibake bool
	// Newlines turns "\r\n", "\r", U+0085, U+2028 and U+2029 into "\n".
	Newlines bool
	// Controls removes control characters other than "\t" and "\n" (and
	// "\r" when Newlines is off), and U+FEFF.
	Controls bool
	// Form is the Unicode normalisation form: "NFC", "NFKC" or "" (none).
	Form string
	// CollapseNewlines replaces runs of three or more "\n" (or "\r\n") with
	// two, as NeMo Curator's NewlineNormalizer does.
	CollapseNewlines bool
}

// Validate checks the options.
func (o FixOptions) Validate() error {
	switch o.Form {
	case "", "NFC", "NFKC":
		return nil
	}
	return fmt.Errorf("normalization form %q: want NFC, NFKC or none", o.Form)
}

// Fix returns s cleaned as o says, in this order: mojibake, newlines,
// control characters, normalisation, collapsing newlines. It returns s
// itself, without allocating, when nothing changes in the common case of
// ASCII text without control characters.
func Fix(s string, o FixOptions) string {
	if plainASCII(s, o) {
		return s
	}
	if o.Mojibake {
		s = FixMojibake(s)
	}
	if o.Newlines {
		s = NormalizeNewlines(s)
	}
	if o.Controls {
		s = RemoveControls(s, !o.Newlines)
	}
	switch o.Form {
	case "NFC":
		if !norm.NFC.IsNormalString(s) {
			s = norm.NFC.String(s)
		}
	case "NFKC":
		if !norm.NFKC.IsNormalString(s) {
			s = norm.NFKC.String(s)
		}
	}
	if o.CollapseNewlines {
		s = CollapseNewlines(s)
	}
	return s
}

// plainASCII reports whether s is ASCII with no byte Fix could change.
func plainASCII(s string, o FixOptions) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || c == '\r' || (c < ' ' || c == 0x7f) && c != '\t' && c != '\n' {
			return false
		}
	}
	return !o.CollapseNewlines || !strings.Contains(s, "\n\n\n")
}

// cp1252 maps the characters Windows-1252 places in 0x80–0x9F to their bytes.
var cp1252 = map[rune]byte{
	'€': 0x80, '‚': 0x82, 'ƒ': 0x83, '„': 0x84, '…': 0x85, '†': 0x86, '‡': 0x87, 'ˆ': 0x88, '‰': 0x89,
	'Š': 0x8a, '‹': 0x8b, 'Œ': 0x8c, 'Ž': 0x8e, '‘': 0x91, '’': 0x92, '“': 0x93, '”': 0x94, '•': 0x95,
	'–': 0x96, '—': 0x97, '˜': 0x98, '™': 0x99, 'š': 0x9a, '›': 0x9b, 'œ': 0x9c, 'ž': 0x9e, 'Ÿ': 0x9f,
}

// contByte returns the byte a character stood for when UTF-8 continuation
// bytes (0x80–0xBF) were decoded as Windows-1252 or Latin-1.
func contByte(r rune) (byte, bool) {
	if r >= 0x80 && r <= 0xbf {
		return byte(r), true
	}
	b, ok := cp1252[r]
	return b, ok
}

// FixMojibake repairs text whose UTF-8 bytes were decoded as Windows-1252
// or Latin-1, such as "cafÃ©" for "café" or "â€™" for "’". A sequence is
// repaired only when its characters map back to one valid UTF-8 character:
// a lead character U+00C2–U+00F4 followed by the right number of
// characters standing for continuation bytes. Two-byte sequences are
// repaired only when they decode to Latin (U+00A0–U+024F), Greek or
// Cyrillic (U+0370–U+052F), so that legitimate pairs such as "ß“" stay as
// they are. Text encoded twice is repaired twice (up to three rounds).
func FixMojibake(s string) string {
	for range 3 {
		t := fixMojibakeOnce(s)
		if t == s {
			break
		}
		s = t
	}
	return s
}

func fixMojibakeOnce(s string) string {
	var out []byte
	var seq [4]byte
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r < 0xc2 || r > 0xf4 {
			if out != nil {
				out = append(out, s[i:i+size]...)
			}
			i += size
			continue
		}
		n := 2
		if r >= 0xe0 {
			n = 3
		}
		if r >= 0xf0 {
			n = 4
		}
		seq[0] = byte(r)
		j, ok := i+size, true
		for k := 1; k < n && ok; k++ {
			var c rune
			var cs int
			if j < len(s) {
				c, cs = utf8.DecodeRuneInString(s[j:])
			}
			seq[k], ok = contByte(c)
			j += cs
		}
		if ok {
			dec, ds := utf8.DecodeRune(seq[:n])
			ok = ds == n && dec != utf8.RuneError && (n > 2 || dec >= 0xa0 && dec <= 0x24f || dec >= 0x370 && dec <= 0x52f)
			if ok {
				if out == nil {
					out = append(make([]byte, 0, len(s)), s[:i]...)
				}
				out = utf8.AppendRune(out, dec)
				i = j
				continue
			}
		}
		if out != nil {
			out = append(out, s[i:i+size]...)
		}
		i += size
	}
	if out == nil {
		return s
	}
	return string(out)
}

// NormalizeNewlines turns "\r\n", "\r", U+0085 (NEL), U+2028 and U+2029
// into "\n".
func NormalizeNewlines(s string) string {
	if !strings.ContainsAny(s, "\r\u0085\u2028\u2029") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\r':
			b.WriteByte('\n')
			i++
			if i < len(s) && s[i] == '\n' {
				i++
			}
		case c == 0xc2 && i+1 < len(s) && s[i+1] == 0x85:
			b.WriteByte('\n')
			i += 2
		case c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9):
			b.WriteByte('\n')
			i += 3
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// RemoveControls removes control characters (Unicode category Cc) other
// than "\t" and "\n" ("\r" too when keepCR), and U+FEFF.
func RemoveControls(s string, keepCR bool) string {
	keep := func(r rune) bool {
		switch {
		case r == '\t' || r == '\n' || r == '\r' && keepCR:
			return true
		case r < ' ' || r >= 0x7f && r <= 0x9f || r == 0xfeff:
			return false
		}
		return true
	}
	for i, r := range s {
		if !keep(r) {
			var b strings.Builder
			b.Grow(len(s))
			b.WriteString(s[:i])
			for _, r := range s[i:] {
				if keep(r) {
					b.WriteRune(r)
				}
			}
			return b.String()
		}
	}
	return s
}

// CollapseNewlines replaces runs of three or more "\n" with "\n\n", and
// runs of three or more "\r\n" with "\r\n\r\n".
func CollapseNewlines(s string) string {
	if !strings.Contains(s, "\n\n\n") && !strings.Contains(s, "\r\n\r\n\r\n") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		for _, run := range []string{"\n", "\r\n"} {
			n := 0
			for strings.HasPrefix(s[i+n*len(run):], run) {
				n++
			}
			if n >= 3 {
				b.WriteString(run)
				b.WriteString(run)
				i += n * len(run)
			}
		}
		if i < len(s) {
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}
