package dataio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluice-data/sluice/task"
)

// JSONLMode says how a JSONLWriter turns rows into lines.
type JSONLMode uint8

const (
	// Auto writes raw lines for batches that have RawColumn and serialises
	// the columns of batches that do not.
	Auto JSONLMode = iota
	// RawLines requires RawColumn and writes each row's raw bytes.
	RawLines
	// ColumnObjects always serialises the columns, ignoring RawColumn.
	ColumnObjects
)

// JSONLWriterOptions configures a JSONLWriter.
type JSONLWriterOptions struct {
	// Mode chooses between raw lines and serialised columns.
	Mode JSONLMode
	// RawJSONColumns names String columns whose values are JSON text to be
	// written verbatim rather than as JSON strings; an empty value leaves the
	// key out. Columns listed under MetaRawJSONColumns in a batch's metadata
	// (the JSONL reader's id column) are treated the same way.
	RawJSONColumns []string
	// AppendColumns names columns to add to each raw line: the line's
	// closing brace gets `,"name":value` pairs inserted before it, for
	// example to keep a score computed by the pipeline next to the original
	// record. Only used for raw lines; the original object must not already
	// have those keys.
	AppendColumns []string
}

// JSONLWriter writes DocumentBatches as JSON Lines to one file, compressed
// according to its extension. For batches written as raw lines each row's
// RawColumn bytes are written followed by "\n", so lines read by a
// JSONLReader come out byte for byte as they went in (a final line that had
// no terminator gains one). Otherwise each row becomes a JSON object of the
// batch's columns, in order, leaving out columns whose names start with
// InternalPrefix: strings as JSON strings, bytes base64-encoded, numbers,
// booleans, and lists as arrays. NaN and infinite floats are errors.
//
// Stages that change the text or add columns meant for the output must
// either drop RawColumn or use ColumnObjects (or AppendColumns), since raw
// lines carry the record as it was read.
//
// The file appears at its path only when Close succeeds.
type JSONLWriter struct {
	path string
	opts JSONLWriterOptions
	w    *compressedWriter
	buf  []byte
	n    int64
	err  error
}

// CreateJSONL starts a JSONL file at path.
func CreateJSONL(path string, opts JSONLWriterOptions) (*JSONLWriter, error) {
	if opts.Mode > ColumnObjects {
		return nil, fmt.Errorf("dataio: unknown JSONL mode %d", opts.Mode)
	}
	w, err := createCompressed(path)
	if err != nil {
		return nil, err
	}
	return &JSONLWriter{path: path, opts: opts, w: w}, nil
}

// Rows returns the number of lines written so far.
func (w *JSONLWriter) Rows() int64 { return w.n }

// Write appends the rows of b.
func (w *JSONLWriter) Write(b *task.DocumentBatch) error {
	if w.err != nil {
		return w.err
	}
	if err := w.write(b); err != nil {
		w.err = err
		w.w.abort()
		return err
	}
	return nil
}

func (w *JSONLWriter) write(b *task.DocumentBatch) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("dataio: jsonl %s: %w", w.path, err)
	}
	raw := b.Column(RawColumn)
	if raw != nil && raw.Type != task.Bytes {
		return fmt.Errorf("dataio: jsonl %s: column %s has type %s, want bytes", w.path, RawColumn, raw.Type)
	}
	rawJSON := make(map[string]bool)
	for _, c := range w.opts.RawJSONColumns {
		rawJSON[c] = true
	}
	if m := b.Metadata[MetaRawJSONColumns]; m != "" {
		for _, c := range strings.Split(m, ",") {
			rawJSON[c] = true
		}
	}
	switch {
	case w.opts.Mode == RawLines && raw == nil:
		return fmt.Errorf("dataio: jsonl %s: raw lines requested but batch has no %s column", w.path, RawColumn)
	case w.opts.Mode != ColumnObjects && raw != nil:
		return w.writeRaw(b, raw, rawJSON)
	}
	return w.writeObjects(b, rawJSON)
}

