package flow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unsafe"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// ReadOptions are the options a reading phase reads path with: the text
// only, or, with idField, the id too, which the JSONL reader then checks
// (RequireID; Parquet ids are checked by CheckParquetIDs).
func ReadOptions(dataset, path, textField, idField string, idSingleLine bool, batchRows int, policy dataio.BadRecordPolicy) dataio.ReadOptions {
	opts := dataio.ReadOptions{Dataset: dataset, TextField: textField, IDField: "-", BatchRows: batchRows, OnBadRecord: policy, OmitRaw: true}
	if idField != "" {
		opts.IDField, opts.RequireID, opts.RequireSingleLineID = idField, true, idSingleLine
	}
	if dataio.FormatOf(path) == dataio.Parquet {
		opts.Columns = []string{}
		if idField != "" {
			opts.Columns = []string{idField}
		}
	}
	return opts
}

// OpenRange opens a reader over one file range: its section, or the whole
// file.
func OpenRange(f FileRange, opts dataio.ReadOptions) (dataio.BatchReader, error) {
	switch {
	case f.Section != nil && dataio.FormatOf(f.Path) == dataio.Parquet:
		return dataio.NewParquetSectionReader(f.Path, *f.Section, opts)
	case f.Section != nil:
		return dataio.NewJSONLSectionReader(f.Path, *f.Section, opts)
	default:
		return dataio.NewReader([]string{f.Path}, opts)
	}
}

// CheckParquetIDs applies the JSONL reader's RequireID rules to a Parquet
// batch: an empty (or null) id, and with singleLine one holding a line
// break, make a bad record. Under Fail the first is returned as a
// *dataio.BadRecordError; under Skip bad rows go to the quarantine, are
// counted in *bad and are left out of the batch returned.
func CheckParquetIDs(b *task.DocumentBatch, path, idField string, singleLine bool, opts dataio.ReadOptions, bad *int64) (*task.DocumentBatch, error) {
	idc, rowc := b.Column(idField), b.Column(dataio.RowColumn)
	if idc == nil || rowc == nil {
		return nil, fmt.Errorf("minhash: %s: no %q column to check ids in", path, idField)
	}
	var keep []bool
	for i := range b.NumRows() {
		reason := parquetIDProblem(idc, i, singleLine)
		if reason == "" {
			continue
		}
		rec := &dataio.BadRecordError{File: path, Row: rowc.Ints[i], Field: idField, Reason: reason}
		if opts.OnBadRecord == dataio.Fail {
			return nil, rec
		}
		if opts.Quarantine != nil {
			if err := opts.Quarantine.Put(rec); err != nil {
				return nil, err
			}
		}
		*bad++
		if keep == nil {
			keep = make([]bool, b.NumRows())
			for j := range keep {
				keep[j] = true
			}
		}
		keep[i] = false
	}
	if keep == nil {
		return b, nil
	}
	return b.Filter(keep), nil
}

// parquetIDProblem says what makes row i's id unusable, or "". Parquet
// NULLs read as zero values (task.Column has no validity yet), so a null
// string id shows as empty and a null integer id as 0, which is accepted.
func parquetIDProblem(c *task.Column, i int, singleLine bool) string {
	var v string
	switch c.Type {
	case task.String:
		v = c.Strings[i]
	case task.Bytes:
		v = string(c.Bytes[i])
	case task.Int64:
		return ""
	default:
		return "has type " + c.Type.String() + ", want a string or an integer"
	}
	switch {
	case v == "":
		return "empty or null"
	case singleLine && strings.ContainsAny(v, "\n\r"):
		return "contains a line break, which a list of one id per line cannot hold"
	}
	return ""
}

// TextReader reads the documents of file ranges by a reading phase's rules
// (ReadOptions: the bad-record policy and quarantine, and the id checks),
// handing each document's id and text to a function. JSONL is read record
// by record without allocating per document; Parquet batch by batch.
type TextReader struct {
	// Opts are the read options (see ReadOptions); Opts.Quarantine
	// receives skipped records.
	Opts dataio.ReadOptions
	// IDField and IDSingleLine are the id requirements (IDRequirement),
	// which Parquet batches are checked against.
	IDField      string
	IDSingleLine bool

	// Stats add up what the reads saw; IDBad counts Parquet records
	// skipped for their ids (not in Stats.BadRecords).
	Stats dataio.ReadStats
	IDBad int64
}

// Each reads the file range f and calls fn with each good document's id
// (f.Base plus its record index) and text, which is valid only during the
// call.
func (r *TextReader) Each(ctx context.Context, f FileRange, fn func(id int64, text []byte) error) error {
	return r.EachWithID(ctx, f, func(id int64, text, _ []byte) error { return fn(id, text) })
}

// EachWithID is Each, also handing fn the document's original id as JSON
// (OriginalIDJSON; nil when it has none, or when the options do not read
// ids: see KeepIDs). Both are valid only during the call.
func (r *TextReader) EachWithID(ctx context.Context, f FileRange, fn func(id int64, text, origID []byte) error) error {
	opts := r.Opts
	br, err := OpenRange(f, opts)
	if err != nil {
		return err
	}
	if jr, ok := br.(*dataio.JSONLReader); ok {
		err = r.eachJSONL(ctx, jr, f, fn)
	} else {
		err = r.eachBatch(ctx, br, f, fn)
	}
	st := br.Stats()
	r.Stats.BadRecords += st.BadRecords
	r.Stats.EmptyFiles += st.EmptyFiles
	r.Stats.Rows += st.Rows
	r.Stats.Bytes += st.Bytes
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

func (r *TextReader) eachJSONL(ctx context.Context, jr *dataio.JSONLReader, f FileRange, fn func(id int64, text, origID []byte) error) error {
	for {
		rec, err := jr.NextRecord(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		orig := bytes.TrimSpace(rec.ID)
		if len(orig) == 0 || string(orig) == "null" {
			orig = nil
		}
		if err := fn(f.Base+rec.Row, rec.Text, orig); err != nil {
			return err
		}
	}
}

func (r *TextReader) eachBatch(ctx context.Context, br dataio.BatchReader, f FileRange, fn func(id int64, text, origID []byte) error) error {
	for {
		b, err := br.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		parquet := dataio.FormatOf(f.Path) == dataio.Parquet
		if r.IDField != "" && parquet {
			if b, err = CheckParquetIDs(b, f.Path, r.IDField, r.IDSingleLine, r.Opts, &r.IDBad); err != nil {
				return err
			}
		}
		rows := b.Column(dataio.RowColumn)
		if rows == nil {
			return fmt.Errorf("%s: the reader gave no %s column", f.Path, dataio.RowColumn)
		}
		var idc *task.Column
		if r.Opts.IDField != "-" {
			idc = b.Column(r.Opts.IDField)
		}
		for i, text := range b.Texts() {
			var orig []byte
			if js := OriginalIDJSON(idc, i, !parquet); js != nil {
				orig = []byte(*js)
			}
			if err := fn(f.Base+rows.Ints[i], unsafe.Slice(unsafe.StringData(text), len(text)), orig); err != nil {
				return err
			}
		}
	}
}
