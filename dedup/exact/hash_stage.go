package exact

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/sluice-data/sluice/dedup/internal/flow"
	"github.com/sluice-data/sluice/dedup/normalize"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Metadata keys of the hash stage's output tasks.
const (
	metaDocs       = "exact.documents"      // documents hashed
	metaBad        = "exact.bad"            // bad records skipped
	metaEmptyDocs  = "exact.empty_docs"     // documents whose hashed text is empty
	metaEmptyFiles = "exact.empty_files"    // files without records
	metaBytes      = "exact.bytes"          // text bytes read
	metaDups       = "exact.duplicates"     // duplicates in the rank's file
	metaGroups     = "exact.groups"         // groups of two or more documents
	metaTopGroups  = "exact.top_groups"     // JSON []topGroup
	metaQuarantine = "exact.quarantine"     // JSON []string: quarantine parts
	metaSizeHist   = "exact.size_histogram" // JSON flow.SizeHistogram of the rank's groups
)

// HashConfig configures the hash stage (exact_hash).
type HashConfig struct {
	// OutputDir receives duplicates/part.<rank>.parquet and, with
	// on_bad_record skip, quarantine/part-<group>.jsonl.
	OutputDir   string `json:"output_dir"`
	TextField   string `json:"text_field,omitempty"`
	OnBadRecord string `json:"on_bad_record,omitempty"` // fail | skip
	// Normalize hashes the text lower-cased with punctuation and white
	// space collapsed (normalize.Append) instead of the raw text.
	Normalize bool `json:"normalize,omitempty"`
	// IDField, when set, is the input's own id field, which every record
	// must have (a record without a usable id is a bad record).
	// IDSingleLine also rejects ids holding a line break.
	IDField      string `json:"id_field,omitempty"`
	IDSingleLine bool   `json:"id_single_line,omitempty"`
	BatchRows    int    `json:"batch_rows,omitempty"`
	// NumPartitions overrides the shuffle's partitions (0: the executor's
	// default, one per input task).
	NumPartitions int `json:"num_partitions,omitempty"`
	// TopGroups is how many of the largest groups to report (default 10).
	TopGroups int `json:"top_groups,omitempty"`
	// Ledger, when set, makes each rank also write
	// ledger/part.<rank>.parquet: one row of the removal ledger per
	// duplicate it owns.
	Ledger *LedgerConfig `json:"ledger,omitempty"`
}

// LedgerConfig configures the removal ledger the hash stage writes
// (package dedup/ledger). The documents' original ids travel with their
// hashes through the shuffle, so that a rank names both documents of every
// removal without reading anything again.
type LedgerConfig struct {
	// IDMap is the ids phase's id_map.json, to name each document's file
	// and record.
	IDMap string `json:"id_map"`
	// IDField is the input's id field, whose values (when present) name
	// the documents.
	IDField string `json:"id_field"`
	// ParamsHash goes into every row.
	ParamsHash string `json:"params_hash"`
}

// maxLedgerID bounds the original ids that travel through the shuffle: a
// longer one is left out (its ledger rows name the document by dedup id,
// file and record), so that no row outgrows a transport's message.
const maxLedgerID = 64 << 10

// topGroup is one of a rank's largest groups with its smallest members
// and, with a ledger, their original ids (JSON; null for none).
type topGroup struct {
	flow.GroupSize
	Members     []int64           `json:"members"`
	OriginalIDs []json.RawMessage `json:"original_ids,omitempty"`
}

// HashStage is a shuffle stage. Insert reads the documents of its file
// ranges and sends, for each, the row key = MD5 of the text's UTF-8 bytes
// (16 bytes), value = its id (8 bytes, big-endian, so that byte order is
// numeric order) to the rank owning the key's partition. ExtractAndWrite
// streams each owned partition grouped by key, ids ascending: in every
// group of two or more documents the smallest id is kept and the others are
// duplicates, written sorted to duplicates/part.<rank>.parquet.
//
// Each actor counts what its inserts read (documents, bad records, empty
// documents and files, bytes, quarantine parts) and reports it on its
// output task, so the counts add up over the ranks.
type HashStage struct {
	stage.Base
	cfg HashConfig
	w   *stage.Worker

	stats       struct{ docs, bad, emptyDocs, emptyFiles, bytes int64 }
	quarantines []string
	norm        []byte
}

// NewHashStage returns the stage.
func NewHashStage(cfg HashConfig) (*HashStage, error) {
	if cfg.OutputDir == "" {
		return nil, errors.New("exact_hash: output_dir is required")
	}
	if _, err := flow.ParsePolicy(cfg.OnBadRecord); err != nil {
		return nil, fmt.Errorf("exact_hash: %w", err)
	}
	if cfg.NumPartitions < 0 || cfg.BatchRows < 0 {
		return nil, errors.New("exact_hash: num_partitions and batch_rows must not be negative")
	}
	if cfg.TopGroups <= 0 {
		cfg.TopGroups = 10
	}
	return &HashStage{Base: stage.Base{StageName: "hash", StageKind: stage.Shuffle, Batch: 1,
		In: stage.Spec{Kinds: []string{task.KindFileGroup}}, Out: stage.Spec{Kinds: []string{task.KindFileGroup}}}, cfg: cfg}, nil
}