func (w *JSONLWriter) writeRaw(b *task.DocumentBatch, raw *task.Column, rawJSON map[string]bool) error {
	var extra []*task.Column
	for _, name := range w.opts.AppendColumns {
		c := b.Column(name)
		if c == nil {
			return fmt.Errorf("dataio: jsonl %s: append column %q is missing", w.path, name)
		}
		extra = append(extra, c)
	}
	for i, line := range raw.Bytes {
		if bytes.IndexByte(line, '\n') >= 0 {
			return fmt.Errorf("dataio: jsonl %s: row %d: raw bytes contain a newline", w.path, i)
		}
		if len(extra) == 0 {
			if _, err := w.w.bw.Write(line); err != nil {
				return fmt.Errorf("dataio: write %s: %w", w.path, err)
			}
			if err := w.w.bw.WriteByte('\n'); err != nil {
				return fmt.Errorf("dataio: write %s: %w", w.path, err)
			}
			w.n++
			continue
		}
		end := len(bytes.TrimRight(line, " \t\r"))
		if end == 0 || line[end-1] != '}' {
			return fmt.Errorf("dataio: jsonl %s: row %d: raw line does not end with '}', cannot append columns", w.path, i)
		}
		inner := bytes.TrimRight(line[:end-1], " \t\r")
		empty := len(inner) > 0 && inner[len(inner)-1] == '{'
		w.buf = append(w.buf[:0], line[:end-1]...)
		for _, c := range extra {
			if !empty {
				w.buf = append(w.buf, ',')
			}
			empty = false
			var err error
			if w.buf, err = appendField(w.buf, c, i, rawJSON[c.Name]); err != nil {
				return fmt.Errorf("dataio: jsonl %s: %w", w.path, err)
			}
		}
		w.buf = append(w.buf, line[end-1:]...)
		w.buf = append(w.buf, '\n')
		if _, err := w.w.bw.Write(w.buf); err != nil {
			return fmt.Errorf("dataio: write %s: %w", w.path, err)
		}
		w.n++
	}
	return nil
}

func (w *JSONLWriter) writeObjects(b *task.DocumentBatch, rawJSON map[string]bool) error {
	cols := slices.DeleteFunc(slices.Clone(b.Columns), func(c *task.Column) bool {
		return strings.HasPrefix(c.Name, InternalPrefix)
	})
	n := b.NumRows()
	for i := 0; i < n; i++ {
		w.buf = append(w.buf[:0], '{')
		first := true
		for _, c := range cols {
			isRaw := rawJSON[c.Name]
			if isRaw && c.Type == task.String && c.Strings[i] == "" {
				continue // the record had no such key
			}
			if !first {
				w.buf = append(w.buf, ',')
			}
			first = false
			var err error
			if w.buf, err = appendField(w.buf, c, i, isRaw); err != nil {
				return fmt.Errorf("dataio: jsonl %s: %w", w.path, err)
			}
		}
		w.buf = append(w.buf, '}', '\n')
		if _, err := w.w.bw.Write(w.buf); err != nil {
			return fmt.Errorf("dataio: write %s: %w", w.path, err)
		}
		w.n++
	}
	return nil
}

// appendField appends `"name":value` for row i of c.
func appendField(dst []byte, c *task.Column, i int, rawJSON bool) ([]byte, error) {
	dst = appendJSONString(dst, c.Name)
	dst = append(dst, ':')
	switch c.Type {
	case task.String:
		if rawJSON {
			if c.Strings[i] == "" {
				return append(dst, "null"...), nil
			}
			return append(dst, c.Strings[i]...), nil
		}
		return appendJSONString(dst, c.Strings[i]), nil
	case task.Bytes:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, c.Bytes[i])
		return append(dst, '"'), nil
	case task.Int64:
		return strconv.AppendInt(dst, c.Ints[i], 10), nil
	case task.Float64:
		f := c.Floats[i]
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("column %q, row %d: %v has no JSON representation", c.Name, i, f)
		}
		return appendJSONFloat(dst, f), nil
	case task.Bool:
		return strconv.AppendBool(dst, c.Bools[i]), nil
	case task.Uint32List:
		dst = append(dst, '[')
		for k, x := range c.U32s[i] {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(x), 10)
		}
		return append(dst, ']'), nil
	}
	return nil, fmt.Errorf("column %q: unknown type %s", c.Name, c.Type)
}

// appendJSONFloat formats f the way encoding/json does: plain decimal
// notation, switching to an exponent for very large or small magnitudes.
func appendJSONFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, f, format, -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Close finishes the file and renames it into place. After a failed Write,
// Close returns that error and nothing is created.
func (w *JSONLWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	w.err = errors.New("dataio: jsonl writer is closed")
	return w.w.commit()
}

// Abort discards the output. It is a no-op after Close.
func (w *JSONLWriter) Abort() {
	if w.err == nil {
		w.err = errors.New("dataio: jsonl writer is aborted")
		w.w.abort()
	}
}
