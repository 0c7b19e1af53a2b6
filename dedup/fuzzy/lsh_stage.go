package fuzzy

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/sluice-data/sluice/dedup/fuzzy/minhash"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// LSHConfig configures the LSH stage.
type LSHConfig struct {
	// OutputDir receives band_s-band_e/part.<rank>.parquet edge files.
	OutputDir         string `json:"output_dir"`
	NumBands          int    `json:"num_bands"`
	Rows              int    `json:"rows"`
	BandsPerIteration int    `json:"bands_per_iteration"`
	NumPerm           int    `json:"num_perm"`
	HashBits          int    `json:"hash_bits"`
	// NumPartitions overrides the shuffle's output partitions (0: default).
	NumPartitions int `json:"num_partitions,omitempty"`
	// VerifyThreshold, when positive, keeps only candidate pairs whose
	// Jaccard estimated from the full signatures reaches it.
	VerifyThreshold float64 `json:"verify_threshold,omitempty"`
	// Stores are the signature stores, needed for verification.
	Stores []SigStoreRef `json:"stores,omitempty"`
}

// LSHStage buckets documents by band and emits candidate edges. It is a
// stage.LSHStage: the executor runs it once per range of bands (one pass per
// BandsPerIteration bands), with fresh shuffle actors that re-read the
// signature files; an actor takes its range from Worker.Iteration and
// writes its edges under OutputDir/band_<s>-band_<e>/.
//
// For each document and band in the actor's range the key is the band index
// (2 bytes) plus a 128-bit xxh3 hash of the band's values; the value is the
// document id (8 bytes, big-endian, so byte order is numeric order). After
// the shuffle each actor streams its partitions: a bucket of one document is
// dropped; a bucket of k sorted ids gives the k−1 edges between consecutive
// ids (NeMo Curator's rule), or, with verification, an edge from each id to
// the first earlier id of the bucket whose estimated Jaccard reaches the
// threshold (at most k−1 edges, and no pair below the threshold).
type LSHStage struct {
	stage.Base
	cfg    LSHConfig
	w      *stage.Worker
	bands  [2]int // the actor's band range [start, end)
	stores *sigStores
	exact  *shingleStores // when the stores have shingles: exact Jaccard
	stats  struct{ edges, buckets, rejected int64 }
	sims   *SimilarityHistogram // the similarities verification compared
}

// NewLSHStage returns the stage.
func NewLSHStage(cfg LSHConfig) (*LSHStage, error) {
	if cfg.OutputDir == "" {
		return nil, errors.New("fuzzy_lsh: output_dir is required")
	}
	if cfg.NumBands <= 0 || cfg.Rows <= 0 {
		return nil, fmt.Errorf("fuzzy_lsh: bands (%d) and rows (%d) must be positive", cfg.NumBands, cfg.Rows)
	}
	if cfg.NumBands*cfg.Rows > cfg.NumPerm {
		return nil, fmt.Errorf("fuzzy_lsh: bands×rows = %d×%d = %d exceeds the %d permutations", cfg.NumBands, cfg.Rows, cfg.NumBands*cfg.Rows, cfg.NumPerm)
	}
	if cfg.HashBits != 32 && cfg.HashBits != 64 {
		return nil, fmt.Errorf("fuzzy_lsh: hash_bits %d: want 32 or 64", cfg.HashBits)
	}
	if cfg.VerifyThreshold > 0 && len(cfg.Stores) == 0 {
		return nil, errors.New("fuzzy_lsh: verify_threshold needs signature stores")
	}
	if cfg.BandsPerIteration <= 0 {
		cfg.BandsPerIteration = 5
	}
	return &LSHStage{Base: stage.Base{StageName: "lsh", StageKind: stage.LSH, Batch: 1,
		In: stage.Spec{Kinds: []string{task.KindFileGroup}}}, cfg: cfg}, nil
}

// BandRanges lists the [start, end) band ranges of numBands bands taken
// perIteration at a time: one per LSH pass.
func BandRanges(numBands, perIteration int) [][2]int {
	if perIteration <= 0 {
		perIteration = numBands
	}
	var out [][2]int
	for s := 0; s < numBands; s += perIteration {
		out = append(out, [2]int{s, min(s+perIteration, numBands)})
	}
	return out
}

// Iterations implements stage.LSHStage: one pass per band range.
func (s *LSHStage) Iterations() int { return len(BandRanges(s.cfg.NumBands, s.cfg.BandsPerIteration)) }

// IterationName implements stage.LSHStage.
func (s *LSHStage) IterationName(i int) string {
	r := s.bandRange(i)
	return fmt.Sprintf("bands [%d,%d)", r[0], r[1])
}

