package dataio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/sluice-data/sluice/task"
)

// maxQuarantinedRaw bounds the raw bytes kept for an overlong line.
const maxQuarantinedRaw = 64 << 10

// arenaChunk is the size of the blocks raw lines are copied into.
const arenaChunk = 4 << 20

// utf8BOM is the byte order mark some tools put at the start of a file.
const utf8BOM = "\xEF\xBB\xBF"

// JSONLReader reads JSON Lines files, in order, into DocumentBatches. See the
// package documentation for the rules on lines, blank lines and bad records.
//
// Batches have these columns, in order: the text field (String), the id
// field (String holding raw JSON text; absent when IDField is "-"),
// FileColumn, RowColumn and, unless OmitRaw is set, RawColumn. A batch may
// hold rows of several consecutive files.
//
// A JSONLReader is not safe for concurrent use.
type JSONLReader struct {
	opts    ReadOptions
	paths   []string
	next    int // index in paths of the next file to open
	cur     *jsonlFile
	stats   ReadStats
	err     error // sticky
	names   []string
	spans   []jsonSpan
	arena   []byte
	long    []byte        // accumulates lines longer than the bufio buffer
	scratch []byte        // unescaped text
	buf     *bufio.Reader // the last file's, reused by the next
	meta    string        // value for MetaRawJSONColumns, or ""
	// section, when set, restricts the (single) file to a byte range.
	section *Section
	checked int // lines read, for checking the context now and then
}

// jsonlFile is the open file being read.
type jsonlFile struct {
	path string
	d    *decompressed
	br   *bufio.Reader
	line int64 // physical lines read so far
	row  int64 // records (non-blank lines) seen so far
	// startRow is row when the file (or section) was opened.
	startRow int64
}

// NewJSONLReader returns a reader over paths, read in the order given.
// Files are opened lazily by Next.
func NewJSONLReader(paths []string, opts ReadOptions) (*JSONLReader, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &JSONLReader{opts: o, paths: append([]string(nil), paths...)}
	r.names = []string{o.TextField, o.IDField}
	r.spans = make([]jsonSpan, 2)
	if o.IDField != "" {
		r.meta = o.IDField
	}
	return r, nil
}

// Stats implements BatchReader.
func (r *JSONLReader) Stats() ReadStats { return r.stats }

// Close implements BatchReader. It gives the reader's buffers back for
// reuse: what NextRecord returned is invalid after it.
func (r *JSONLReader) Close() error {
	var err error
	if r.cur != nil {
		err = r.cur.d.Close()
		r.cur = nil
	}
	putBufio(r.buf)
	putScratch(r.scratch)
	r.buf, r.scratch = nil, nil
	if r.err == nil {
		r.err = errReaderClosed
	}
	if err != nil {
		return fmt.Errorf("dataio: close: %w", err)
	}
	return nil
}

var errReaderClosed = errors.New("dataio: reader is closed")

// jsonlBatch accumulates the columns of one batch.
type jsonlBatch struct {
	text, id, file []string
	rows           []int64
	raws           [][]byte
}

// Next implements BatchReader.
func (r *JSONLReader) Next(ctx context.Context) (*task.DocumentBatch, error) {
	if r.err != nil {
		return nil, r.err
	}
	b, err := r.fill(ctx)
	if err != nil {
		r.err = err
		return nil, err
	}
	if len(b.text) == 0 {
		r.err = io.EOF
		return nil, io.EOF
	}
	batch := &task.DocumentBatch{
		Header:     task.Header{DatasetName: r.opts.Dataset},
		TextColumn: r.opts.TextField,
	}
	batch.Columns = append(batch.Columns, &task.Column{Name: r.opts.TextField, Type: task.String, Strings: b.text})
	if r.opts.IDField != "" {
		batch.Columns = append(batch.Columns, &task.Column{Name: r.opts.IDField, Type: task.String, Strings: b.id})
		batch.Meta()[MetaRawJSONColumns] = r.meta
	}
	batch.Columns = append(batch.Columns,
		&task.Column{Name: FileColumn, Type: task.String, Strings: b.file},
		&task.Column{Name: RowColumn, Type: task.Int64, Ints: b.rows})
	if !r.opts.OmitRaw {
		batch.Columns = append(batch.Columns, &task.Column{Name: RawColumn, Type: task.Bytes, Bytes: b.raws})
	}
	return batch, nil
}

