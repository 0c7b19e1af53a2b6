package task

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// A Codec turns one task type into bytes and back. Every task type that
// crosses between actors needs one, because the networked runtime moves tasks
// between processes.
type Codec struct {
	// Kind is the value Task.Kind returns for the type.
	Kind string
	// Encode appends the type-specific body of t to w.
	Encode func(w *Writer, t Task) error
	// Decode reads a body written by Encode into a new task whose header is h.
	Decode func(r *Reader, h Header) (Task, error)
}

// Codecs is a set of codecs keyed by kind. The zero value is not usable; use
// NewCodecs, which registers the built-in types.
type Codecs struct {
	byKind map[string]Codec
}

// NewCodecs returns a codec set holding the codecs of the built-in task types.
func NewCodecs() *Codecs {
	c := &Codecs{byKind: make(map[string]Codec)}
	for _, codec := range []Codec{emptyCodec, fileGroupCodec, documentBatchCodec} {
		c.Register(codec)
	}
	c.Register(Codec{Kind: KindFailed, Encode: c.encodeFailed, Decode: c.decodeFailed})
	return c
}

// Register adds or replaces the codec for codec.Kind.
func (c *Codecs) Register(codec Codec) { c.byKind[codec.Kind] = codec }

// Has reports whether a codec is registered for kind.
func (c *Codecs) Has(kind string) bool {
	_, ok := c.byKind[kind]
	return ok
}

const wireVersion = 1

// Marshal encodes t, header and body, tagged with its kind.
func (c *Codecs) Marshal(t Task) ([]byte, error) {
	w := &Writer{}
	if err := c.marshalTo(w, t); err != nil {
		return nil, err
	}
	return w.Bytes(), nil
}

func (c *Codecs) marshalTo(w *Writer, t Task) error {
	codec, ok := c.byKind[t.Kind()]
	if !ok {
		return fmt.Errorf("task codec: no codec registered for kind %q (task %s)", t.Kind(), t.ID())
	}
	w.Byte(wireVersion)
	w.String(t.Kind())
	writeHeader(w, t.header())
	if err := codec.Encode(w, t); err != nil {
		return fmt.Errorf("task codec: encode %s %s: %w", t.Kind(), t.ID(), err)
	}
	return nil
}

// Unmarshal decodes a task written by Marshal.
func (c *Codecs) Unmarshal(b []byte) (Task, error) {
	r := NewReader(b)
	t, err := c.unmarshalFrom(r)
	if err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("task codec: %d trailing bytes after %s %s", r.Len(), t.Kind(), t.ID())
	}
	return t, nil
}

func (c *Codecs) unmarshalFrom(r *Reader) (Task, error) {
	if v := r.Byte(); v != wireVersion && r.Err() == nil {
		return nil, fmt.Errorf("task codec: wire version %d, want %d", v, wireVersion)
	}
	kind := r.String()
	h := readHeader(r)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("task codec: header: %w", err)
	}
	codec, ok := c.byKind[kind]
	if !ok {
		return nil, fmt.Errorf("task codec: no codec registered for kind %q (task %s)", kind, h.TaskID)
	}
	t, err := codec.Decode(r, h)
	if err == nil {
		err = r.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("task codec: decode %s %s: %w", kind, h.TaskID, err)
	}
	return t, nil
}

// MarshalList encodes a list of tasks.
func (c *Codecs) MarshalList(ts []Task) ([]byte, error) {
	w := &Writer{}
	w.Uvarint(uint64(len(ts)))
	for _, t := range ts {
		if err := c.marshalTo(w, t); err != nil {
			return nil, err
		}
	}
	return w.Bytes(), nil
}

// UnmarshalList decodes a list written by MarshalList.
func (c *Codecs) UnmarshalList(b []byte) ([]Task, error) {
	r := NewReader(b)
	n := r.Count()
	ts := make([]Task, 0, n)
	for range n {
		t, err := c.unmarshalFrom(r)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("task codec: list: %w", err)
	}
	return ts, nil
}