// bandRange is the band range of pass i.
func (s *LSHStage) bandRange(i int) [2]int {
	rs := BandRanges(s.cfg.NumBands, s.cfg.BandsPerIteration)
	if i < 0 || i >= len(rs) {
		return [2]int{}
	}
	return rs[i]
}

// BandDir is where pass i of an LSH stage configured with cfg writes its
// edge files: OutputDir/band_<s>-band_<e>.
func BandDir(cfg LSHConfig, i int) string {
	r := (&LSHStage{cfg: cfg}).bandRange(i)
	return dataio.JoinPath(cfg.OutputDir, fmt.Sprintf("band_%d-band_%d", r[0], r[1]))
}

// NumPartitions implements stage.ShuffleStage.
func (s *LSHStage) NumPartitions() int { return s.cfg.NumPartitions }

// Setup implements stage.Stage.
func (s *LSHStage) Setup(ctx context.Context, w *stage.Worker) error {
	if w.Shuffle == nil {
		return errors.New("fuzzy_lsh: no shuffle endpoint")
	}
	if w.Iteration < 0 || w.Iteration >= s.Iterations() {
		return fmt.Errorf("fuzzy_lsh: pass %d out of range [0,%d)", w.Iteration, s.Iterations())
	}
	s.w = w
	s.bands = s.bandRange(w.Iteration)
	if s.cfg.VerifyThreshold > 0 {
		st, err := openSigStores(ctx, s.cfg.Stores, s.cfg.NumPerm*s.cfg.HashBits/8, w.ScratchDir)
		if err != nil {
			return err
		}
		s.stores = st
		if len(s.cfg.Stores) > 0 && s.cfg.Stores[0].Shingles != "" {
			ex, err := openShingleStores(ctx, s.cfg.Stores, w.ScratchDir)
			if err != nil {
				return err
			}
			s.exact = ex
		}
	}
	return nil
}

// Teardown implements stage.Stage.
func (s *LSHStage) Teardown(context.Context) error {
	if s.stores != nil {
		s.stores.close()
	}
	if s.exact != nil {
		s.exact.close()
	}
	return nil
}

// ProcessBatch implements stage.Stage; LSH work happens in the shuffle phases.
func (s *LSHStage) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	return nil, errors.New("fuzzy_lsh: is a shuffle stage; ProcessBatch is not used")
}

