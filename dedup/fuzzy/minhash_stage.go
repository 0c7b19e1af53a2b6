package fuzzy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/sluice-data/sluice/dedup/fuzzy/minhash"
	"github.com/sluice-data/sluice/dedup/internal/flow"
	"github.com/sluice-data/sluice/dedup/normalize"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Metadata keys the fuzzy stages put on the tasks they exchange. Everything
// a stage needs crosses in task metadata or stage config, never through
// shared memory.
const (
	metaGroup      = flow.MetaGroup      // file-group index
	metaRows       = "fuzzy.rows"        // documents signed
	metaBad        = "fuzzy.bad"         // bad records skipped
	metaEmptyDocs  = "fuzzy.empty_docs"  // documents with empty text
	metaEmptyFiles = "fuzzy.empty_files" // files without records
	metaBytes      = "fuzzy.bytes"       // text bytes signed
	metaStore      = "fuzzy.store"       // JSON SigStoreRef
	metaQuarantine = "fuzzy.quarantine"  // quarantine part file, if any
	metaEdges      = "fuzzy.edges"
	metaBuckets    = "fuzzy.buckets"
	metaVerified   = "fuzzy.rejected" // candidate pairs rejected by verification
	metaNodes      = "fuzzy.nodes"
	metaDups       = "fuzzy.duplicates"
	metaTopGroups  = "fuzzy.top_groups"
	metaSizeHist   = "fuzzy.size_histogram"       // JSON flow.SizeHistogram of the groups a rank owns
	metaSimHist    = "fuzzy.similarity_histogram" // JSON SimilarityHistogram of the pairs verification compared
)

// MinHashConfig configures the MinHash stage.
type MinHashConfig struct {
	// CacheDir receives the signature stores (minhash/part-<group>.sig), the
	// shingle stores for verification and the quarantine parts.
	CacheDir    string `json:"cache_dir"`
	TextField   string `json:"text_field,omitempty"`
	OnBadRecord string `json:"on_bad_record,omitempty"` // fail | skip
	CharNgrams  int    `json:"char_ngrams,omitempty"`
	NumPerm     int    `json:"num_perm,omitempty"`
	Seed        uint64 `json:"seed,omitempty"`
	HashBits    int    `json:"hash_bits,omitempty"`
	BatchRows   int    `json:"batch_rows,omitempty"`
	// Scheme is the signature scheme, "nemo" (default) or "oph".
	Scheme string `json:"scheme,omitempty"`
	// Normalize shingles the text lower-cased with punctuation and white
	// space collapsed (see normalize.Append) instead of the raw text.
	Normalize bool `json:"normalize,omitempty"`
	// StoreShingles also writes every document's shingle hashes (32-bit
	// signatures only), so that verification can use exact Jaccard.
	StoreShingles bool `json:"store_shingles,omitempty"`
	// IDField, when set, is the input's own id field, which every record
	// must have (see checkID): a record without a usable id is a bad
	// record. IDSingleLine also rejects ids holding a line break.
	IDField      string `json:"id_field,omitempty"`
	IDSingleLine bool   `json:"id_single_line,omitempty"`
	// StoreIDs, when set, names the input's id field whose values the stage
	// keeps in an id store (part-<group>.ids, .idsx), so that the removal
	// ledger can name documents by their own ids. Records without it are
	// fine (no id); with IDField set it must be the same field.
	StoreIDs string `json:"store_ids,omitempty"`
}

func (c MinHashConfig) params() minhash.Params {
	p := minhash.DefaultParams()
	if c.CharNgrams > 0 {
		p.CharNgrams = c.CharNgrams
	}
	if c.NumPerm > 0 {
		p.NumPerm = c.NumPerm
	}
	p.Seed = c.Seed
	if c.HashBits > 0 {
		p.HashBits = c.HashBits
	}
	if c.Scheme != "" {
		p.Scheme = minhash.Scheme(c.Scheme)
	}
	return p
}

// MinHashStage reads the documents of a file group and writes their MinHash
// signatures once, to a signature store (sigstore.go: one fixed-size record
// per id, which the LSH phase scans), plus the shingle hashes when
// verification needs them.
type MinHashStage struct {
	stage.Base
	cfg    MinHashConfig
	hasher *minhash.Hasher
	// Per-actor scratch, reused from document to document and task to task.
	sig32          []uint32
	sig64          []uint64
	shingles       []uint32
	norm, storeBuf []byte
}

// NewMinHashStage returns the stage.
func NewMinHashStage(cfg MinHashConfig) (*MinHashStage, error) {
	if cfg.CacheDir == "" {
		return nil, errors.New("fuzzy_minhash: cache_dir is required")
	}
	if _, err := flow.ParsePolicy(cfg.OnBadRecord); err != nil {
		return nil, err
	}
	if err := cfg.params().Validate(); err != nil {
		return nil, fmt.Errorf("fuzzy_minhash: %w", err)
	}
	return &MinHashStage{Base: stage.Base{StageName: "minhash", Batch: 1,
		In:  stage.Spec{Kinds: []string{task.KindFileGroup}},
		Out: stage.Spec{Kinds: []string{task.KindFileGroup}}}, cfg: cfg}, nil
}