// fill reads records until the batch is full or the input ends.
func (r *JSONLReader) fill(ctx context.Context) (*jsonlBatch, error) {
	n := r.opts.BatchRows
	b := &jsonlBatch{text: make([]string, 0, min(n, 1024)), file: make([]string, 0, min(n, 1024)), rows: make([]int64, 0, min(n, 1024))}
	for len(b.text) < n {
		line, overlong, err := r.nextLine(ctx)
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if err := r.record(b, line, overlong); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// nextLine returns the next line of the input, opening and closing files
// as it goes, or io.EOF after the last file. It checks ctx every 1024
// lines and at every file.
func (r *JSONLReader) nextLine(ctx context.Context) ([]byte, bool, error) {
	for {
		if r.checked++; r.checked&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, false, err
			}
		}
		if r.cur == nil {
			if r.next >= len(r.paths) {
				return nil, false, io.EOF
			}
			if err := ctx.Err(); err != nil {
				return nil, false, err
			}
			if err := r.open(r.paths[r.next]); err != nil {
				return nil, false, err
			}
			r.next++
		}
		line, overlong, err := r.readLine()
		if err == io.EOF {
			if r.cur.row == r.cur.startRow && r.section == nil {
				r.stats.EmptyFiles++
			}
			cerr := r.cur.d.Close()
			path := r.cur.path
			r.cur = nil
			if cerr != nil {
				return nil, false, fmt.Errorf("dataio: close %s: %w", path, cerr)
			}
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("dataio: read %s (after line %d): %w", r.cur.path, r.cur.line, hideEOF(err))
		}
		return line, overlong, nil
	}
}

// Record is one JSONL record as NextRecord returns it.
type Record struct {
	// File is the file the record comes from, and Row its index among the
	// file's records (non-blank lines), from 0.
	File string
	Row  int64
	// Text is the text field, unescaped. ID is the id field's raw JSON
	// text (as in the id column of a batch), empty when the record has
	// none or IDField is "-". Both are valid only until the next call.
	Text, ID []byte
}

// NextRecord returns the next record, or io.EOF after the last one, by the
// same rules as Next (blank lines, bad records, quarantine, statistics),
// without building a batch: it allocates nothing per record, for callers
// that look at each text once (hashing). Do not mix it with Next on one
// reader.
func (r *JSONLReader) NextRecord(ctx context.Context) (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	for {
		line, overlong, err := r.nextLine(ctx)
		if err != nil {
			r.err = err
			return Record{}, err
		}
		p, ok, err := r.parse(line, overlong)
		if err != nil {
			r.err = err
			return Record{}, err
		}
		if ok {
			r.stats.Rows++
			return Record{File: r.cur.path, Row: p.row, Text: p.text, ID: p.id}, nil
		}
	}
}

// SkipTo moves the reader, within the file it reads, to just before record
// row (the row numbering of Record.Row), without parsing the records it
// passes: they are neither checked nor counted in the statistics, and a
// blank line still is one. The next NextRecord then returns record row, or
// a later one if row is a bad record. It returns io.EOF at the end of the
// input. For callers that want a few records of a large file (reports).
func (r *JSONLReader) SkipTo(ctx context.Context, row int64) error {
	if r.err != nil {
		return r.err
	}
	if r.cur == nil { // open the next file without reading a line
		if r.next >= len(r.paths) {
			return io.EOF
		}
		if err := r.open(r.paths[r.next]); err != nil {
			r.err = err
			return err
		}
		r.next++
	}
	for r.cur.row < row {
		line, _, err := r.nextLine(ctx)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.err = err
			}
			return err
		}
		if isBlank(line) {
			r.stats.BlankLines++
			continue
		}
		r.cur.row++
	}
	return nil
}

