package dataio

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"

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
	// NaN says what becomes of NaN and infinite floats, which JSON cannot
	// represent: an error (the default), null, or a string.
	NaN NaNPolicy
}

// NaNPolicy says how a JSONL writer writes NaN and ±Inf.
type NaNPolicy uint8

const (
	// NaNError fails the write, naming the column and row.
	NaNError NaNPolicy = iota
	// NaNNull writes null.
	NaNNull
	// NaNString writes the strings "NaN", "Infinity" and "-Infinity"
	// (spelled as JavaScript and Python spell them).
	NaNString
)

// ParseNaNPolicy parses "error", "null" or "string" ("" is "error").
func ParseNaNPolicy(s string) (NaNPolicy, error) {
	switch s {
	case "", "error":
		return NaNError, nil
	case "null":
		return NaNNull, nil
	case "string":
		return NaNString, nil
	}
	return 0, fmt.Errorf("NaN policy %q: want error, null or string", s)
}

// errNonFinite marks a NaN or ±Inf that NaNError refuses.
var errNonFinite = errors.New("has no JSON representation; set the writer's nan option to null or string to write it")

// appendFloatJSON appends f (of bitSize 32 or 64) as a JSON number, or per
// nan when it is not finite.
func appendFloatJSON(dst []byte, f float64, bitSize int, nan NaNPolicy) ([]byte, error) {
	if !math.IsNaN(f) && !math.IsInf(f, 0) {
		return appendJSONFloatBits(dst, f, bitSize), nil
	}
	switch nan {
	case NaNNull:
		return append(dst, "null"...), nil
	case NaNString:
		switch {
		case math.IsNaN(f):
			return append(dst, `"NaN"`...), nil
		case f > 0:
			return append(dst, `"Infinity"`...), nil
		}
		return append(dst, `"-Infinity"`...), nil
	}
	return dst, fmt.Errorf("%v %w", f, errNonFinite)
}

// JSONLWriter writes DocumentBatches as JSON Lines to one file, compressed
// according to its extension. For batches written as raw lines each row's
// RawColumn bytes are written followed by "\n", so lines read by a
// JSONLReader come out byte for byte as they went in (a final line that had
// no terminator gains one). Otherwise each row becomes a JSON object of the
// batch's columns, in order, leaving out columns whose names start with
// InternalPrefix: strings as JSON strings, bytes base64-encoded, numbers,
// booleans, lists as arrays, nulls as null, and Opaque columns read from
// Parquet (nested structs, lists and maps, timestamps, decimals, ...) as
// the JSON described at appendOpaqueJSON. NaN and infinite floats are
// errors unless JSONLWriterOptions.NaN says otherwise.
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
	w, err := createCompressed(context.Background(), path)
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
	jcols, err := prepareJSONCols(extra, rawJSON)
	if err != nil {
		return fmt.Errorf("dataio: jsonl %s: %w", w.path, err)
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
		for k := range jcols {
			if !empty {
				w.buf = append(w.buf, ',')
			}
			empty = false
			var err error
			if w.buf, err = appendField(w.buf, &jcols[k], i, w.opts.NaN); err != nil {
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
	cols, err := prepareJSONCols(slices.DeleteFunc(slices.Clone(b.Columns), func(c *task.Column) bool {
		return strings.HasPrefix(c.Name, InternalPrefix)
	}), rawJSON)
	if err != nil {
		return fmt.Errorf("dataio: jsonl %s: %w", w.path, err)
	}
	n := b.NumRows()
	for i := 0; i < n; i++ {
		w.buf = append(w.buf[:0], '{')
		first := true
		for k := range cols {
			jc := &cols[k]
			if jc.raw && jc.c.Type == task.String && jc.c.Strings[i] == "" && !jc.c.IsNull(i) {
				continue // the record had no such key
			}
			if !first {
				w.buf = append(w.buf, ',')
			}
			first = false
			var err error
			if w.buf, err = appendField(w.buf, jc, i, w.opts.NaN); err != nil {
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

// jsonCol is a column prepared for writing as JSON.
type jsonCol struct {
	c    *task.Column
	raw  bool         // a String column of raw JSON text
	node parquet.Node // Opaque columns: the Parquet field
	tree *jnode       // and its assembly tree
	bits int          // Float64 columns: 32 when read from a Parquet float
}

// prepareJSONCols prepares cols, failing (before any row is written) on a
// column the writer cannot write.
func prepareJSONCols(cols []*task.Column, rawJSON map[string]bool) ([]jsonCol, error) {
	out := make([]jsonCol, len(cols))
	for i, c := range cols {
		jc := jsonCol{c: c, raw: rawJSON[c.Name], bits: 64}
		node, ok, err := decodeNode(c.SourceType)
		switch {
		case err != nil:
			return nil, fmt.Errorf("column %q: %w", c.Name, err)
		case c.Type == task.Opaque && !ok:
			return nil, fmt.Errorf("column %q holds opaque values of a type the JSONL writer does not know (source type %.20q); leave it out", c.Name, c.SourceType)
		case ok && c.Type == task.Float64 && node.Leaf() && node.Type().Kind() == parquet.Float:
			jc.bits = 32
		}
		if c.Type == task.Opaque {
			jc.node, jc.tree = node, prepareJSON(node)
		}
		out[i] = jc
	}
	return out, nil
}

// appendField appends `"name":value` for row i of jc.
func appendField(dst []byte, jc *jsonCol, i int, nan NaNPolicy) ([]byte, error) {
	c := jc.c
	dst = appendJSONString(dst, c.Name)
	dst = append(dst, ':')
	if c.IsNull(i) {
		return append(dst, "null"...), nil
	}
	switch c.Type {
	case task.String:
		if jc.raw {
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
		out, err := appendFloatJSON(dst, c.Floats[i], jc.bits, nan)
		if err != nil {
			return nil, fmt.Errorf("column %q, row %d: %w", c.Name, i, err)
		}
		return out, nil
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
	case task.Opaque:
		out, err := appendOpaqueJSON(dst, jc.tree, c.Bytes[i], nan)
		if err != nil {
			return nil, fmt.Errorf("column %q (%s), row %d: %w", c.Name, describeNode(jc.node), i, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("column %q: unknown type %s", c.Name, c.Type)
}

// appendJSONFloatBits formats f, a value of bitSize 32 or 64, the way
// encoding/json does: the fewest digits that read back as the same value,
// in plain decimal notation, switching to an exponent for very large or
// small magnitudes.
func appendJSONFloatBits(dst []byte, f float64, bitSize int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, f, format, -1, bitSize)
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
