package dataio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// This file holds a small validating JSON scanner. It checks that a line is
// exactly one JSON object (RFC 8259 grammar, nesting at most maxJSONDepth
// deep) and reports where the values of a few wanted top-level keys are,
// without building any value. Matching keys exactly, rather than through a
// struct decoder, matters: encoding/json style decoders match keys
// case-insensitively, which would let "Text" stand in for "text".

// maxJSONDepth bounds nesting so hostile input cannot exhaust the stack.
const maxJSONDepth = 10000

// jsonSpan locates one value in a line.
type jsonSpan struct {
	start, end int  // value bytes are line[start:end]
	found      bool // the key was present
	escaped    bool // the value is a string containing escapes
}

// jsonSyntaxError is a grammar violation at byte offset off (0-based).
type jsonSyntaxError struct {
	off int
	msg string
}

func (e *jsonSyntaxError) Error() string { return fmt.Sprintf("%s at byte offset %d", e.msg, e.off) }

// strSpecial marks the bytes that end the fast path inside a string.
var strSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipSpace(s []byte, i int) int {
	for i < len(s) && isJSONSpace(s[i]) {
		i++
	}
	return i
}

func errAt(s []byte, i int, what string) *jsonSyntaxError {
	if i >= len(s) {
		return &jsonSyntaxError{off: i, msg: "unexpected end of input, expected " + what}
	}
	return &jsonSyntaxError{off: i, msg: fmt.Sprintf("invalid character %q, expected %s", s[i], what)}
}

// scanObjectFields validates that s is one JSON object, optionally
// surrounded by whitespace, and fills out[k] with the span of the value of
// top-level key names[k]. When a key repeats, the last occurrence wins.
func scanObjectFields(s []byte, names []string, out []jsonSpan) error {
	for k := range out {
		out[k] = jsonSpan{}
	}
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		if i < len(s) {
			return &jsonSyntaxError{off: i, msg: fmt.Sprintf("record is not a JSON object (starts with %q)", s[i])}
		}
		return &jsonSyntaxError{off: i, msg: "record is not a JSON object"}
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		i++
	} else {
		for {
			if i >= len(s) || s[i] != '"' {
				return errAt(s, i, "string key")
			}
			keyStart := i
			var esc bool
			var err error
			if i, esc, err = scanString(s, i); err != nil {
				return err
			}
			k := matchKey(s[keyStart:i], esc, names)
			i = skipSpace(s, i)
			if i >= len(s) || s[i] != ':' {
				return errAt(s, i, "':' after object key")
			}
			i = skipSpace(s, i+1)
			vStart := i
			if i < len(s) && s[i] == '"' {
				i, esc, err = scanString(s, i)
			} else {
				esc = false
				i, err = scanValue(s, i, 1)
			}
			if err != nil {
				return err
			}
			if k >= 0 {
				out[k] = jsonSpan{start: vStart, end: i, found: true, escaped: esc}
			}
			i = skipSpace(s, i)
			if i < len(s) && s[i] == ',' {
				i = skipSpace(s, i+1)
				continue
			}
			if i < len(s) && s[i] == '}' {
				i++
				break
			}
			return errAt(s, i, "',' or '}' after object value")
		}
	}
	if i = skipSpace(s, i); i != len(s) {
		return &jsonSyntaxError{off: i, msg: fmt.Sprintf("unexpected %q after the JSON object", s[i])}
	}
	return nil
}

// matchKey returns the index in names of the quoted key, or -1.
func matchKey(quoted []byte, escaped bool, names []string) int {
	raw := quoted[1 : len(quoted)-1]
	if escaped {
		var key string
		if err := json.Unmarshal(quoted, &key); err != nil {
			return -1
		}
		raw = []byte(key)
	}
	for k, n := range names {
		if n != "" && string(raw) == n {
			return k
		}
	}
	return -1
}