// Insert implements stage.ShuffleStage. It reads the signature stores the
// MinHash stage wrote (fixed-size records in id order), which is several
// times cheaper than decoding the Parquet list column once per band range.
func (s *LSHStage) Insert(ctx context.Context, ts []task.Task) error {
	key := make([]byte, 18)
	val := make([]byte, 8)
	sig32 := make([]uint32, s.cfg.NumPerm)
	sig64 := make([]uint64, s.cfg.NumPerm)
	recLen := s.cfg.NumPerm * s.cfg.HashBits / 8
	for _, t := range ts {
		refs, err := storesOf([]task.Task{t})
		if err != nil {
			return fmt.Errorf("fuzzy_lsh: task %s is not a MinHash output: %w", t.ID(), err)
		}
		ref := refs[0]
		f, err := dataio.OpenStream(ctx, ref.Path, 0, -1)
		if err != nil {
			return fmt.Errorf("fuzzy_lsh: %w", err)
		}
		br := bufio.NewReaderSize(f, 1<<20)
		rec := make([]byte, recLen)
		for i := int64(0); i < ref.Count; i++ {
			if i%4096 == 0 && ctx.Err() != nil {
				f.Close()
				return ctx.Err()
			}
			if _, err := io.ReadFull(br, rec); err != nil {
				f.Close()
				return fmt.Errorf("fuzzy_lsh: signature store %s: record %d of %d: %w", ref.Path, i, ref.Count, err)
			}
			zero := true
			if s.cfg.HashBits == 64 {
				for j := range sig64 {
					sig64[j] = binary.LittleEndian.Uint64(rec[8*j:])
					zero = zero && sig64[j] == 0
				}
			} else {
				for j := range sig32 {
					sig32[j] = binary.LittleEndian.Uint32(rec[4*j:])
					zero = zero && sig32[j] == 0
				}
			}
			if zero {
				continue // empty text or bad record: never bucketed
			}
			binary.BigEndian.PutUint64(val, uint64(ref.Base+i))
			for band := s.bands[0]; band < s.bands[1]; band++ {
				binary.BigEndian.PutUint16(key, uint16(band))
				var h [16]byte
				if s.cfg.HashBits == 64 {
					h = minhash.BandKey64(sig64, band, s.cfg.Rows)
				} else {
					h = minhash.BandKey32(sig32, band, s.cfg.Rows)
				}
				copy(key[2:], h[:])
				if err := s.w.Shuffle.Sender.Add(ctx, key, val); err != nil {
					f.Close()
					return err
				}
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// InsertFinished implements stage.ShuffleStage.
func (s *LSHStage) InsertFinished(ctx context.Context) error { return s.w.Shuffle.Sender.Flush(ctx) }

// ExtractAndWrite implements stage.ShuffleStage.
func (s *LSHStage) ExtractAndWrite(ctx context.Context) ([]task.Task, error) {
	dir := BandDir(s.cfg, s.w.Iteration)
	path := dataio.JoinPath(dir, "part."+strconv.Itoa(s.w.Rank)+".parquet")
	ew, err := createEdgeFile(path)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, p := range s.w.Shuffle.Store.OwnedPartitions() {
		if err := ctx.Err(); err != nil {
			ew.abort()
			return nil, err
		}
		err := s.w.Shuffle.Store.ExtractGroups(p, func(_ []byte, values [][]byte) error {
			if len(values) < 2 {
				return nil
			}
			s.stats.buckets++
			ids = ids[:0]
			for _, v := range values {
				ids = append(ids, int64(binary.BigEndian.Uint64(v)))
			}
			if s.stores == nil {
				for i := 1; i < len(ids); i++ {
					if err := ew.add(ids[i-1], ids[i]); err != nil {
						return err
					}
					s.stats.edges++
				}
				return nil
			}
			for i, id := range ids[1:] {
				rep, err := s.firstSimilar(id, ids[:i+1])
				if err != nil {
					return err
				}
				if rep < 0 {
					s.stats.rejected++
					continue
				}
				if err := ew.add(rep, id); err != nil {
					return err
				}
				s.stats.edges++
			}
			return nil
		})
		if err != nil {
			ew.abort()
			return nil, err
		}
	}
	if err := ew.close(); err != nil {
		return nil, err
	}
	o := task.NewFileGroup("", []string{path})
	m := o.Meta()
	m[metaEdges] = strconv.FormatInt(s.stats.edges, 10)
	m[metaBuckets] = strconv.FormatInt(s.stats.buckets, 10)
	m[metaVerified] = strconv.FormatInt(s.stats.rejected, 10)
	if s.sims != nil {
		b, _ := json.Marshal(s.sims)
		m[metaSimHist] = string(b)
	}
	return []task.Task{o}, nil
}

// firstSimilar returns the first of earlier whose signature's match fraction
// with id's reaches the threshold, or -1.
//
// With shingle stores the decision is the exact Jaccard, but the signature
// estimate settles most pairs first: an estimate more than five worst-case
// standard errors (5·√(1/4n) for n permutations: 0.155 at n = 260) away from
// the threshold decides alone, and only pairs nearer the threshold read the
// two documents' shingle hashes.
func (s *LSHStage) firstSimilar(id int64, earlier []int64) (int64, error) {
	rec, err := s.stores.read(id)
	if err != nil {
		return 0, err
	}
	a := append([]byte(nil), rec...)
	margin := 5 * math.Sqrt(0.25/float64(s.cfg.NumPerm))
	if s.sims == nil {
		s.sims = newSimilarityHistogram()
	}
	for _, r := range earlier {
		b, err := s.stores.read(r)
		if err != nil {
			return 0, err
		}
		est := matchFraction(a, b, s.cfg.HashBits)
		if s.exact == nil || est >= s.cfg.VerifyThreshold+margin || est < s.cfg.VerifyThreshold-margin {
			s.sims.add(est, false)
		}
		switch {
		case s.exact == nil:
			if est >= s.cfg.VerifyThreshold {
				return r, nil
			}
		case est >= s.cfg.VerifyThreshold+margin:
			return r, nil
		case est >= s.cfg.VerifyThreshold-margin:
			j, err := s.exact.jaccard(id, r)
			if err != nil {
				return 0, err
			}
			s.sims.add(j, true)
			if j >= s.cfg.VerifyThreshold {
				return r, nil
			}
		}
	}
	return -1, nil
}

// storesOf collects the signature stores named by minhash outputs.
func storesOf(ts []task.Task) ([]SigStoreRef, error) {
	var refs []SigStoreRef
	for _, t := range ts {
		var r SigStoreRef
		if err := json.Unmarshal([]byte(t.Meta()[metaStore]), &r); err != nil {
			return nil, fmt.Errorf("task %s: metadata %s: %w", t.ID(), metaStore, err)
		}
		refs = append(refs, r)
	}
	return refs, nil
}
