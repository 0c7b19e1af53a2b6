package dataio

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// listCursor streams a list<uint32> column chunk page by page, working on
// the pages' level and value arrays directly: several times faster than
// going through one parquet.Value per element. Pages whose values are not
// plain int32 arrays (dictionary-encoded ones) are first decoded into the
// same arrays.
type listCursor struct {
	pages parquet.Pages
	page  parquet.Page
	reps  []byte
	defs  []byte // nil: every slot holds a value
	vals  []int32
	slot  int // next level slot
	vi    int // next value
	eof   bool
	// Buffers for decoded (dictionary) pages.
	decReps, decDefs []byte
	decVals          []int32
	vbuf             []parquet.Value
	lastLen          int // length of the previous list, a capacity hint
}

func newListCursor(chunk parquet.ColumnChunk) *listCursor {
	return &listCursor{pages: chunk.Pages()}
}

func (c *listCursor) close() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	if c.pages != nil {
		c.pages.Close()
		c.pages = nil
	}
}

// fill makes sure a level slot is available, reading pages as needed.
func (c *listCursor) fill() error {
	for c.slot >= len(c.reps) {
		if c.eof {
			return io.EOF
		}
		if c.page != nil {
			parquet.Release(c.page)
			c.page = nil
		}
		p, err := c.pages.ReadPage()
		if err == io.EOF {
			c.eof = true
			return io.EOF
		}
		if err != nil {
			return err
		}
		c.page = p
		if err := c.load(p); err != nil {
			return err
		}
	}
	return nil
}

// load points the cursor at page p's levels and values.
func (c *listCursor) load(p parquet.Page) error {
	c.slot, c.vi = 0, 0
	c.reps, c.defs = p.RepetitionLevels(), p.DefinitionLevels()
	if p.Dictionary() == nil && p.Type().Kind() == parquet.Int32 {
		data := p.Data()
		c.vals = data.Int32()
		if len(c.reps) == int(p.NumValues()) && (c.defs == nil || len(c.defs) == len(c.reps)) {
			return nil
		}
	}
	// Slow path: decode the page value by value.
	n := int(p.NumValues())
	c.decReps, c.decDefs, c.decVals = c.decReps[:0], c.decDefs[:0], c.decVals[:0]
	if cap(c.vbuf) < 1024 {
		c.vbuf = make([]parquet.Value, 1024)
	}
	r := p.Values()
	for len(c.decReps) < n {
		k, err := r.ReadValues(c.vbuf)
		for _, v := range c.vbuf[:k] {
			c.decReps = append(c.decReps, byte(v.RepetitionLevel()))
			c.decDefs = append(c.decDefs, byte(v.DefinitionLevel()))
			if !v.IsNull() {
				c.decVals = append(c.decVals, v.Int32())
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if k == 0 {
			return io.ErrNoProgress
		}
	}
	c.reps, c.defs, c.vals = c.decReps, c.decDefs, c.decVals
	return nil
}

// readRow appends the next row's list to out (nil for a null or empty
// list) and reports whether the list is null.
func (c *listCursor) readRow(col *pqColumn, out *[][]uint32) (null bool, err error) {
	if err := c.fill(); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return false, err
	}
	if c.reps[c.slot] != 0 {
		return false, errors.New("row does not start at repetition level 0")
	}
	maxDef := byte(col.maxDef)
	if c.defs != nil && c.defs[c.slot] < byte(col.elemDef) {
		// A null list has a level below the list's own, an empty list
		// the list's own (elemDef-1).
		null = col.optional && c.defs[c.slot] == 0
		c.slot++
		*out = append(*out, nil)
		return null, nil
	}
	list := make([]uint32, 0, c.lastLen)
	for first := true; ; first = false {
		if !first {
			if err := c.fill(); err == io.EOF {
				break
			} else if err != nil {
				return false, err
			}
			if c.reps[c.slot] == 0 {
				break
			}
		}
		// The row's slots in this page run up to the next repetition level 0.
		end := len(c.reps)
		if i := bytes.IndexByte(c.reps[c.slot+1:], 0); i >= 0 {
			end = c.slot + 1 + i
		}
		n := end - c.slot
		if c.defs != nil {
			for _, d := range c.defs[c.slot:end] {
				if d != maxDef {
					return false, errors.New("null element in list<uint32>")
				}
			}
		}
		if c.vi+n > len(c.vals) {
			return false, fmt.Errorf("page holds %d values, levels need more", len(c.vals))
		}
		for _, v := range c.vals[c.vi : c.vi+n] {
			list = append(list, uint32(v))
		}
		c.vi += n
		c.slot = end
	}
	c.lastLen = len(list)
	*out = append(*out, list)
	return false, nil
}
