package jsonl

import (
	"github.com/sluice-data/sluice/stage"
)

// Register adds jsonl_reader, file_partitioning, jsonl_read_files and
// jsonl_writer to reg. A jsonl_reader built by reg builds its parts with reg.
func Register(reg *stage.Registry) error {
	for _, t := range Types(reg) {
		if err := reg.Register(t); err != nil {
			return err
		}
	}
	return nil
}

// Types returns the registry entries of this package. The jsonl_reader entry
// builds its parts with reg (which may be nil: the parts then carry no
// descriptor and run only on a local runtime).
func Types(reg *stage.Registry) []stage.Type {
	return []stage.Type{
		{
			Name: ReaderType,
			Doc: "Reads JSON Lines files (plain, .gz or .zst) into document batches. A composite: " +
				"<name>_partition (file_partitioning) turns the start task into file groups, and <name> " +
				"(jsonl_read_files) reads each group into batches with ids <group id>_<i>. Batches carry the " +
				"text and id fields plus provenance columns (_sluice_file, _sluice_row, _sluice_raw).",
			Fields: append(append([]stage.Field{
				{Name: "paths", Type: "[string]", Default: "[]", Doc: "input files and directories (walked recursively)"},
				{Name: "dir", Type: "string", Default: "", Doc: "one more input directory, appended to paths"},
			}, partitionFields[1:]...), readFilesFields...),
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
			Name:   PartitionType,
			Doc:    "Source stage: turns the start task into one file group per partition of the input files (deterministic ids fg_<hash>).",
			Fields: partitionFields,
			New: func(config []byte) (stage.Stage, error) {
				var c PartitionConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return NewPartition(c)
			},
		},
		{
			Name:   ReadFilesType,
			Doc:    "Reads each file group of JSON Lines files into document batches with ids <group id>_<i>.",
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
			Doc: "Writes each document batch to <dir>/<task id><extension>, atomically; lines read by jsonl_reader " +
				"are copied byte for byte. Other batches become one JSON object per row: nulls as null, columns read by " +
				"parquet_reader with their Parquet types (nested structs, lists and maps as JSON; timestamps, dates and " +
				"decimals as strings). Returns a file group of the written file per batch (or the batch, with output: batches). " +
				"Never deletes or overwrites a file Sluice did not write (docs/safety.md).",
			Fields: []stage.Field{
				{Name: "dir", Type: "string", Default: "(required)", Doc: "output directory"},
				{Name: "extension", Type: "string", Default: ".jsonl", Doc: "file name ending; .jsonl.gz or .jsonl.zst compress"},
				{Name: "mode", Type: "string", Default: "error", Doc: "if dir already holds files: error (refuse), overwrite (remove only the files Sluice wrote there, keep others) or append (keep them, add files)"},
				{Name: "records", Type: "string", Default: "auto", Doc: "auto (raw lines when present, else columns), raw or columns"},
				{Name: "raw_json_columns", Type: "[string]", Default: "[]", Doc: "string columns holding JSON text written verbatim"},
				{Name: "append_columns", Type: "[string]", Default: "[]", Doc: "columns added as extra keys to raw lines"},
				{Name: "output", Type: "string", Default: "files", Doc: "what the stage returns: files (a file group per batch) or batches"},
				{Name: "nan", Type: "string", Default: "error", Doc: "NaN and ±Inf, which JSON lacks: error (the batch fails, naming column and row), null, or string (\"NaN\", \"Infinity\")"},
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

var partitionFields = []stage.Field{
	{Name: "paths", Type: "[string]", Default: "(required)", Doc: "input files and directories (walked recursively)"},
	{Name: "extensions", Type: "[string]", Default: ".jsonl, .json (each also .gz, .zst, .zstd), .parquet", Doc: "file name endings picked up in directories (files named in paths are read whatever their names); skipped files are logged"},
	{Name: "files_per_partition", Type: "int", Default: "0", Doc: "files per file group (0 with no block_size: one file per group)"},
	{Name: "block_size", Type: "size", Default: "0", Doc: "group files up to this size, e.g. \"256MiB\" (exclusive with files_per_partition)"},
	{Name: "dataset", Type: "string", Default: "", Doc: "dataset name set on the tasks"},
}

var readFilesFields = []stage.Field{
	{Name: "text_field", Type: "string", Default: "text", Doc: "field holding the document text"},
	{Name: "id_field", Type: "string", Default: "id", Doc: "field holding the document id (\"-\" for none)"},
	{Name: "batch_rows", Type: "int", Default: "8192", Doc: "maximum rows per batch"},
	{Name: "on_bad_record", Type: "string", Default: "fail", Doc: "fail (the file group's task fails) or skip"},
	{Name: "quarantine_dir", Type: "string", Default: "", Doc: "with skip: receives <file group id>.jsonl holding the skipped records"},
	{Name: "omit_raw", Type: "bool", Default: "false", Doc: "leave out the raw-line column (the writer then serialises columns)"},
}
