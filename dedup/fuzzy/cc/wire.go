package cc

import (
	"encoding/binary"
	"errors"
)

// Wire format. All messages are sequences of unsigned varints:
//   - sorted node ids are delta-coded (id - previous id as uint64, the first
//     relative to 0), which makes dense document-id ranges cost 1-2 bytes;
//   - a label is sent as node - label >= 0 (labels never exceed their node);
//   - positions in a subscription list are sent as gaps from the previous
//     position + 1.

// errCorrupt reports a message that does not decode; it means a bug or a
// mismatched peer, never bad input data.
var errCorrupt = errors.New("corrupt message")

// reader decodes varints from a message, remembering the first failure.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) more() bool { return len(r.b) > 0 && !r.bad }

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// idWriter appends delta-coded sorted ids.
type idWriter struct {
	b    []byte
	prev uint64
}

func (w *idWriter) id(x int64) {
	w.b = binary.AppendUvarint(w.b, uint64(x)-w.prev)
	w.prev = uint64(x)
}

func (w *idWriter) uvarint(x uint64) { w.b = binary.AppendUvarint(w.b, x) }

// idReader decodes what an idWriter wrote.
type idReader struct {
	reader
	prev uint64
}

func (r *idReader) id() int64 {
	r.prev += r.uvarint()
	return int64(r.prev)
}

func appendUvarint(b []byte, x uint64) []byte { return binary.AppendUvarint(b, x) }