func (r *JSONLReader) open(path string) error {
	if s := r.section; s != nil {
		d, err := openDecompressedRange(path, s.Offset, s.Length)
		if err != nil {
			return err
		}
		r.stats.Files++
		r.stats.FileBytes += s.Length
		r.cur = &jsonlFile{path: path, d: d, br: r.reader(d, s.Length, NoCompression), line: s.FirstLine, row: s.FirstRow, startRow: s.FirstRow}
		return nil
	}
	d, err := openDecompressed(path)
	if err != nil {
		return err
	}
	r.stats.Files++
	if d.size >= 0 {
		r.stats.FileBytes += d.size
	}
	r.cur = &jsonlFile{path: path, d: d, br: r.reader(d, d.size, CompressionOf(path))}
	return nil
}

// reader returns a buffered reader of d, of size bytes on disk (-1:
// unknown) compressed as c: the previous file's, reset, when its buffer is
// large enough, or a shared one (getBufio) when that is, so that reading
// many small files allocates no buffer.
func (r *JSONLReader) reader(d io.Reader, size int64, c Compression) *bufio.Reader {
	n := readBufferSize(size, c)
	if r.buf != nil && r.buf.Size() >= n {
		r.buf.Reset(d)
		return r.buf
	}
	putBufio(r.buf)
	if n <= pooledReadBuffer {
		r.buf = getBufio(d)
	} else {
		r.buf = bufio.NewReaderSize(d, n)
	}
	return r.buf
}

// readLine returns the next line without its "\n". The slice is valid until
// the next call. overlong reports a line longer than MaxLineBytes, of which
// only a prefix is returned.
func (r *JSONLReader) readLine() (line []byte, overlong bool, err error) {
	f := r.cur
	if cap(r.long) > 64<<20 {
		r.long = nil // do not hold on to the buffer of a huge line
	}
	line, err = f.br.ReadSlice('\n')
	r.stats.Bytes += int64(len(line))
	if err == bufio.ErrBufferFull {
		r.long = append(r.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = f.br.ReadSlice('\n')
			r.stats.Bytes += int64(len(line))
			if !overlong {
				r.long = append(r.long, line...)
				overlong = len(r.long) > r.opts.MaxLineBytes+1
			}
		}
		line = r.long
	}
	if err != nil && err != io.EOF {
		return nil, false, err
	}
	if len(line) == 0 && err == io.EOF {
		return nil, false, io.EOF
	}
	f.line++
	if line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	if len(line) > r.opts.MaxLineBytes {
		overlong = true
		line = line[:min(len(line), maxQuarantinedRaw)]
	}
	return line, overlong, nil
}

func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// record parses one line and appends it to b, or handles it as bad.
func (r *JSONLReader) record(b *jsonlBatch, line []byte, overlong bool) error {
	p, ok, err := r.parse(line, overlong)
	if err != nil || !ok {
		return err
	}
	b.text = append(b.text, string(p.text))
	if r.opts.IDField != "" {
		b.id = append(b.id, string(p.id))
	}
	b.file = append(b.file, r.cur.path)
	b.rows = append(b.rows, p.row)
	if !r.opts.OmitRaw {
		b.raws = append(b.raws, r.keep(line))
	}
	r.stats.Rows++
	return nil
}

// parsedRecord is a record parse found in a line. text and id point into
// the line or the reader's scratch buffer.
type parsedRecord struct {
	row      int64
	text, id []byte
}

