package dataio

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-data/sluice/task"
)

// Names of the provenance columns readers add to every batch. Writers leave
// columns whose names start with InternalPrefix out of their output unless
// asked otherwise.
const (
	InternalPrefix = "_sluice_"
	FileColumn     = "_sluice_file"
	RowColumn      = "_sluice_row"
	RawColumn      = "_sluice_raw"
)

// MetaRawJSONColumns is the batch metadata key under which the JSONL reader
// lists (comma-separated) the String columns whose values are raw JSON text
// rather than plain strings (the id column). The JSONL writer honours it so
// such values are written back verbatim instead of being quoted again.
const MetaRawJSONColumns = "dataio.raw_json_columns"

// Defaults for ReadOptions.
const (
	DefaultTextField    = "text"
	DefaultIDField      = "id"
	DefaultBatchRows    = 8192
	DefaultMaxLineBytes = 256 << 20
)

// ReadOptions configures JSONLReader and ParquetReader. The zero value reads
// the "text" and "id" fields into batches of DefaultBatchRows rows and fails
// on the first bad record.
type ReadOptions struct {
	// Dataset is copied into every batch's header.
	Dataset string
	// TextField names the field holding the document text. Default "text".
	TextField string
	// IDField names the field holding the document id. JSONL readers keep the
	// id's raw JSON text (for example `"doc-1"` with its quotes, or `17`) in
	// a String column of that name, "" for records without one. Parquet
	// readers read it like any other column. Default "id"; "-" means none.
	IDField string
	// BatchRows bounds the number of rows in a batch. Default DefaultBatchRows.
	BatchRows int
	// OnBadRecord says what to do with records that cannot be used.
	OnBadRecord BadRecordPolicy
	// Quarantine receives skipped records under the Skip policy. When nil,
	// skipped records are only counted in ReadStats.BadRecords.
	Quarantine Quarantine
	// OmitRaw leaves RawColumn out of JSONL batches, halving their memory
	// when the original lines will not be written back.
	OmitRaw bool
	// MaxLineBytes bounds a JSONL line; a longer line is a bad record.
	// Default DefaultMaxLineBytes.
	MaxLineBytes int
	// RequireID, for JSONL, makes a record whose IDField is missing, null,
	// an empty string, or neither a string nor a number a bad record
	// (naming file:line and the field), for callers that report records by
	// their ids. RequireSingleLineID also rejects an id string holding a
	// line break ("\n" or "\r"), for lists of one id per line.
	RequireID           bool
	RequireSingleLineID bool
	// Columns, for Parquet, lists the columns to read (the text column is
	// always read). Nil reads all columns. Naming a column the file lacks is
	// an error.
	Columns []string
	// DropColumns, for Parquet, lists columns to leave out. Naming the
	// text column, or a column the file lacks, is an error.
	DropColumns []string
	// FileMetadata, for Parquet, copies each file's key/value metadata and
	// top-level field names into the metadata of its batches
	// (MetaParquetKeyValue, MetaParquetFields), for a Parquet writer to
	// write back. A batch then holds rows of one file only.
	FileMetadata bool
}

func (o ReadOptions) withDefaults() (ReadOptions, error) {
	if o.TextField == "" {
		o.TextField = DefaultTextField
	}
	if o.IDField == "" {
		o.IDField = DefaultIDField
	}
	if o.IDField == "-" {
		o.IDField = ""
	}
	if o.BatchRows <= 0 {
		o.BatchRows = DefaultBatchRows
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.TextField == o.IDField {
		return o, fmt.Errorf("dataio: text field and id field are both %q", o.TextField)
	}
	for _, n := range []string{o.TextField, o.IDField} {
		if n == FileColumn || n == RowColumn || n == RawColumn {
			return o, fmt.Errorf("dataio: field name %q is reserved for provenance", n)
		}
	}
	if (o.RequireID || o.RequireSingleLineID) && o.IDField == "" {
		return o, errors.New("dataio: RequireID needs an IDField")
	}
	if o.OnBadRecord != Fail && o.OnBadRecord != Skip {
		return o, fmt.Errorf("dataio: unknown bad-record policy %d", o.OnBadRecord)
	}
	return o, nil
}

// ReadStats counts what a reader has seen so far.
type ReadStats struct {
	// Files is the number of files opened.
	Files int64
	// EmptyFiles counts files that held no record (zero bytes, only blank
	// lines, or a Parquet file without rows). They are not errors.
	EmptyFiles int64
	// Rows is the number of records delivered in batches.
	Rows int64
	// BadRecords is the number of records skipped under the Skip policy.
	BadRecords int64
	// BlankLines counts skipped blank JSONL lines.
	BlankLines int64
	// Bytes is the number of uncompressed bytes consumed: JSONL line bytes
	// including terminators, or Parquet file sizes.
	Bytes int64
	// FileBytes is the on-disk size of the files opened.
	FileBytes int64
}

// BatchReader is what both JSONLReader and ParquetReader offer.
type BatchReader interface {
	// Next returns the next batch of at most BatchRows rows, or io.EOF after
	// the last one. Errors are sticky: once Next fails it keeps failing.
	Next(ctx context.Context) (*task.DocumentBatch, error)
	// Stats reports what has been read so far.
	Stats() ReadStats
	// Close releases the open file, if any.
	Close() error
}

// NewReader returns a JSONLReader or ParquetReader for paths, chosen by
// their extensions (see FormatOf). Mixing formats is an error.
func NewReader(paths []string, opts ReadOptions) (BatchReader, error) {
	if len(paths) == 0 {
		return NewJSONLReader(nil, opts)
	}
	f := FormatOf(paths[0])
	for _, p := range paths[1:] {
		if FormatOf(p) != f {
			return nil, fmt.Errorf("dataio: mixed formats: %s is %s but %s is %s", paths[0], f, p, FormatOf(p))
		}
	}
	if f == Parquet {
		return NewParquetReader(paths, opts)
	}
	return NewJSONLReader(paths, opts)
}
