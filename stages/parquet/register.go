package parquet

import (
	"github.com/sluice-data/sluice/stage"
)

// Register adds parquet_reader, parquet_read_files and parquet_writer to
// reg. A parquet_reader built by reg builds its parts with reg, which must
// also hold file_partitioning (see the jsonl package).
func Register(reg *stage.Registry) error {
	for _, t := range Types(reg) {
		if err := reg.Register(t); err != nil {
			return err
		}
	}
	return nil
}

// Types returns the registry entries of this package. The parquet_reader
// entry builds its parts with reg (which may be nil: the parts then carry
// no descriptor and run only on a local runtime).
func Types(reg *stage.Registry) []stage.Type {
	return []stage.Type{
		{
			Name: ReaderType,
			Doc: "Reads Parquet files into document batches, keeping every column with its Parquet type: nulls stay " +
				"null; nested structs, lists and maps, timestamps, decimals and other types pass through unchanged to " +
				"parquet_writer (jsonl_writer renders them as JSON). A composite: <name>_partition (file_partitioning) " +
				"turns the start task into file groups, and <name> (parquet_read_files) reads each group into batches " +
				"with ids <group id>_<i>, each from one file, with metadata source_file and source_rows (1-based " +
				"FIRST-LAST). Batches also carry the provenance columns _sluice_file and _sluice_row.",
			Fields: append([]stage.Field{
				{Name: "paths", Type: "[string]", Default: "[]", Doc: "input files and directories (walked recursively)"},
				{Name: "dir", Type: "string", Default: "", Doc: "one more input directory, appended to paths"},
				{Name: "extensions", Type: "[string]", Default: ".parquet", Doc: "file name endings picked up in directories"},
				{Name: "files_per_partition", Type: "int", Default: "0", Doc: "files per file group (0 with no block_size: one file per group)"},
				{Name: "block_size", Type: "size", Default: "0", Doc: "group files up to this size, e.g. \"256MiB\" (exclusive with files_per_partition)"},
				{Name: "dataset", Type: "string", Default: "", Doc: "dataset name set on the tasks"},
			}, readFilesFields...),
			New: func(config []byte) (stage.Stage, error) {
				var c ReaderConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				r, err := NewReader(c)
				if err != nil {
					return nil, err
				}
				r.reg = reg
				return r, nil
			},
		},
		{
			Name:   ReadFilesType,
			Doc:    "Reads each file group of Parquet files into document batches with ids <group id>_<i> (the second part of parquet_reader).",
			Fields: readFilesFields,
			New: func(config []byte) (stage.Stage, error) {
				var c ReadFilesConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return NewReadFiles(c)
			},
		},
		{
			Name: WriterType,
			Doc: "Writes each document batch to <dir>/<task id>.parquet, atomically. Columns read by parquet_reader keep " +
				"their Parquet type (repetition, logical type, field id, nested fields) and the source file's key/value " +
				"metadata is kept (ARROW:schema and pandas only while the columns are unchanged); other columns are " +
				"optional, typed string, binary, int64, double, boolean or list<uint32>. Nulls are written as nulls. " +
				"Data pages are version 1 unless page_version is 2. Returns a file group of the written file per batch " +
				"(or the batch, with output: batches).",
			Fields: []stage.Field{
				{Name: "dir", Type: "string", Default: "(required)", Doc: "output directory"},
				{Name: "mode", Type: "string", Default: "error", Doc: "when dir already holds files: error (refuse), overwrite (remove only the files Sluice wrote there earlier) or append (see docs/safety.md)"},
				{Name: "compression", Type: "string", Default: "zstd", Doc: "zstd, snappy, gzip, lz4 or none"},
				{Name: "row_group_rows", Type: "int", Default: "131072", Doc: "maximum rows per row group"},
				{Name: "row_group_bytes", Type: "size", Default: "32MiB", Doc: "end a row group at about this many uncompressed bytes, e.g. \"64MiB\""},
				{Name: "page_version", Type: "int", Default: "1", Doc: "data page version: 1 (read by every Parquet reader) or 2"},
				{Name: "include_internal", Type: "bool", Default: "false", Doc: "also write the provenance columns _sluice_file and _sluice_row"},
				{Name: "output", Type: "string", Default: "files", Doc: "what the stage returns: files (a file group per batch) or batches"},
			},
			New: func(config []byte) (stage.Stage, error) {
				var c WriterConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return NewWriter(c)
			},
		},
	}
}

var readFilesFields = []stage.Field{
	{Name: "text_field", Type: "string", Default: "text", Doc: "column holding the document text (string or binary; a null or non-UTF-8 text is a bad record)"},
	{Name: "columns", Type: "[string]", Default: "all", Doc: "read only these columns (and the text column)"},
	{Name: "drop_columns", Type: "[string]", Default: "[]", Doc: "leave these columns out (exclusive with columns); naming a missing column is an error"},
	{Name: "batch_rows", Type: "int", Default: "8192", Doc: "maximum rows per batch"},
	{Name: "on_bad_record", Type: "string", Default: "fail", Doc: "fail (the file group's task fails) or skip"},
	{Name: "quarantine_dir", Type: "string", Default: "", Doc: "with skip: receives <file group id>.jsonl holding the skipped records"},
}