// scanString scans the string starting at s[i] == '"' and returns the index
// just past its closing quote and whether it contains escapes.
func scanString(s []byte, i int) (int, bool, error) {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	esc := false
	j := i + 1
	for {
		// Skip 8 plain bytes at a time: no control byte, quote or backslash.
		for j+8 <= len(s) {
			x := binary.LittleEndian.Uint64(s[j:])
			ctl := (x - 0x20*ones) & ^x & highs
			q := x ^ ('"' * ones)
			q = (q - ones) & ^q & highs
			b := x ^ ('\\' * ones)
			b = (b - ones) & ^b & highs
			if ctl|q|b != 0 {
				break
			}
			j += 8
		}
		for j < len(s) && !strSpecial[s[j]] {
			j++
		}
		if j >= len(s) {
			return j, esc, &jsonSyntaxError{off: i, msg: "unterminated string"}
		}
		switch c := s[j]; {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			if j+1 >= len(s) {
				return j, esc, &jsonSyntaxError{off: j, msg: "unterminated string"}
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(s) || !isHex(s[j+2]) || !isHex(s[j+3]) || !isHex(s[j+4]) || !isHex(s[j+5]) {
					return j, esc, &jsonSyntaxError{off: j, msg: "invalid \\u escape in string"}
				}
				j += 6
			default:
				return j, esc, &jsonSyntaxError{off: j, msg: fmt.Sprintf("invalid escape %q in string", s[j:j+2])}
			}
		default:
			return j, esc, &jsonSyntaxError{off: j, msg: fmt.Sprintf("control character %#02x in string", c)}
		}
	}
}

func isHex(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 6
}

// scanValue scans any JSON value starting at s[i].
func scanValue(s []byte, i, depth int) (int, error) {
	if i >= len(s) {
		return i, errAt(s, i, "value")
	}
	switch c := s[i]; c {
	case '"':
		j, _, err := scanString(s, i)
		return j, err
	case '{', '[':
		if depth >= maxJSONDepth {
			return i, &jsonSyntaxError{off: i, msg: fmt.Sprintf("nesting deeper than %d", maxJSONDepth)}
		}
		return scanContainer(s, i, depth+1)
	case 't':
		return scanLiteral(s, i, "true")
	case 'f':
		return scanLiteral(s, i, "false")
	case 'n':
		return scanLiteral(s, i, "null")
	default:
		if c == '-' || c-'0' < 10 {
			return scanNumber(s, i)
		}
		return i, errAt(s, i, "value")
	}
}

func scanLiteral(s []byte, i int, lit string) (int, error) {
	if !bytes.HasPrefix(s[i:], []byte(lit)) {
		return i, &jsonSyntaxError{off: i, msg: "invalid literal, expected " + lit}
	}
	return i + len(lit), nil
}

func scanNumber(s []byte, i int) (int, error) {
	start := i
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i]-'0' < 10 {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i]-'1' < 9:
		digits()
	default:
		return i, &jsonSyntaxError{off: start, msg: "invalid number"}
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return i, &jsonSyntaxError{off: start, msg: "invalid number"}
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, &jsonSyntaxError{off: start, msg: "invalid number"}
		}
	}
	return i, nil
}

// scanContainer scans an object or array starting at s[i].
func scanContainer(s []byte, i, depth int) (int, error) {
	obj := s[i] == '{'
	closer := byte(']')
	if obj {
		closer = '}'
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == closer {
		return i + 1, nil
	}
	for {
		var err error
		if obj {
			if i >= len(s) || s[i] != '"' {
				return i, errAt(s, i, "string key")
			}
			if i, _, err = scanString(s, i); err != nil {
				return i, err
			}
			i = skipSpace(s, i)
			if i >= len(s) || s[i] != ':' {
				return i, errAt(s, i, "':' after object key")
			}
			i = skipSpace(s, i+1)
		}
		if i, err = scanValue(s, i, depth); err != nil {
			return i, err
		}
		i = skipSpace(s, i)
		if i < len(s) && s[i] == ',' {
			i = skipSpace(s, i+1)
			continue
		}
		if i < len(s) && s[i] == closer {
			return i + 1, nil
		}
		return i, errAt(s, i, fmt.Sprintf("',' or '%c'", closer))
	}
}

// jsonKind names the kind of the JSON value starting with c, for messages.
func jsonKind(c byte) string {
	switch c {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// appendUnescaped appends the decoded form of the JSON string body s (the
// bytes between the quotes, already validated by scanString) to dst. Lone
// UTF-16 surrogates become U+FFFD, as in encoding/json.
func appendUnescaped(dst, s []byte) []byte {
	for {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		c := s[i+1]
		s = s[i+2:]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s)
			s = s[4:]
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					r2 = hex4(s[2:])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					s = s[6:]
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
}

// hex4 decodes four hex digits, validated by scanString.
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
