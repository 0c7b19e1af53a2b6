package fuzzy

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// CacheDir receives minhash/part-<group>.parquet, the signature stores and
	// quarantine parts.
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
// signatures: Parquet (_sluice_dedup_id, _minhash_signature list<uint32>)
// plus a signature store for verification. A 64-bit signature is stored as
// two uint32 per value, low half first.
type MinHashStage struct {
	stage.Base
	cfg    MinHashConfig
	hasher *minhash.Hasher
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
	dir := dataio.JoinPath(s.cfg.CacheDir, "minhash")
	sigPath := dataio.JoinPath(dir, "part-"+group+".parquet")
	storePath := dataio.JoinPath(dir, "part-"+group+".sig")
	p := s.hasher.Params()
	recLen := p.NumPerm * p.HashBits / 8
	var total, base int64
	for i, f := range files {
		first, n := f.IDs()
		if i == 0 {
			base = first
		}
		total += n
	}

	var q *dataio.QuarantineFile
	qPath := dataio.JoinPath(s.cfg.CacheDir, "quarantine", "part-"+group+".jsonl")
	if policy == dataio.Skip {
		if err := dataio.MkdirAll(ctx, dataio.DirOf(qPath)); err != nil {
			return nil, err
		}
		if q, err = dataio.CreateQuarantineFile(qPath); err != nil {
			return nil, err
		}
	}
	// closeQ closes the quarantine file on the error paths that do not go
	// through fail.
	closeQ := func() {
		if q != nil {
			q.Close()
		}
	}
	w, err := dataio.CreateSignatureFile(sigPath, dataio.ParquetWriterOptions{})
	if err != nil {
		closeQ()
		return nil, err
	}
	store, err := createSigStore(storePath, base, recLen)
	if err != nil {
		w.Abort()
		closeQ()
		return nil, err
	}
	var shw *shingleWriter
	shPath, shIdx := dataio.JoinPath(dir, "part-"+group+".shingles"), dataio.JoinPath(dir, "part-"+group+".shidx")
	if s.cfg.StoreShingles && p.HashBits == 32 {
		if shw, err = createShingleStore(shPath, shIdx, base); err != nil {
			w.Abort()
			store.abort()
			closeQ()
			return nil, err
		}
	}
	var idw *idStoreWriter
	idPath, idIdx := dataio.JoinPath(dir, "part-"+group+".ids"), dataio.JoinPath(dir, "part-"+group+".idsx")
	if s.storeIDs() {
		if idw, err = createIDStore(idPath, idIdx, base); err != nil {
			w.Abort()
			store.close(0)
			if shw != nil {
				shw.abort()
			}
			closeQ()
			return nil, err
		}
	}
	var rows, emptyDocs, bytes, idBad int64
	var stats dataio.ReadStats
	fail := func(err error) (task.Task, error) {
		w.Abort()
		store.abort()
		if shw != nil {
			shw.abort()
		}
		if idw != nil {
			idw.abort()
		}
		closeQ()
		return nil, err
	}
	sig32 := make([]uint32, p.NumPerm)
	sig64 := make([]uint64, p.NumPerm)
	var rec, norm []byte
	var shingles []uint32
	for _, f := range files {
		opts := s.readOptions(t.Dataset(), f.Path, policy)
		if q != nil {
			opts.Quarantine = q
		}
		r, err := flow.OpenRange(f, opts)
		if err != nil {
			return fail(err)
		}
		for {
			b, err := r.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return fail(err)
			}
			if s.cfg.IDField != "" && dataio.FormatOf(f.Path) == dataio.Parquet {
				// The JSONL reader checks ids itself (RequireID).
				if b, err = flow.CheckParquetIDs(b, f.Path, s.cfg.IDField, s.cfg.IDSingleLine, opts, &idBad); err != nil {
					r.Close()
					return fail(err)
				}
			}
			texts := b.Texts()
			rowCol := b.Column(dataio.RowColumn)
			if rowCol == nil {
				r.Close()
				return fail(fmt.Errorf("minhash: reader gave no %s column", dataio.RowColumn))
			}
			if err := idw.writeBatch(b, opts.IDField, f.Path, f.Base, rowCol.Ints[:len(texts)]); err != nil {
				r.Close()
				return fail(err)
			}
			ids := make([]int64, len(texts))
			sigs := make([][]uint32, len(texts))
			flat := make([]uint32, 0, len(texts)*p.NumPerm*p.HashBits/32)
			for i, text := range texts {
				id := f.Base + rowCol.Ints[i]
				ids[i] = id
				raw := unsafe.Slice(unsafe.StringData(text), len(text))
				if s.cfg.Normalize {
					norm = normalize.Append(norm[:0], text)
					raw = norm
				}
				if len(raw) == 0 {
					emptyDocs++ // all-zero signature: never bucketed
				}
				bytes += int64(len(text))
				rec = rec[:0]
				start := len(flat)
				if p.HashBits == 64 {
					sig := s.hasher.Signature64(raw, sig64)
					for _, v := range sig {
						flat = append(flat, uint32(v), uint32(v>>32))
						rec = binary.LittleEndian.AppendUint64(rec, v)
					}
				} else {
					var sig []uint32
					if shw != nil {
						sig, shingles = s.hasher.Signature32Shingles(raw, sig32, shingles[:0])
						if err := shw.write(id, shingles); err != nil {
							r.Close()
							return fail(err)
						}
					} else {
						sig = s.hasher.Signature32(raw, sig32)
					}
					flat = append(flat, sig...)
					rec = encodeSig32(rec, sig)
				}
				sigs[i] = flat[start:len(flat):len(flat)]
				if err := store.write(id, rec); err != nil {
					r.Close()
					return fail(err)
				}
			}
			rows += int64(len(texts))
			if err := w.Write(ids, sigs); err != nil {
				r.Close()
				return fail(err)
			}
		}
		st := r.Stats()
		stats.BadRecords += st.BadRecords
		stats.EmptyFiles += st.EmptyFiles
		if err := r.Close(); err != nil {
			return fail(err)
		}
	}
	if err := w.Close(); err != nil {
		store.abort()
		if shw != nil {
			shw.abort()
		}
		closeQ()
		return nil, err
	}
	if err := store.close(total); err != nil {
		if shw != nil {
			shw.abort()
		}
		closeQ()
		return nil, err
	}
	sref := SigStoreRef{Path: storePath, Base: base, Count: total}
	if shw != nil {
		if err := shw.close(total); err != nil {
			if idw != nil {
				idw.abort()
			}
			closeQ()
			return nil, err
		}
		sref.Shingles, sref.ShingleIndex = shPath, shIdx
	}
	if idw != nil {
		if err := idw.close(total); err != nil {
			closeQ()
			return nil, err
		}
		sref.IDs, sref.IDIndex = idPath, idIdx
	}
	o := &task.FileGroup{Header: task.HeaderOf(t), Paths: []string{sigPath}}
	m := o.Meta()
	m[metaRows] = strconv.FormatInt(rows, 10)
	m[metaBad] = strconv.FormatInt(stats.BadRecords+idBad, 10)
	m[metaEmptyDocs] = strconv.FormatInt(emptyDocs, 10)
	m[metaEmptyFiles] = strconv.FormatInt(stats.EmptyFiles, 10)
	m[metaBytes] = strconv.FormatInt(bytes, 10)
	ref, _ := json.Marshal(sref)
	m[metaStore] = string(ref)
	if q != nil {
		if err := q.Close(); err != nil {
			return nil, err
		}
		if q.Count() > 0 {
			m[metaQuarantine] = qPath
		} else {
			_ = dataio.Remove(ctx, qPath)
		}
	}
	return o, nil
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
