// Package dataio reads and writes the files a curation pipeline consumes and
// produces: JSON Lines (plain, gzip or zstd compressed) and Parquet.
//
// # Documents
//
// Readers turn files into [task.DocumentBatch] values. Every batch carries,
// besides the data columns, three provenance columns that map each record
// back to its source:
//
//   - [FileColumn] (string): the path of the file the record came from.
//   - [RowColumn] (int64): the record's 0-based index within that file.
//   - [RawColumn] (bytes, JSONL only): the exact bytes of the record's line,
//     without the line terminator, so a writer can reproduce kept lines byte
//     for byte and fields the pipeline never looks at survive untouched.
//
// # JSON Lines rules
//
// A line is the bytes up to and excluding a "\n"; a final line without a
// trailing newline is an ordinary line. A "\r" before the "\n" is part of
// the line (and so of the raw bytes) and is treated as JSON whitespace.
// A line that is empty or holds only JSON whitespace (space, tab, "\r") is a
// blank line: it is skipped, counted in [ReadStats.BlankLines], and does not
// take a record index. Every other line is a record and takes the next record
// index, whether or not it turns out to be malformed; [RowColumn],
// [CountRecords] and [CopyJSONLFiltered] all use this same index, so ids
// assigned from record counts line up with what readers produce. Error
// messages name the 1-based physical line number ("file:line"), which is what
// editors show.
//
// A record is valid when it is a single JSON object, its text field is
// present and a JSON string, and that string is valid UTF-8. If a key occurs
// twice, the last occurrence wins (as in Python's json module). Key matching
// is exact and case-sensitive.
//
// Invalid records are never dropped silently: with [Fail] the reader returns
// a [*BadRecordError]; with [Skip] the record is handed to the configured
// [Quarantine] and counted in [ReadStats.BadRecords]. Problems that concern a
// whole file — a truncated gzip or zstd stream, a corrupt Parquet file — are
// always returned as errors that name the file, whatever the policy,
// because continuing would lose data without a record to show for it.
//
// # Types and nulls
//
// A [task.Column] may hold nulls (its validity bitmap, [task.Column.Nulls]).
// The Parquet reader keeps them, and keeps every column whatever its type:
// types task has no column type for (nested structs, lists and maps,
// timestamps, decimals, ...) travel as Opaque columns of Parquet values,
// and every column remembers its Parquet type ([task.Column.SourceType]),
// so that the Parquet writer writes the input's schema back. The JSONL
// writer writes nulls as null and Opaque columns as JSON (structs as
// objects, lists as arrays, maps as objects, decimals, timestamps and dates
// as strings); NaN and ±Inf follow [JSONLWriterOptions.NaN]. The JSONL
// reader reads only the text and id fields: the id column holds the id's
// raw JSON text, so a null id is the text "null", written back as null.
//
// # Writing
//
// Writers write to a temporary file in the destination directory and rename
// it into place on Close, so a destination path either holds a complete file
// or is untouched. The compression of JSONL output follows the destination's
// extension (".gz", ".zst" or ".zstd"); Parquet output is zstd compressed by
// default, with version 1 data pages (which every Parquet reader reads) and
// created_by "sluice version V (build R)".
//
// # Output safety
//
// Sluice never deletes or overwrites a file it did not write. Commands and
// pipeline.Run check outputs before any work ([CheckOverlap],
// [PrepareOutput], once per run and output directory); writers then go
// through an [Output] ([OpenOutput] per actor, [Output.Begin] and
// [Output.Commit] per file, or [Output.BeginFiles], a [WriteBatch] and
// [Output.CommitFiles] for many files written together), which keeps a
// record of every file in the directory's [RecordsDir]. An [OutputMode] says what happens to an
// occupied directory: refuse (the default), overwrite only Sluice's earlier
// files, or append. See docs/safety.md.
package dataio
