package shuffle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// batchVersion is the first byte of every encoded Batch. It lets a
// receiver reject bytes written by an incompatible encoder.
const batchVersion = 1

// A Batch is an encoded run of (partition, key, value) rows: the unit that
// crosses between ranks. The zero value is an empty batch ready to use.
//
// The encoding is a version byte followed, for each row, by
// uvarint(partition) uvarint(len(key)) uvarint(len(value)) key value.
// Bytes returns it and SetBytes adopts (and validates) it, so a network
// Transport can ship a Batch as one message with no further framing.
//
// A Batch is not safe for concurrent use.
type Batch struct {
	buf  []byte
	rows int
}

// Append adds one row. The key and value are copied.
func (b *Batch) Append(partition int, key, value []byte) {
	if len(b.buf) == 0 {
		b.buf = append(b.buf, batchVersion)
	}
	b.buf = binary.AppendUvarint(b.buf, uint64(partition))
	b.buf = binary.AppendUvarint(b.buf, uint64(len(key)))
	b.buf = binary.AppendUvarint(b.buf, uint64(len(value)))
	b.buf = append(b.buf, key...)
	b.buf = append(b.buf, value...)
	b.rows++
}

// Grow makes room for n more encoded bytes without reallocating.
func (b *Batch) Grow(n int) {
	b.buf = slices.Grow(b.buf, n+1)
}

// Rows reports the number of rows in the batch.
func (b *Batch) Rows() int { return b.rows }

// Size reports the encoded size of the batch in bytes.
func (b *Batch) Size() int { return len(b.buf) }

// Reset empties the batch, keeping its buffer for reuse.
func (b *Batch) Reset() {
	b.buf = b.buf[:0]
	b.rows = 0
}

// Bytes returns the wire encoding of the batch. The slice aliases the
// batch's buffer: it is valid until the next Append, Reset or SetBytes.
func (b *Batch) Bytes() []byte {
	if len(b.buf) == 0 {
		return []byte{batchVersion}
	}
	return b.buf
}

// SetBytes replaces the batch's contents with data, an encoding produced
// by Bytes. It validates the whole encoding and returns an error, leaving
// the batch empty, if data is malformed. The batch takes ownership of data:
// the caller must not modify it afterwards.
func (b *Batch) SetBytes(data []byte) error {
	b.buf, b.rows = nil, 0
	if len(data) == 0 {
		return errors.New("shuffle: decode batch: empty input (missing version byte)")
	}
	if data[0] != batchVersion {
		return fmt.Errorf("shuffle: decode batch: unsupported version %d (want %d)", data[0], batchVersion)
	}
	rows := 0
	for pos := 1; pos < len(data); rows++ {
		_, _, _, n, err := decodeBatchRow(data[pos:])
		if err != nil {
			return fmt.Errorf("shuffle: decode batch: row %d at byte %d: %w", rows, pos, err)
		}
		pos += n
	}
	b.buf, b.rows = data, rows
	return nil
}

// Range calls fn for each row in order. The key and value slices alias the
// batch and are valid only during the call. Range stops at, and returns,
// the first error from fn.
func (b *Batch) Range(fn func(partition int, key, value []byte) error) error {
	for pos := 1; pos < len(b.buf); {
		p, k, v, n, err := decodeBatchRow(b.buf[pos:])
		if err != nil { // unreachable for batches built by Append or SetBytes
			return fmt.Errorf("shuffle: batch: %w", err)
		}
		pos += n
		if err := fn(p, k, v); err != nil {
			return err
		}
	}
	return nil
}

// errTruncated reports an encoded row that ends early.
var errTruncated = errors.New("truncated row")

// decodeBatchRow decodes the row at the start of data and returns it and
// its encoded length.
func decodeBatchRow(data []byte) (partition int, key, value []byte, n int, err error) {
	p, n1 := binary.Uvarint(data)
	if n1 <= 0 {
		return 0, nil, nil, 0, errTruncated
	}
	if p > uint64(maxInt) {
		return 0, nil, nil, 0, fmt.Errorf("partition %d out of range", p)
	}
	kl, vl, hdr, err := decodeLens(data[n1:])
	if err != nil {
		return 0, nil, nil, 0, err
	}
	start := n1 + hdr
	end := start + kl + vl
	return int(p), data[start : start+kl], data[start+kl : end], end, nil
}

// decodeLens decodes uvarint(len(key)) uvarint(len(value)) at the start of
// data and checks that the key and value that follow fit in data. It
// returns the lengths and the size of the header.
func decodeLens(data []byte) (kl, vl, hdr int, err error) {
	k, n1 := binary.Uvarint(data)
	if n1 <= 0 {
		return 0, 0, 0, errTruncated
	}
	v, n2 := binary.Uvarint(data[n1:])
	if n2 <= 0 {
		return 0, 0, 0, errTruncated
	}
	hdr = n1 + n2
	rest := uint64(len(data) - hdr)
	if k > rest || v > rest-k {
		return 0, 0, 0, errTruncated
	}
	return int(k), int(v), hdr, nil
}

const maxInt = int(^uint(0) >> 1)