// Setup implements stage.Stage: one Hasher per actor.
func (s *MinHashStage) Setup(context.Context, *stage.Worker) error {
	h, err := minhash.NewHasher(s.cfg.params())
	if err != nil {
		return err
	}
	s.hasher = h
	return dataio.MkdirAll(context.Background(), dataio.JoinPath(s.cfg.CacheDir, "minhash"))
}

// ProcessBatch implements stage.Stage.
func (s *MinHashStage) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	out := make([]task.Task, 0, len(ts))
	for _, t := range ts {
		o, err := s.one(ctx, t)
		var bad *dataio.BadRecordError
		if errors.As(err, &bad) {
			// The same record fails every retry.
			hint := "--on-bad-record skip (on_bad_record: skip) quarantines bad records and counts them"
			if bad.Field == s.cfg.IDField && strings.Contains(bad.Reason, "line break") {
				hint = "--removed-ids-out FILE.jsonl or FILE.parquet keeps ids with line breaks; " + hint
			}
			return nil, stage.Permanent(fmt.Errorf("%w (%s)", err, hint))
		}
		if err != nil {
			return nil, err
		}
		stage.Count(ctx, stage.CounterRecordsRead, atoi(o.Meta()[metaRows]))
		stage.Count(ctx, stage.CounterBytesRead, atoi(o.Meta()[metaBytes]))
		out = append(out, o)
	}
	return out, nil
}

func (s *MinHashStage) one(ctx context.Context, t task.Task) (task.Task, error) {
	files, err := flow.FileRanges(t)
	if err != nil {
		return nil, err
	}
	group := t.Meta()[metaGroup]
	policy, _ := flow.ParsePolicy(s.cfg.OnBadRecord)
	var total, base int64
	for i, f := range files {
		first, n := f.IDs()
		if i == 0 {
			base = first
		}
		total += n
	}
	out, err := s.createOutputs(group, base, policy)
	if err != nil {
		return nil, err
	}
	var n mhCounts
	if err := s.signFiles(ctx, t.Dataset(), files, policy, out, &n); err != nil {
		out.abort()
		return nil, err
	}
	sref, err := out.close(total)
	s.storeBuf = out.store.buf[:0] // the next task reuses the buffer
	if err != nil {
		return nil, err
	}
	o := &task.FileGroup{Header: task.HeaderOf(t), Paths: []string{sref.Path}}
	m := o.Meta()
	m[metaRows] = strconv.FormatInt(n.rows, 10)
	m[metaBad] = strconv.FormatInt(n.bad, 10)
	m[metaEmptyDocs] = strconv.FormatInt(n.emptyDocs, 10)
	m[metaEmptyFiles] = strconv.FormatInt(n.emptyFiles, 10)
	m[metaBytes] = strconv.FormatInt(n.bytes, 10)
	ref, _ := json.Marshal(sref)
	m[metaStore] = string(ref)
	if out.q != nil && out.q.Count() > 0 {
		m[metaQuarantine] = out.qPath
	}
	return o, nil
}

// mhCounts is what a MinHash task read.
type mhCounts struct {
	rows, bad, emptyDocs, emptyFiles, bytes int64
}

// mhOutputs are the files a MinHash task writes: the signature store, the
// shingle store (for verification), the id store (for the ledger) and the
// quarantine (with skip).
type mhOutputs struct {
	store         *sigStoreWriter
	shw           *shingleWriter
	shPath, shIdx string
	idw           *idStoreWriter
	idPath, idIdx string
	q             *dataio.QuarantineFile
	qPath         string
	storePath     string
	base          int64
}

// createOutputs creates the outputs of the task of file group group, whose
// ids start at base.
func (s *MinHashStage) createOutputs(group string, base int64, policy dataio.BadRecordPolicy) (*mhOutputs, error) {
	dir := dataio.JoinPath(s.cfg.CacheDir, "minhash")
	p := s.hasher.Params()
	o := &mhOutputs{storePath: dataio.JoinPath(dir, "part-"+group+".sig"), base: base,
		qPath: dataio.JoinPath(s.cfg.CacheDir, "quarantine", "part-"+group+".jsonl")}
	if policy == dataio.Skip {
		if err := dataio.MkdirAll(context.Background(), dataio.DirOf(o.qPath)); err != nil {
			return nil, err
		}
		q, err := dataio.CreateQuarantineFile(o.qPath)
		if err != nil {
			return nil, err
		}
		o.q = q
	}
	store, err := createSigStore(o.storePath, base, p.NumPerm*p.HashBits/8, s.storeBuf)
	if err != nil {
		o.abort()
		return nil, err
	}
	o.store = store
	if s.cfg.StoreShingles && p.HashBits == 32 {
		o.shPath, o.shIdx = dataio.JoinPath(dir, "part-"+group+".shingles"), dataio.JoinPath(dir, "part-"+group+".shidx")
		if o.shw, err = createShingleStore(o.shPath, o.shIdx, base); err != nil {
			o.abort()
			return nil, err
		}
	}
	if s.storeIDs() {
		o.idPath, o.idIdx = dataio.JoinPath(dir, "part-"+group+".ids"), dataio.JoinPath(dir, "part-"+group+".idsx")
		if o.idw, err = createIDStore(o.idPath, o.idIdx, base); err != nil {
			o.abort()
			return nil, err
		}
	}
	return o, nil
}