// NumPartitions implements stage.ShuffleStage.
func (s *HashStage) NumPartitions() int { return s.cfg.NumPartitions }

// Setup implements stage.Stage.
func (s *HashStage) Setup(_ context.Context, w *stage.Worker) error {
	if w.Shuffle == nil {
		return errors.New("exact_hash: no shuffle endpoint")
	}
	s.w = w
	return nil
}

// ProcessBatch implements stage.Stage; the work happens in the shuffle phases.
func (s *HashStage) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	return nil, errors.New("exact_hash: is a shuffle stage; ProcessBatch is not used")
}

// Insert implements stage.ShuffleStage: it hashes the documents of each
// task (an ids-phase file group, or a section of a large file).
func (s *HashStage) Insert(ctx context.Context, ts []task.Task) error {
	for _, t := range ts {
		if err := s.insertTask(ctx, t); err != nil {
			var bad *dataio.BadRecordError
			if errors.As(err, &bad) {
				// The same record fails every retry.
				hint := "--on-bad-record skip (on_bad_record: skip) quarantines bad records and counts them"
				if bad.Field == s.cfg.IDField && strings.Contains(bad.Reason, "line break") {
					hint = "--removed-ids-out FILE.jsonl or FILE.parquet keeps ids with line breaks; " + hint
				}
				return stage.Permanent(fmt.Errorf("%w (%s)", err, hint))
			}
			return err
		}
	}
	return nil
}

func (s *HashStage) insertTask(ctx context.Context, t task.Task) error {
	files, err := flow.FileRanges(t)
	if err != nil {
		return err
	}
	policy, _ := flow.ParsePolicy(s.cfg.OnBadRecord)
	var q *dataio.QuarantineFile
	qPath := dataio.JoinPath(s.cfg.OutputDir, "quarantine", "part-"+t.Meta()[flow.MetaGroup]+".jsonl")
	if policy == dataio.Skip {
		if err := dataio.MkdirAll(ctx, dataio.DirOf(qPath)); err != nil {
			return err
		}
		if q, err = dataio.CreateQuarantineFile(qPath); err != nil {
			return err
		}
	}
	val := make([]byte, 8, 64)
	sender := s.w.Shuffle.Sender
	add := func(id int64, text, orig []byte) error {
		s.stats.bytes += int64(len(text))
		if s.cfg.Normalize {
			s.norm = normalize.Append(s.norm[:0], unsafe.String(unsafe.SliceData(text), len(text)))
			text = s.norm
		}
		s.stats.docs++
		if len(text) == 0 {
			s.stats.emptyDocs++
		}
		sum := md5.Sum(text)
		// The value is the id, big-endian (byte order is id order), then,
		// with a ledger, the original id's JSON.
		binary.BigEndian.PutUint64(val[:8], uint64(id))
		val = val[:8]
		if s.cfg.Ledger != nil && len(orig) <= maxLedgerID {
			val = append(val, orig...)
		}
		return sender.Add(ctx, sum[:], val)
	}
	idField, idSingleLine := s.cfg.IDField, s.cfg.IDSingleLine
	for _, f := range files {
		opts := flow.ReadOptions(t.Dataset(), f.Path, s.cfg.TextField, idField, idSingleLine, s.cfg.BatchRows, policy)
		if s.cfg.Ledger != nil {
			flow.KeepIDs(&opts, f.Path, s.cfg.Ledger.IDField)
		}
		if q != nil {
			opts.Quarantine = q
		}
		r := &flow.TextReader{Opts: opts, IDField: idField, IDSingleLine: idSingleLine}
		err := r.EachWithID(ctx, f, add)
		s.stats.bad += r.Stats.BadRecords + r.IDBad
		s.stats.emptyFiles += r.Stats.EmptyFiles
		if err != nil {
			if q != nil {
				q.Close()
			}
			return err
		}
	}
	if q == nil {
		return nil
	}
	if err := q.Close(); err != nil {
		return err
	}
	if q.Count() > 0 {
		s.quarantines = append(s.quarantines, qPath)
	} else {
		_ = dataio.Remove(ctx, qPath)
	}
	return nil
}

// InsertFinished implements stage.ShuffleStage.
func (s *HashStage) InsertFinished(ctx context.Context) error { return s.w.Shuffle.Sender.Flush(ctx) }