func writeHeader(w *Writer, h *Header) {
	w.String(h.TaskID)
	w.String(h.DatasetName)
	keys := make([]string, 0, len(h.Metadata))
	for k := range h.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic bytes
	w.Uvarint(uint64(len(keys)))
	for _, k := range keys {
		w.String(k)
		w.String(h.Metadata[k])
	}
	w.Uvarint(uint64(len(h.Records)))
	for _, rec := range h.Records {
		w.String(rec.Stage)
		w.Varint(int64(rec.ProcessTime))
		w.Varint(int64(rec.ItemsIn))
		w.Varint(int64(rec.ItemsOut))
		ck := make([]string, 0, len(rec.Custom))
		for k := range rec.Custom {
			ck = append(ck, k)
		}
		slices.Sort(ck)
		w.Uvarint(uint64(len(ck)))
		for _, k := range ck {
			w.String(k)
			w.Float64(rec.Custom[k])
		}
	}
}

func readHeader(r *Reader) Header {
	var h Header
	h.TaskID = r.String()
	h.DatasetName = r.String()
	if n := r.Count(); n > 0 {
		h.Metadata = make(map[string]string, n)
		for range n {
			k := r.String()
			h.Metadata[k] = r.String()
		}
	}
	if n := r.Count(); n > 0 {
		h.Records = make([]PerfRecord, n)
		for i := range h.Records {
			rec := &h.Records[i]
			rec.Stage = r.String()
			rec.ProcessTime = time.Duration(r.Varint())
			rec.ItemsIn = int(r.Varint())
			rec.ItemsOut = int(r.Varint())
			if m := r.Count(); m > 0 {
				rec.Custom = make(map[string]float64, m)
				for range m {
					k := r.String()
					rec.Custom[k] = r.Float64()
				}
			}
		}
	}
	return h
}

var emptyCodec = Codec{
	Kind:   KindEmpty,
	Encode: func(*Writer, Task) error { return nil },
	Decode: func(_ *Reader, h Header) (Task, error) { return &Empty{h}, nil },
}

var fileGroupCodec = Codec{
	Kind: KindFileGroup,
	Encode: func(w *Writer, t Task) error {
		g := t.(*FileGroup)
		w.Uvarint(uint64(len(g.Paths)))
		for _, p := range g.Paths {
			w.String(p)
		}
		return nil
	},
	Decode: func(r *Reader, h Header) (Task, error) {
		g := &FileGroup{Header: h}
		n := r.Count()
		g.Paths = make([]string, 0, n)
		for range n {
			g.Paths = append(g.Paths, r.String())
		}
		return g, nil
	},
}

