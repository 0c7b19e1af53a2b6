package shuffle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Spill file layout
//
// A spilled run is one file holding the rows of every local partition,
// sorted by (local partition, key, value). Each partition's rows form a
// contiguous section; the section boundaries (the run's index) stay in
// memory, 8 bytes per owned partition per run. A section is a sequence of
// blocks; a block never spans two sections and holds whole rows:
//
//	block := rawLen uint32le, storedLen uint32le, stored [storedLen]byte
//	row   := uvarint(len(key)) uvarint(len(value)) key value
//
// stored is the raw rows compressed with the run's codec, or the raw rows
// themselves when storedLen == rawLen (compression is skipped for blocks it
// does not shrink). A reader fetches a block and the next block's header in
// a single pread, so each open section costs one block buffer (two when
// compressed) and no other read buffering.

const blockHeaderSize = 8

// Compression selects how spill files are compressed.
type Compression int

const (
	// CompressionNone writes raw blocks. It is the default: LSH rows are
	// mostly random hash bytes, and on this package's LSH benchmark (10M
	// rows, 64 MiB limit) S2 shrank spill files by only 18% and zstd by
	// 37%, while costing 20% and 40% more CPU per row. Spill files that
	// stay in the page cache gain nothing from being smaller.
	CompressionNone Compression = iota
	// CompressionS2 compresses each block with S2 (klauspost/compress):
	// the cheapest compression, for disks slower than the CPU.
	CompressionS2
	// CompressionZstd compresses each block with zstd at its fastest
	// level: the smallest files, at the highest CPU cost.
	CompressionZstd
)

// String returns the option's name.
func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionS2:
		return "s2"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// codec compresses and decompresses blocks for one engine. Its zstd coders,
// if any, are safe for concurrent use.
type codec struct {
	kind Compression
	zenc *zstd.Encoder
	zdec *zstd.Decoder
}

func newCodec(kind Compression) (*codec, error) {
	c := &codec{kind: kind}
	switch kind {
	case CompressionNone, CompressionS2:
	case CompressionZstd:
		var err error
		c.zenc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return nil, fmt.Errorf("shuffle: zstd encoder: %w", err)
		}
		c.zdec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderLowmem(true))
		if err != nil {
			c.zenc.Close()
			return nil, fmt.Errorf("shuffle: zstd decoder: %w", err)
		}
	default:
		return nil, fmt.Errorf("shuffle: unknown Compression %d", int(kind))
	}
	return c, nil
}

func (c *codec) close() {
	if c.zenc != nil {
		c.zenc.Close()
		c.zdec.Close()
	}
}

// compress appends the compressed form of src to dst.
func (c *codec) compress(dst, src []byte) []byte {
	switch c.kind {
	case CompressionS2:
		need := len(dst) + s2.MaxEncodedLen(len(src))
		if cap(dst) < need {
			dst = append(make([]byte, 0, need), dst...)
		}
		out := s2.Encode(dst[len(dst):need], src)
		return dst[:len(dst)+len(out)]
	case CompressionZstd:
		return c.zenc.EncodeAll(src, dst)
	}
	return append(dst, src...)
}

// decompress decodes src, whose raw size is rawLen, reusing dst's storage.
func (c *codec) decompress(dst, src []byte, rawLen int) ([]byte, error) {
	if cap(dst) < rawLen {
		dst = make([]byte, rawLen)
	}
	var out []byte
	var err error
	switch c.kind {
	case CompressionS2:
		out, err = s2.Decode(dst[:rawLen], src)
	case CompressionZstd:
		out, err = c.zdec.DecodeAll(src, dst[:0])
	default:
		err = errors.New("compressed block in an uncompressed run")
	}
	if err != nil {
		return dst, err
	}
	if len(out) != rawLen {
		return dst, fmt.Errorf("block decoded to %d bytes, header says %d", len(out), rawLen)
	}
	return out, nil
}