// ExtractAndWrite implements stage.ShuffleStage.
func (s *HashStage) ExtractAndWrite(ctx context.Context) ([]task.Task, error) {
	rank := strconv.Itoa(s.w.Rank)
	var lw *ledgerWriter
	if s.cfg.Ledger != nil {
		var err error
		if lw, err = newLedgerWriter(*s.cfg.Ledger, dataio.JoinPath(s.cfg.OutputDir, "ledger", "part."+rank+".parquet")); err != nil {
			return nil, fmt.Errorf("exact_hash: %w", err)
		}
	}
	var dups []int64
	var groups int64
	var top []topGroup
	var sizes flow.SizeHistogram
	for _, p := range s.w.Shuffle.Store.OwnedPartitions() {
		if err := ctx.Err(); err != nil {
			lw.abort()
			return nil, err
		}
		err := s.w.Shuffle.Store.ExtractGroups(p, func(_ []byte, values [][]byte) error {
			if len(values) < 2 {
				return nil
			}
			groups++
			sizes.Add(int64(len(values)))
			// Values are in byte order: ids ascending. The first is kept.
			for _, v := range values[1:] {
				dups = append(dups, int64(binary.BigEndian.Uint64(v)))
			}
			top = addTop(top, values, s.cfg.TopGroups)
			return lw.group(values)
		})
		if err != nil {
			lw.abort()
			return nil, err
		}
	}
	slices.Sort(dups)
	path := dataio.JoinPath(s.cfg.OutputDir, "duplicates", "part."+rank+".parquet")
	if err := writeIDs(path, dups); err != nil {
		lw.abort()
		return nil, err
	}
	paths := []string{path}
	if lw != nil {
		if err := lw.close(); err != nil {
			return nil, fmt.Errorf("exact_hash: %w", err)
		}
		paths = append(paths, lw.path)
	}
	o := task.NewFileGroup("", paths)
	m := o.Meta()
	m[metaDocs] = strconv.FormatInt(s.stats.docs, 10)
	m[metaBad] = strconv.FormatInt(s.stats.bad, 10)
	m[metaEmptyDocs] = strconv.FormatInt(s.stats.emptyDocs, 10)
	m[metaEmptyFiles] = strconv.FormatInt(s.stats.emptyFiles, 10)
	m[metaBytes] = strconv.FormatInt(s.stats.bytes, 10)
	m[metaDups] = strconv.Itoa(len(dups))
	m[metaGroups] = strconv.FormatInt(groups, 10)
	m[metaSizeHist] = sizes.Encode()
	b, _ := json.Marshal(top)
	m[metaTopGroups] = string(b)
	b, _ = json.Marshal(s.quarantines)
	m[metaQuarantine] = string(b)
	return []task.Task{o}, nil
}

// addTop adds the group of ids values (sorted, big-endian) to the k
// largest groups in top, kept sorted by size (largest first), then id.
func addTop(top []topGroup, values [][]byte, k int) []topGroup {
	n := int64(len(values))
	g := int64(binary.BigEndian.Uint64(values[0]))
	if len(top) == k && !lessGroup(flow.GroupSize{Group: g, Size: n}, top[k-1].GroupSize) {
		return top
	}
	tg := topGroup{GroupSize: flow.GroupSize{Group: g, Size: n}, Members: make([]int64, 0, flow.MembersPerGroup)}
	for _, v := range values[:min(len(values), flow.MembersPerGroup)] {
		tg.Members = append(tg.Members, int64(binary.BigEndian.Uint64(v)))
		if len(v) > 8 {
			tg.OriginalIDs = append(tg.OriginalIDs, json.RawMessage(slices.Clone(v[8:])))
		} else {
			tg.OriginalIDs = append(tg.OriginalIDs, json.RawMessage("null"))
		}
	}
	i, _ := slices.BinarySearchFunc(top, tg, func(a, b topGroup) int {
		if lessGroup(a.GroupSize, b.GroupSize) {
			return -1
		}
		return 1
	})
	top = slices.Insert(top, i, tg)
	return top[:min(len(top), k)]
}

// lessGroup orders groups largest first, then by id.
func lessGroup(a, b flow.GroupSize) bool {
	if a.Size != b.Size {
		return a.Size > b.Size
	}
	return a.Group < b.Group
}

// writeIDs writes the sorted ids to an id-list file at path.
func writeIDs(path string, ids []int64) error {
	if err := dataio.MkdirAll(context.Background(), dataio.DirOf(path)); err != nil {
		return err
	}
	w, err := dataio.CreateIDListFile(path, dataio.DedupIDColumn, dataio.ParquetWriterOptions{})
	if err != nil {
		return err
	}
	const chunk = 1 << 16
	for len(ids) > 0 {
		n := min(len(ids), chunk)
		if err := w.Write(ids[:n]); err != nil {
			w.Abort()
			return err
		}
		ids = ids[n:]
	}
	return w.Close()
}
