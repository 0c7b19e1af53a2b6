package flow

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// idsFormat is the format of --removed-ids-out, chosen by its file name.
type idsFormat int

const (
	// idsText: one id per line, strings without quotes, numbers as in the
	// input. An id holding a line break cannot be written and is a bad
	// record (caught by the MinHash phase).
	idsText idsFormat = iota
	// idsJSONL (.jsonl, .json): one JSON value per line, each id exactly as
	// the input holds it (a JSON string or number).
	idsJSONL
	// idsParquet (.parquet): one string column named after --id-field.
	idsParquet
)

// removedIDsFormat picks the format of path by its extension.
func removedIDsFormat(path string) idsFormat {
	lower := strings.ToLower(path)
	switch {
	case strings.HasSuffix(lower, ".parquet"):
		return idsParquet
	case strings.HasSuffix(lower, ".jsonl"), strings.HasSuffix(lower, ".json"):
		return idsJSONL
	}
	return idsText
}

// IDRequirement says which ids the reading phase (MinHash, hashing)
// requires of every record: none without --removed-ids-out; else a usable
// --id-field, on one line for the text format.
func IDRequirement(c IO) (field string, singleLine bool) {
	if c.RemovedIDsOut == "" {
		return "", false
	}
	return c.IDField, removedIDsFormat(c.RemovedIDsOut) == idsText
}

// CheckIDField makes sure, before any work, that --id-field names a field
// the inputs have, when --removed-ids-out needs it: every Parquet file has
// such a column of a usable type, and some JSONL file's first record has
// the field (per-record checks come in the reading phase).
func CheckIDField(ctx context.Context, c IO, files []string) error {
	if c.RemovedIDsOut == "" {
		return nil
	}
	var jsonl []string
	for _, f := range files {
		if dataio.FormatOf(f) == dataio.Parquet {
			if err := checkParquetIDColumn(ctx, c, f); err != nil {
				return err
			}
		} else {
			jsonl = append(jsonl, f)
		}
	}
	var firstFields string
	var sample string
	for _, f := range jsonl {
		has, fields, err := firstRecordHasField(ctx, c, f)
		if err != nil {
			return err
		}
		if has {
			return nil
		}
		if sample == "" && fields != "" {
			sample, firstFields = f, fields
		}
	}
	if sample == "" {
		return nil // no JSONL records at all
	}
	return fmt.Errorf("%w: --id-field %q: no input file's first record has this field (the first record of %s has %s); --removed-ids-out lists removed documents by this field",
		ErrConfig, c.IDField, sample, firstFields)
}

// checkParquetIDColumn opens path for its id column.
func checkParquetIDColumn(ctx context.Context, c IO, path string) error {
	r, err := dataio.NewParquetReader([]string{path}, dataio.ReadOptions{TextField: c.TextField, IDField: c.IDField,
		Columns: []string{c.IDField}, BatchRows: 1, OnBadRecord: dataio.Skip})
	if err != nil {
		return fmt.Errorf("%w: --id-field %q: %s", ErrConfig, c.IDField, strings.TrimPrefix(err.Error(), "dataio: "))
	}
	defer r.Close()
	b, err := r.Next(ctx)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "dataio: ")
		if strings.Contains(msg, fmt.Sprintf("no column %q", c.IDField)) || strings.Contains(msg, "unsupported type") {
			return fmt.Errorf("%w: --id-field %q: %s", ErrConfig, c.IDField, msg)
		}
		return fmt.Errorf("%s: %s", path, msg)
	}
	if col := b.Column(c.IDField); col != nil && col.Type != task.String && col.Type != task.Bytes && col.Type != task.Int64 {
		return fmt.Errorf("%w: --id-field %q: column of %s has type %s; ids must be strings or integers", ErrConfig, c.IDField, path, col.Type)
	}
	return nil
}

