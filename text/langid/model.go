package langid

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/xxh3"
)

// modelData is the model gen writes: lingua-go's unigram, bigram and
// trigram probabilities of 75 languages (see NOTICE), zstd-compressed.
//
//go:embed model.bin.zst
var modelData []byte

// model is the parsed, immutable model: n-grams found by the xxh3 hash of
// their UTF-8 bytes in an open-addressing table, each with the languages
// that have it and -ln p in 1/1024 nat.
type model struct {
	codes   []string // language index -> code (ISO 639-1)
	scripts []string // language index -> script name (package unicode's)
	keys    []uint64 // n-gram index -> hash
	offs    []uint32 // n-gram index -> its entries, entries[offs[i]:offs[i+1]]
	entries []uint32 // language index << 16 | -ln p (1/1024 nat)
	table   []uint32 // slot -> n-gram index + 1 (0: empty)
	mask    uint64
}

// loadModel parses the embedded model once per process; the model is
// read-only and shared by every Detector.
var loadModel = sync.OnceValues(func() (*model, error) { return parseModel(modelData) })

func parseModel(compressed []byte) (*model, error) {
	zr, err := zstd.NewReader(nil)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	data, err := zr.DecodeAll(compressed, nil)
	if err != nil {
		return nil, fmt.Errorf("langid model: %w", err)
	}
	r := &reader{b: data}
	if !bytes.HasPrefix(data, []byte("sluice-langid 1\n")) {
		return nil, errors.New("langid model: unknown format")
	}
	r.b = r.b[len("sluice-langid 1\n"):]
	m := &model{}
	nl := r.uvarint()
	if nl > 255 {
		return nil, errors.New("langid model: too many languages")
	}
	for range nl {
		m.codes = append(m.codes, r.str())
		m.scripts = append(m.scripts, r.str())
	}
	nk, ne := r.uvarint(), r.uvarint()
	if nk > uint64(len(data)) || ne > uint64(len(data)) {
		return nil, errors.New("langid model: corrupt counts")
	}
	m.keys = make([]uint64, 0, nk)
	m.offs = make([]uint32, 1, nk+1)
	m.entries = make([]uint32, 0, ne)
	for range nk {
		m.keys = append(m.keys, xxh3.Hash(r.bytes()))
		ne := r.uvarint()
		if ne > uint64(len(m.codes)) {
			return nil, errors.New("langid model: corrupt entry count")
		}
		for range ne {
			lang, q := r.byte(), r.uint16()
			if int(lang) >= len(m.codes) {
				return nil, errors.New("langid model: corrupt language index")
			}
			m.entries = append(m.entries, uint32(lang)<<16|uint32(q))
		}
		m.offs = append(m.offs, uint32(len(m.entries)))
	}
	if r.err != nil || len(r.b) != 0 || uint64(len(m.entries)) != ne {
		return nil, errors.New("langid model: truncated or trailing data")
	}
	if err := m.buildTable(); err != nil {
		return nil, err
	}
	return m, nil
}

// buildTable indexes the n-gram hashes at a load factor of at most 1/2.
// Two n-grams of the model with one hash would make one unreachable: an
// error.
func (m *model) buildTable() error {
	size := uint64(1) << bits.Len64(uint64(2*len(m.keys)))
	m.table = make([]uint32, size)
	m.mask = size - 1
	for i, h := range m.keys {
		s := h & m.mask
		for m.table[s] != 0 {
			if m.keys[m.table[s]-1] == h {
				return fmt.Errorf("langid model: n-grams %d and %d share a hash", m.table[s]-1, i)
			}
			s = (s + 1) & m.mask
		}
		m.table[s] = uint32(i + 1)
	}
	return nil
}

// lookup returns the entries of the n-gram whose hash is h (nil if none).
func (m *model) lookup(h uint64) []uint32 {
	for s := h & m.mask; ; s = (s + 1) & m.mask {
		i := m.table[s]
		if i == 0 {
			return nil
		}
		if m.keys[i-1] == h {
			return m.entries[m.offs[i-1]:m.offs[i]]
		}
	}
}

// reader decodes the model's uvarints, strings and integers, remembering
// the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) str() string { return string(r.bytes()) }

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uint16() uint16 {
	if len(r.b) < 2 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errors.New("truncated")
	}
	r.b = nil
}