// parse parses one line: ok is false for a blank line and for a bad record
// the policy skipped (handled: counted and quarantined); err is a bad
// record under the fail policy, or a quarantine failure.
func (r *JSONLReader) parse(line []byte, overlong bool) (p parsedRecord, ok bool, err error) {
	f := r.cur
	if isBlank(line) {
		r.stats.BlankLines++
		return p, false, nil
	}
	row := f.row
	f.row++
	if overlong {
		return p, false, r.bad(line, row, "", fmt.Sprintf("line longer than %d bytes", r.opts.MaxLineBytes), true)
	}
	parse := line
	if f.line == 1 && bytes.HasPrefix(parse, []byte(utf8BOM)) {
		parse = parse[len(utf8BOM):]
	}
	if err := scanObjectFields(parse, r.names, r.spans); err != nil {
		return p, false, r.bad(line, row, "", "malformed JSON: "+err.Error(), false)
	}
	ts := r.spans[0]
	if !ts.found {
		return p, false, r.bad(line, row, r.opts.TextField, "missing field", false)
	}
	if parse[ts.start] != '"' {
		return p, false, r.bad(line, row, r.opts.TextField, "is a JSON "+jsonKind(parse[ts.start])+", want string", false)
	}
	content := parse[ts.start+1 : ts.end-1]
	if !utf8.Valid(content) {
		return p, false, r.bad(line, row, r.opts.TextField, "invalid UTF-8 in text", false)
	}
	if r.opts.RequireID || r.opts.RequireSingleLineID {
		if reason := idProblem(parse, r.spans[1], r.opts.RequireSingleLineID); reason != "" {
			return p, false, r.bad(line, row, r.opts.IDField, reason, false)
		}
	}
	p.row, p.text = row, content
	if ts.escaped {
		if r.scratch == nil {
			r.scratch = getScratch()
		}
		r.scratch = appendUnescaped(r.scratch[:0], content)
		p.text = r.scratch
	}
	if s := r.spans[1]; r.opts.IDField != "" && s.found {
		p.id = parse[s.start:s.end]
	}
	return p, true, nil
}

// keep copies line into the arena and returns the copy, capped so that
// appending to it cannot overwrite a neighbour.
func (r *JSONLReader) keep(line []byte) []byte {
	if len(line) > cap(r.arena)-len(r.arena) {
		r.arena = make([]byte, 0, max(arenaChunk, len(line)))
	}
	off := len(r.arena)
	r.arena = append(r.arena, line...)
	return r.arena[off:len(r.arena):len(r.arena)]
}

// bad handles one bad record according to the policy.
func (r *JSONLReader) bad(line []byte, row int64, field, reason string, truncated bool) error {
	rec := &BadRecordError{
		File: r.cur.path, Line: r.cur.line, Row: row, Field: field, Reason: reason,
		Raw: bytes.Clone(line), RawTruncated: truncated,
	}
	return handleBad(r.opts, &r.stats, rec)
}

func handleBad(o ReadOptions, st *ReadStats, rec *BadRecordError) error {
	if o.OnBadRecord == Fail {
		return rec
	}
	st.BadRecords++
	if o.Quarantine != nil {
		if err := o.Quarantine.Put(rec); err != nil {
			return fmt.Errorf("dataio: quarantine record %s: %w", rec.Error(), err)
		}
	}
	return nil
}

// idProblem says what makes the id at span s of line unusable as a
// record's id, or "" when it is a non-empty string or a number.
func idProblem(line []byte, s jsonSpan, singleLine bool) string {
	if !s.found {
		return "missing field"
	}
	raw := line[s.start:s.end]
	switch raw[0] {
	case '"':
		if len(raw) == 2 {
			return "empty string"
		}
		if singleLine && bytes.IndexByte(raw, '\\') >= 0 {
			if id := appendUnescaped(nil, raw[1:len(raw)-1]); bytes.ContainsAny(id, "\n\r") {
				return "contains a line break, which a list of one id per line cannot hold"
			}
		}
		return ""
	case 'n':
		return "null"
	case '{', '[', 't', 'f':
		return "is a JSON " + jsonKind(raw[0]) + ", want a string or a number"
	}
	return ""
}