// firstRecordHasField reads the first record of a JSONL file and says
// whether it has the id field, and what fields it has.
func firstRecordHasField(ctx context.Context, c IO, path string) (bool, string, error) {
	r, err := dataio.NewJSONLReader([]string{path}, dataio.ReadOptions{TextField: c.TextField, IDField: c.IDField, BatchRows: 1, OnBadRecord: dataio.Skip})
	if err != nil {
		return false, "", fmt.Errorf("%w: %s", ErrConfig, strings.TrimPrefix(err.Error(), "dataio: "))
	}
	defer r.Close()
	b, err := r.Next(ctx)
	if errors.Is(err, io.EOF) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "dataio: "))
	}
	if b.Column(c.IDField).Strings[0] != "" {
		return true, "", nil
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(b.Column(dataio.RawColumn).Bytes[0], &rec); err != nil {
		return false, "", nil
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range rec {
			if !yield(k) {
				return
			}
		}
	})
	return false, "fields " + strings.Join(keys, ", "), nil
}

// writeRemovedIDs writes the removed ids, listed as one JSON value per line
// in parts (missing parts are skipped), to dst in its format.
func writeRemovedIDsTo(parts []string, dst, idField string) error {
	format := removedIDsFormat(dst)
	if format == idsJSONL {
		return concatFiles(parts, dst)
	}
	if err := dataio.MkdirAll(context.Background(), dataio.DirOf(dst)); err != nil {
		return err
	}
	w, err := newIDSink(dst, format, idField)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if err := eachLine(p, w.add); err != nil {
			w.abort()
			return fmt.Errorf("removed ids: %w", err)
		}
	}
	return w.close()
}

// eachLine calls fn with every line of path; a missing file has none.
func eachLine(path string, fn func(line []byte) error) error {
	f, err := dataio.OpenStream(context.Background(), path, 0, -1)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// idSink writes ids, given as JSON values, as text lines or to Parquet.
type idSink struct {
	format  idsFormat
	idField string
	// text
	f   dataio.Writer
	bw  *bufio.Writer
	dst string
	// parquet
	pw  *dataio.ParquetWriter
	buf []string
}

func newIDSink(dst string, format idsFormat, idField string) (*idSink, error) {
	s := &idSink{format: format, idField: idField, dst: dst}
	if format == idsParquet {
		pw, err := dataio.CreateParquet(dst, dataio.ParquetWriterOptions{})
		if err != nil {
			return nil, err
		}
		s.pw = pw
		// An empty batch fixes the schema, so no removed ids still gives a
		// readable file.
		if err := s.flush(); err != nil {
			return nil, err
		}
		return s, nil
	}
	f, err := dataio.Create(context.Background(), dst)
	if err != nil {
		return nil, err
	}
	s.f, s.bw = f, bufio.NewWriterSize(f, 1<<20)
	return s, nil
}

// add writes one id, given as a JSON string or number.
func (s *idSink) add(line []byte) error {
	id := string(line)
	if len(line) > 0 && line[0] == '"' {
		if err := json.Unmarshal(line, &id); err != nil {
			return fmt.Errorf("id %s: %w", line, err)
		}
	}
	if s.format == idsParquet {
		s.buf = append(s.buf, id)
		if len(s.buf) == 1<<16 {
			return s.flush()
		}
		return nil
	}
	if strings.ContainsAny(id, "\n\r") {
		return fmt.Errorf("id %s holds a line break: write the list to a .jsonl or .parquet file", line)
	}
	s.bw.WriteString(id)
	return s.bw.WriteByte('\n')
}

func (s *idSink) flush() error {
	b := &task.DocumentBatch{TextColumn: s.idField, Columns: []*task.Column{{Name: s.idField, Type: task.String, Strings: s.buf}}}
	s.buf = s.buf[:0]
	return s.pw.Write(b)
}

func (s *idSink) close() error {
	if s.format == idsParquet {
		if len(s.buf) > 0 {
			if err := s.flush(); err != nil {
				return err
			}
		}
		return s.pw.Close()
	}
	if err := s.bw.Flush(); err != nil {
		s.abort()
		return err
	}
	return s.f.Commit()
}

func (s *idSink) abort() {
	if s.pw != nil {
		s.pw.Abort()
		return
	}
	s.f.Abort()
}