// abort closes and discards what was written.
func (o *mhOutputs) abort() {
	if o.store != nil {
		o.store.abort()
	}
	if o.shw != nil {
		o.shw.abort()
	}
	if o.idw != nil {
		o.idw.abort()
	}
	if o.q != nil {
		o.q.Close()
	}
}

// close finishes the outputs of a task of total ids and returns the store's
// reference.
func (o *mhOutputs) close(total int64) (SigStoreRef, error) {
	sref := SigStoreRef{Path: o.storePath, Base: o.base, Count: total}
	err := o.store.close(total)
	if o.shw != nil {
		if err == nil {
			err = o.shw.close(total)
			sref.Shingles, sref.ShingleIndex = o.shPath, o.shIdx
		} else {
			o.shw.abort()
		}
	}
	if o.idw != nil {
		if err == nil {
			err = o.idw.close(total)
			sref.IDs, sref.IDIndex = o.idPath, o.idIdx
		} else {
			o.idw.abort()
		}
	}
	if o.q != nil {
		if qerr := o.q.Close(); err == nil {
			err = qerr
		}
		if o.q.Count() == 0 {
			_ = dataio.Remove(context.Background(), o.qPath)
		}
	}
	return sref, err
}

// signFiles signs the documents of files, record by record, into out.
func (s *MinHashStage) signFiles(ctx context.Context, dataset string, files []flow.FileRange, policy dataio.BadRecordPolicy, out *mhOutputs, n *mhCounts) error {
	sign := func(id int64, text, origID []byte) error {
		if out.idw != nil {
			if err := out.idw.writeJSON(id, origID); err != nil {
				return err
			}
		}
		return s.sign(id, text, out, n)
	}
	for _, f := range files {
		opts := s.readOptions(dataset, f.Path, policy)
		if out.q != nil {
			opts.Quarantine = out.q
		}
		r := &flow.TextReader{Opts: opts, IDField: s.cfg.IDField, IDSingleLine: s.cfg.IDSingleLine}
		err := r.EachWithID(ctx, f, sign)
		n.bad += r.Stats.BadRecords + r.IDBad
		n.emptyFiles += r.Stats.EmptyFiles
		if err != nil {
			return err
		}
	}
	return nil
}

// sign computes the signature of document id and writes it (and, for
// verification, its shingle hashes).
func (s *MinHashStage) sign(id int64, text []byte, out *mhOutputs, n *mhCounts) error {
	raw := text
	if s.cfg.Normalize {
		s.norm = normalize.Append(s.norm[:0], unsafe.String(unsafe.SliceData(text), len(text)))
		raw = s.norm
	}
	if len(raw) == 0 {
		n.emptyDocs++ // all-zero signature: never bucketed
	}
	n.rows++
	n.bytes += int64(len(text))
	if s.hasher.Params().HashBits == 64 {
		s.sig64 = s.hasher.Signature64(raw, s.sig64)
		return out.store.write64(id, s.sig64)
	}
	if out.shw == nil {
		s.sig32 = s.hasher.Signature32(raw, s.sig32)
		return out.store.write32(id, s.sig32)
	}
	s.sig32, s.shingles = s.hasher.Signature32Shingles(raw, s.sig32, s.shingles[:0])
	if err := out.shw.write(id, s.shingles); err != nil {
		return err
	}
	return out.store.write32(id, s.sig32)
}

// readOptions are the options the stage reads path with: the text only,
// or, with IDField, the id too, which the JSONL reader then checks.
func (s *MinHashStage) readOptions(dataset, path string, policy dataio.BadRecordPolicy) dataio.ReadOptions {
	opts := flow.ReadOptions(dataset, path, s.cfg.TextField, s.cfg.IDField, s.cfg.IDSingleLine, s.cfg.BatchRows, policy)
	flow.KeepIDs(&opts, path, s.cfg.StoreIDs) // kept when present, never required
	return opts
}

// storeIDs reports whether the stage keeps an id store: an id field is
// named, and it is not the text field.
func (s *MinHashStage) storeIDs() bool {
	text := s.cfg.TextField
	if text == "" {
		text = dataio.DefaultTextField
	}
	return s.cfg.StoreIDs != "" && s.cfg.StoreIDs != text && s.cfg.StoreIDs != "-"
}