// A run is one spilled, sorted run on disk.
type run struct {
	path    string
	f       *os.File
	offsets []int64 // section of local partition i is [offsets[i], offsets[i+1])
	rows    int64
}

func (r *run) size() int64 { return r.offsets[len(r.offsets)-1] }

// section returns the byte range of local partition lp.
func (r *run) section(lp int) (start, end int64) { return r.offsets[lp], r.offsets[lp+1] }

// remove closes and deletes the run's file.
func (r *run) remove() error {
	err := r.f.Close()
	if rerr := os.Remove(r.path); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("shuffle: remove spill file %s: %w", r.path, err)
	}
	return nil
}

// runWriter writes one run. Rows must arrive in (local partition, key,
// value) order. Its block buffers are reused across runs.
type runWriter struct {
	codec     *codec
	blockSize int
	raw       []byte // header space + raw rows of the block being built
	out       []byte // header + compressed block

	f       *os.File
	path    string
	off     int64
	offsets []int64
	next    int // first local partition whose start offset is not yet recorded
	rows    int64
}

// begin starts a run in a new file.
func (w *runWriter) begin(path string, numLocal int) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("shuffle: create spill file: %w", err)
	}
	w.f, w.path, w.off, w.next, w.rows = f, path, 0, 0, 0
	w.offsets = make([]int64, numLocal+1)
	if cap(w.raw) < blockHeaderSize+w.blockSize {
		w.raw = make([]byte, blockHeaderSize, blockHeaderSize+w.blockSize)
	}
	w.raw = w.raw[:blockHeaderSize]
	return nil
}

// startPartition ends the current section and starts local partition lp's.
func (w *runWriter) startPartition(lp int) error {
	if err := w.flushBlock(); err != nil {
		return err
	}
	for ; w.next <= lp; w.next++ {
		w.offsets[w.next] = w.off
	}
	return nil
}

// add appends one row to the current section.
func (w *runWriter) add(key, value []byte) error {
	n := rowLen(key, value)
	if len(w.raw) > blockHeaderSize && len(w.raw)-blockHeaderSize+n > w.blockSize {
		if err := w.flushBlock(); err != nil {
			return err
		}
	}
	w.raw = binary.AppendUvarint(w.raw, uint64(len(key)))
	w.raw = binary.AppendUvarint(w.raw, uint64(len(value)))
	w.raw = append(w.raw, key...)
	w.raw = append(w.raw, value...)
	w.rows++
	return nil
}

func (w *runWriter) flushBlock() error {
	rawLen := len(w.raw) - blockHeaderSize
	if rawLen == 0 {
		return nil
	}
	if uint64(rawLen) > 1<<32-1 {
		return fmt.Errorf("shuffle: write spill file %s: row of %d bytes exceeds the 4 GiB block limit", w.path, rawLen)
	}
	block := w.raw
	if w.codec.kind != CompressionNone {
		w.out = w.codec.compress(append(w.out[:0], 0, 0, 0, 0, 0, 0, 0, 0), w.raw[blockHeaderSize:])
		if len(w.out)-blockHeaderSize < rawLen {
			block = w.out
		}
	}
	binary.LittleEndian.PutUint32(block[0:], uint32(rawLen))
	binary.LittleEndian.PutUint32(block[4:], uint32(len(block)-blockHeaderSize))
	if _, err := w.f.Write(block); err != nil {
		return fmt.Errorf("shuffle: write spill file %s: %w", w.path, err)
	}
	w.off += int64(len(block))
	w.raw = w.raw[:blockHeaderSize]
	if cap(w.raw) > 4*(blockHeaderSize+w.blockSize) { // drop a buffer grown by a huge row
		w.raw = make([]byte, blockHeaderSize, blockHeaderSize+w.blockSize)
	}
	if cap(w.out) > 4*(blockHeaderSize+w.blockSize) {
		w.out = nil
	}
	return nil
}

// end finishes the run and returns it. On error the file is removed.
func (w *runWriter) end() (*run, error) {
	err := w.startPartition(len(w.offsets) - 1)
	if err != nil {
		w.abort()
		return nil, err
	}
	r := &run{path: w.path, f: w.f, offsets: w.offsets, rows: w.rows}
	w.f, w.offsets = nil, nil
	return r, nil
}