var documentBatchCodec = Codec{
	Kind: KindDocumentBatch,
	Encode: func(w *Writer, t Task) error {
		b := t.(*DocumentBatch)
		if err := b.Validate(); err != nil {
			return err
		}
		w.String(b.TextColumn)
		w.Uvarint(uint64(len(b.Columns)))
		w.Uvarint(uint64(b.NumRows()))
		for _, c := range b.Columns {
			w.String(c.Name)
			tag := byte(c.Type)
			hasNulls := c.HasNulls()
			if hasNulls {
				tag |= colHasNulls
			}
			if c.SourceType != "" {
				tag |= colHasSourceType
			}
			w.Byte(tag)
			switch c.Type {
			case String:
				for _, s := range c.Strings {
					w.String(s)
				}
			case Bytes, Opaque:
				for _, s := range c.Bytes {
					w.BytesField(s)
				}
			case Int64:
				for _, v := range c.Ints {
					w.Varint(v)
				}
			case Float64:
				for _, v := range c.Floats {
					w.Float64(v)
				}
			case Bool:
				for _, v := range c.Bools {
					if v {
						w.Byte(1)
					} else {
						w.Byte(0)
					}
				}
			case Uint32List:
				for _, l := range c.U32s {
					w.Uvarint(uint64(len(l)))
					for _, v := range l {
						w.Uint32(v)
					}
				}
			default:
				return fmt.Errorf("column %q: unknown type %s", c.Name, c.Type)
			}
			if hasNulls {
				writeNulls(w, c)
			}
			if c.SourceType != "" {
				w.String(c.SourceType)
			}
		}
		return nil
	},
	Decode: func(r *Reader, h Header) (Task, error) {
		b := &DocumentBatch{Header: h, TextColumn: r.String()}
		nc := r.Count()
		rows := r.Count()
		for range nc {
			name := r.String()
			tag := r.Byte()
			c := &Column{Name: name, Type: ColumnType(tag &^ (colHasNulls | colHasSourceType))}
			if r.Err() != nil {
				return nil, r.Err()
			}
			switch c.Type {
			case String:
				c.Strings = make([]string, rows)
				for i := range c.Strings {
					c.Strings[i] = r.String()
				}
			case Bytes, Opaque:
				c.Bytes = make([][]byte, rows)
				for i := range c.Bytes {
					c.Bytes[i] = r.BytesField()
				}
			case Int64:
				c.Ints = make([]int64, rows)
				for i := range c.Ints {
					c.Ints[i] = r.Varint()
				}
			case Float64:
				c.Floats = make([]float64, rows)
				for i := range c.Floats {
					c.Floats[i] = r.Float64()
				}
			case Bool:
				c.Bools = make([]bool, rows)
				for i := range c.Bools {
					c.Bools[i] = r.Byte() != 0
				}
			case Uint32List:
				c.U32s = make([][]uint32, rows)
				for i := range c.U32s {
					l := make([]uint32, r.Count())
					for j := range l {
						l[j] = r.Uint32()
					}
					c.U32s[i] = l
				}
			default:
				return nil, fmt.Errorf("column %q: unknown type %d", c.Name, c.Type)
			}
			if tag&colHasNulls != 0 {
				readNulls(r, c, rows)
			}
			if tag&colHasSourceType != 0 {
				c.SourceType = r.String()
			}
			if r.Err() != nil {
				return nil, r.Err()
			}
			b.Columns = append(b.Columns, c)
		}
		return b, nil
	},
}

// Flags in the high bits of a column's type byte: the column's validity
// bitmap, then its source type, follow its values. Encodings without them
// (columns without nulls) are those of wire version 1 before nulls existed.
const (
	colHasNulls      = 0x80
	colHasSourceType = 0x40
)

// writeNulls writes c's null bitmap as (rows+7)/8 bytes, row 0 in the low
// bit of the first.
func writeNulls(w *Writer, c *Column) {
	n := c.Len()
	for i := 0; i < n; i += 8 {
		word := uint64(0)
		if k := i >> 6; k < len(c.Nulls) {
			word = c.Nulls[k]
		}
		w.Byte(byte(word >> (uint(i) & 63)))
	}
}

func readNulls(r *Reader, c *Column, rows int) {
	nb := (rows + 7) / 8
	if nb > r.Len() {
		r.fail(errShort)
		return
	}
	c.Nulls = make([]uint64, (rows+63)/64)
	for i := range nb {
		c.Nulls[i/8] |= uint64(r.Byte()) << (8 * uint(i%8))
	}
	if rows&63 != 0 {
		c.Nulls[len(c.Nulls)-1] &= 1<<(uint(rows)&63) - 1 // ignore padding bits
	}
}

func (c *Codecs) encodeFailed(w *Writer, t Task) error {
	f := t.(*Failed)
	w.String(f.Stage)
	w.String(f.Err)
	w.Uvarint(uint64(len(f.Attempts)))
	for _, a := range f.Attempts {
		w.String(a.Actor)
		w.String(a.Outcome)
		w.String(a.Error)
		w.Varint(a.At.UnixNano())
	}
	if f.Original == nil {
		w.Byte(0)
		return nil
	}
	w.Byte(1)
	return c.marshalTo(w, f.Original)
}

