package dataio

import (
	"bytes"
	"fmt"
)

// SetJSONField returns a JSON object line with its top-level key name set
// to value, which must be JSON text: the value of the key's last occurrence
// (the one readers use) is replaced, and a missing key is added before the
// closing brace. Every other byte of line is kept, including a leading
// byte-order mark. The result is appended to dst[:0]. Stages that change a
// record (its text, or a field they add) use it to keep the raw lines
// that writers copy in step with the columns.
func SetJSONField(dst, line []byte, name string, value []byte) ([]byte, error) {
	bom := 0
	if bytes.HasPrefix(line, []byte(utf8BOM)) {
		bom = len(utf8BOM)
	}
	var span [1]jsonSpan
	if err := scanObjectFields(line[bom:], []string{name}, span[:]); err != nil {
		return nil, fmt.Errorf("dataio: set field %q: %w", name, err)
	}
	dst = dst[:0]
	if s := span[0]; s.found {
		dst = append(dst, line[:bom+s.start]...)
		dst = append(dst, value...)
		return append(dst, line[bom+s.end:]...), nil
	}
	end := bytes.LastIndexByte(line, '}')
	inner := bytes.TrimRight(line[bom:end], " \t\r\n")
	dst = append(dst, line[:end]...)
	if inner[len(inner)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = appendJSONString(dst, name)
	dst = append(dst, ':')
	dst = append(dst, value...)
	return append(dst, line[end:]...), nil
}

// AppendJSONString appends s to dst as a JSON string literal.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// AppendJSONFloat appends f formatted as the JSONL writer formats Float64
// columns. f must be finite.
func AppendJSONFloat(dst []byte, f float64) []byte { return appendJSONFloatBits(dst, f, 64) }