// abort discards a partly written run.
func (w *runWriter) abort() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.path)
		w.f, w.offsets = nil, nil
	}
}

// runCursor iterates the rows of one section of a run. Its buffers are
// reused when it is reset to another section.
type runCursor struct {
	codec *codec
	r     io.ReaderAt
	path  string
	pos   int64 // file offset of the next unread byte of the section
	end   int64

	hasNext             bool // a further block exists; its header is below
	nextRaw, nextStored int
	buf                 []byte // stored block + next block's header
	dec                 []byte // decompressed block
	data                []byte // raw rows of the current block
	p                   int    // read position in data
	key, value          []byte
}

// reset points the cursor at the section [start, end) of r.
func (c *runCursor) reset(r *run, start, end int64) error {
	c.r, c.path, c.pos, c.end = r.f, r.path, start, end
	c.data, c.p, c.hasNext = c.data[:0], 0, false
	if start == end {
		return nil
	}
	var hdr [blockHeaderSize]byte
	if err := c.readAt(hdr[:]); err != nil {
		return err
	}
	return c.parseHeader(hdr[:])
}

func (c *runCursor) readAt(b []byte) error {
	if int64(len(b)) > c.end-c.pos {
		return c.corrupt(fmt.Errorf("block overruns its section"))
	}
	n, err := c.r.ReadAt(b, c.pos)
	if n == len(b) {
		err = nil
	} else if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("shuffle: read spill file %s at %d: %w", c.path, c.pos, err)
	}
	c.pos += int64(n)
	return nil
}

func (c *runCursor) parseHeader(h []byte) error {
	c.nextRaw = int(binary.LittleEndian.Uint32(h))
	c.nextStored = int(binary.LittleEndian.Uint32(h[4:]))
	if c.nextRaw == 0 || c.nextStored == 0 || c.nextStored > c.nextRaw ||
		c.nextStored < c.nextRaw && c.codec.kind == CompressionNone {
		return c.corrupt(fmt.Errorf("bad block header (raw %d, stored %d)", c.nextRaw, c.nextStored))
	}
	c.hasNext = true
	return nil
}

func (c *runCursor) corrupt(err error) error {
	return fmt.Errorf("shuffle: corrupt spill file %s near offset %d: %w", c.path, c.pos, err)
}

// loadBlock reads the next block, and the header after it if any.
func (c *runCursor) loadBlock() error {
	n := c.nextStored
	want := n
	if c.pos+int64(n) < c.end {
		want += blockHeaderSize
	}
	if cap(c.buf) < want {
		c.buf = make([]byte, want)
	}
	b := c.buf[:want]
	if err := c.readAt(b); err != nil {
		return err
	}
	raw := c.nextRaw
	c.hasNext = false
	if want > n {
		if err := c.parseHeader(b[n:]); err != nil {
			return err
		}
	}
	if n == raw {
		c.data = b[:n]
	} else {
		var err error
		c.dec, err = c.codec.decompress(c.dec, b[:n], raw)
		if err != nil {
			return c.corrupt(err)
		}
		c.data = c.dec
	}
	c.p = 0
	return nil
}

// next advances to the next row, reporting false at the end of the
// section. The previous row's key and value become invalid.
func (c *runCursor) next() (bool, error) {
	if c.p >= len(c.data) {
		if !c.hasNext {
			return false, nil
		}
		if err := c.loadBlock(); err != nil {
			return false, err
		}
	}
	kl, vl, hdr, err := decodeLens(c.data[c.p:])
	if err != nil {
		return false, c.corrupt(err)
	}
	s := c.p + hdr
	c.key, c.value = c.data[s:s+kl], c.data[s+kl:s+kl+vl]
	c.p = s + kl + vl
	return true, nil
}

func (c *runCursor) current() (key, value []byte) { return c.key, c.value }