func (c *Codecs) decodeFailed(r *Reader, h Header) (Task, error) {
	f := &Failed{Header: h, Stage: r.String(), Err: r.String()}
	n := r.Count()
	for range n {
		a := Attempt{Actor: r.String(), Outcome: r.String(), Error: r.String()}
		a.At = time.Unix(0, r.Varint()).UTC()
		f.Attempts = append(f.Attempts, a)
	}
	if r.Byte() == 1 {
		orig, err := c.unmarshalFrom(r)
		if err != nil {
			return nil, err
		}
		f.Original = orig
	}
	return f, nil
}

// Writer appends primitive values to a growing buffer. It is the building
// block of task codecs.
type Writer struct{ buf []byte }

// Bytes returns the encoded bytes.
func (w *Writer) Bytes() []byte { return w.buf }

// Byte appends one byte.
func (w *Writer) Byte(b byte) { w.buf = append(w.buf, b) }

// Uvarint appends an unsigned varint.
func (w *Writer) Uvarint(v uint64) { w.buf = binary.AppendUvarint(w.buf, v) }

// Varint appends a signed varint.
func (w *Writer) Varint(v int64) { w.buf = binary.AppendVarint(w.buf, v) }

// Uint32 appends a little-endian uint32.
func (w *Writer) Uint32(v uint32) { w.buf = binary.LittleEndian.AppendUint32(w.buf, v) }

// Float64 appends a little-endian IEEE-754 float64.
func (w *Writer) Float64(v float64) {
	w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(v))
}

// String appends a length-prefixed string.
func (w *Writer) String(s string) {
	w.Uvarint(uint64(len(s)))
	w.buf = append(w.buf, s...)
}

// BytesField appends a length-prefixed byte slice. A nil slice and an empty
// one are encoded alike.
func (w *Writer) BytesField(b []byte) {
	w.Uvarint(uint64(len(b)))
	w.buf = append(w.buf, b...)
}

// Reader reads values written by a Writer. The first error sticks: later reads
// return zero values, and Err reports it.
type Reader struct {
	buf []byte
	err error
}

// NewReader returns a Reader over b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

var errShort = errors.New("unexpected end of data")

// Err returns the first error met, if any.
func (r *Reader) Err() error { return r.err }

// Len is the number of unread bytes.
func (r *Reader) Len() int { return len(r.buf) }

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.buf = nil
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.buf) < 1 {
		r.fail(errShort)
		return 0
	}
	b := r.buf[0]
	r.buf = r.buf[1:]
	return b
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.fail(errors.New("bad uvarint"))
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

// Count reads an unsigned varint used as an element count, rejecting counts
// larger than the remaining input could possibly hold.
func (r *Reader) Count() int {
	v := r.Uvarint()
	if v > uint64(len(r.buf))+1 && v > 1<<20 {
		r.fail(fmt.Errorf("count %d exceeds remaining %d bytes", v, len(r.buf)))
		return 0
	}
	return int(v)
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.buf)
	if n <= 0 {
		r.fail(errors.New("bad varint"))
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

// Uint32 reads a little-endian uint32.
func (r *Reader) Uint32() uint32 {
	if len(r.buf) < 4 {
		r.fail(errShort)
		return 0
	}
	v := binary.LittleEndian.Uint32(r.buf)
	r.buf = r.buf[4:]
	return v
}

// Float64 reads a little-endian float64.
func (r *Reader) Float64() float64 {
	if len(r.buf) < 8 {
		r.fail(errShort)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.buf))
	r.buf = r.buf[8:]
	return v
}

// String reads a length-prefixed string.
func (r *Reader) String() string { return string(r.BytesField()) }

// BytesField reads a length-prefixed byte slice. The result aliases the input.
func (r *Reader) BytesField() []byte {
	n := r.Uvarint()
	if n > uint64(len(r.buf)) {
		r.fail(errShort)
		return nil
	}
	b := r.buf[:n:n]
	r.buf = r.buf[n:]
	return b
}
