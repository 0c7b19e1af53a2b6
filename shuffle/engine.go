package shuffle

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
)

var (
	// ErrFinished is returned by Insert and InsertBatch after Finish.
	ErrFinished = errors.New("shuffle: engine is finished: no more inserts")
	// ErrNotFinished is returned by Extract and ExtractGroups before Finish.
	ErrNotFinished = errors.New("shuffle: engine is not finished: call Finish before extracting")
	// ErrClosed is returned by Insert, InsertBatch, Finish, Extract and
	// ExtractGroups after Close.
	ErrClosed = errors.New("shuffle: engine is closed")

	errArenaFull = errors.New("shuffle: in-memory buffer exceeds 1 TiB; set Options.MemoryLimit to spill")
)

// Options configures an Engine.
type Options struct {
	// NumPartitions is the total number of partitions of the shuffle,
	// across all ranks. It must be at least 1.
	NumPartitions int
	// MemoryLimit bounds, in bytes, the memory an engine holds for
	// buffered rows (see Engine for what it counts and the small fixed
	// overheads it does not). When an insert would exceed it, the buffer
	// is sorted and spilled to a run file. 0 means unlimited: nothing is
	// ever spilled.
	MemoryLimit int64
	// SpillDir is where the engine creates its private spill directory.
	// Empty means os.TempDir(). It is only used when MemoryLimit > 0.
	SpillDir string
	// Compression selects spill-file compression. The default,
	// CompressionNone, uses the least CPU (see Compression).
	Compression Compression
	// MergeFanIn caps the number of runs merged at once. When more runs
	// exist at Finish, the smallest are merged into larger runs first, so
	// extraction never holds more than MergeFanIn read buffers (and file
	// descriptors) per partition. 0 picks a value from MemoryLimit
	// (between 8 and 256); otherwise it must be at least 2.
	MergeFanIn int
}

// Stats reports what an Engine has done. Byte counts are exact.
type Stats struct {
	Rows            int64 // rows inserted
	Bytes           int64 // key plus value bytes inserted
	Spills          int64 // times the in-memory buffer was spilled
	SpilledRows     int64 // rows written by spills (not counting merges)
	SpilledBytes    int64 // bytes written to spill files, including merges at Finish
	MergedRuns      int64 // runs produced by merging runs at Finish
	Runs            int   // spilled runs currently on disk
	MemoryBytes     int64 // bytes the in-memory buffer holds now (counted against MemoryLimit)
	PeakMemoryBytes int64 // the most bytes the in-memory buffer ever held
}

const (
	stateInserting = iota
	stateFinished
	stateClosed
)

// An Engine holds the partitions owned by one rank of a shuffle stage:
// partitions p with Owner(p, numRanks) == rank. Rows arrive through Insert
// and InsertBatch (safe for concurrent use), Finish ends the insert phase,
// and Extract streams one partition at a time in (key, value) byte order.
//
// # Memory
//
// Nothing is allocated per row. While every row has the same key and value
// lengths (as LSH rows do), rows are stored as fixed-width records
// (partition index, key, value) in chunks of at most 1 MiB and radix sorted
// in place: an LSH row (18-byte key, 8-byte value) costs 27 bytes, so a
// 256 MiB limit buffers about 9.9 million rows per run. Otherwise rows go to
// an arena of chunks plus a 16-byte entry per row (key prefix and packed
// partition/address), and the entries are sorted. The chunk and entry
// capacity, kept for reuse across spills, never exceeds
// Options.MemoryLimit, except that a single row larger than the limit is
// still accepted; Stats.PeakMemoryBytes reports it. When the buffer is full
// it is sorted by (partition, key, value) and written as one run file with
// a section per partition, then reused.
//
// Beyond the limit an engine uses: two block buffers (64 KiB each, less
// for limits under 4 MiB) for writing spills, 8 bytes per owned partition
// per run for run indexes, and while extracting one block buffer per run
// merged (two with compression), at most MergeFanIn of them per Extract
// call. At Finish, rows still in memory stay there only if they fit in the
// limit together with those read buffers; otherwise they are spilled too.
// Measured on the LSH benchmark with a 64 MiB limit, the peak RSS of the
// whole test process was 70 MiB.
//
// # Determinism
//
// Extract's output depends only on the multiset of rows inserted, never on
// MemoryLimit, insertion order or concurrency: every source is fully
// sorted and equal rows are byte-identical.
type Engine struct {
	rank, numRanks int
	opts           Options
	numLocal       int
	dir            string // private spill directory; "" when unlimited
	codec          *codec
	blockSize      int
	fanIn          int

	mu       sync.RWMutex // Lock: inserts, Finish, Close; RLock: Extract
	state    atomic.Int32 // written under mu's write lock; read without it to fail fast
	mem      *rowBuffer
	runs     []*run
	writer   runWriter
	runSeq   int
	lastHeld int64 // mem.held as last published to memBytes

	poolMu  sync.Mutex
	cursors []*runCursor // idle cursors, reused across extractions

	rows, bytes, spills, spilledRows, spilledBytes, mergedRuns, memBytes, peakBytes atomic.Int64
	numRuns                                                                         atomic.Int64
}

// NewEngine returns the engine for rank out of numRanks. When
// opts.MemoryLimit > 0 it creates a private directory under opts.SpillDir
// (removed by Close), failing now if that directory cannot be created.
func NewEngine(rank, numRanks int, opts Options) (*Engine, error) {
	switch {
	case numRanks < 1:
		return nil, fmt.Errorf("shuffle: NewEngine: numRanks %d < 1", numRanks)
	case rank < 0 || rank >= numRanks:
		return nil, fmt.Errorf("shuffle: NewEngine: rank %d out of range [0, %d)", rank, numRanks)
	case opts.NumPartitions < 1:
		return nil, fmt.Errorf("shuffle: NewEngine: Options.NumPartitions %d < 1", opts.NumPartitions)
	case opts.MemoryLimit < 0:
		return nil, fmt.Errorf("shuffle: NewEngine: Options.MemoryLimit %d < 0", opts.MemoryLimit)
	case opts.MergeFanIn < 0 || opts.MergeFanIn == 1:
		return nil, fmt.Errorf("shuffle: NewEngine: Options.MergeFanIn %d: must be 0 (automatic) or >= 2", opts.MergeFanIn)
	}
	numLocal := 0
	if rank < opts.NumPartitions {
		numLocal = (opts.NumPartitions-rank-1)/numRanks + 1
	}
	if numLocal > maxLocalPartitions {
		return nil, fmt.Errorf("shuffle: NewEngine: rank %d would own %d partitions, more than %d", rank, numLocal, maxLocalPartitions)
	}
	c, err := newCodec(opts.Compression)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		rank:     rank,
		numRanks: numRanks,
		opts:     opts,
		numLocal: numLocal,
		codec:    c,
		mem:      newRowBuffer(numLocal, opts.MemoryLimit),
	}
	e.blockSize = 64 << 10
	for e.blockSize > 4<<10 && opts.MemoryLimit > 0 && int64(e.blockSize) > opts.MemoryLimit/64 {
		e.blockSize >>= 1
	}
	e.writer = runWriter{codec: c, blockSize: e.blockSize}
	e.fanIn = opts.MergeFanIn
	if e.fanIn == 0 {
		e.fanIn = 256
		if opts.MemoryLimit > 0 {
			e.fanIn = int(min(max(opts.MemoryLimit/2/e.cursorMem(), 8), 256))
		}
	}
	if opts.MemoryLimit > 0 {
		parent := opts.SpillDir
		if parent == "" {
			parent = os.TempDir()
		}
		// The parent is created on first use: a run creates nothing before
		// it has checked its paths, and most runs never spill.
		if err = os.MkdirAll(parent, 0o755); err == nil {
			e.dir, err = os.MkdirTemp(parent, fmt.Sprintf("sluice-shuffle-rank%d-", rank))
		}
		if err != nil {
			c.close()
			return nil, fmt.Errorf("shuffle: create spill directory in %s: %w", parent, err)
		}
	}
	return e, nil
}

// cursorMem estimates the buffer bytes one open run section needs.
func (e *Engine) cursorMem() int64 {
	n := int64(e.blockSize + blockHeaderSize)
	if e.opts.Compression != CompressionNone {
		n += int64(e.blockSize)
	}
	return n
}

// OwnedPartitions returns, in increasing order, the partitions this
// engine owns.
func (e *Engine) OwnedPartitions() []int {
	ps := make([]int, e.numLocal)
	for i := range ps {
		ps[i] = e.rank + i*e.numRanks
	}
	return ps
}

// local validates partition and returns its index among the owned ones.
func (e *Engine) local(partition int) (int, error) {
	if partition < 0 || partition >= e.opts.NumPartitions {
		return 0, fmt.Errorf("shuffle: partition %d out of range [0, %d)", partition, e.opts.NumPartitions)
	}
	if o := Owner(partition, e.numRanks); o != e.rank {
		return 0, fmt.Errorf("shuffle: partition %d is owned by rank %d, not by this engine's rank %d", partition, o, e.rank)
	}
	return partition / e.numRanks, nil
}

// insertable reports why rows can no longer be inserted, if they cannot.
// Checked before taking the lock, it also keeps an Insert made from an
// Extract callback from deadlocking.
func (e *Engine) insertable() error {
	switch e.state.Load() {
	case stateFinished:
		return ErrFinished
	case stateClosed:
		return ErrClosed
	}
	return nil
}

// Insert adds one row to partition, which this engine must own. The key
// and value are copied. Insert is safe for concurrent use.
func (e *Engine) Insert(partition int, key, value []byte) error {
	lp, err := e.local(partition)
	if err != nil {
		return err
	}
	if err := e.insertable(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.insertable(); err != nil {
		return err
	}
	if err := e.insertLocked(lp, key, value); err != nil {
		return err
	}
	e.rows.Add(1)
	e.bytes.Add(int64(len(key) + len(value)))
	return nil
}

// InsertBatch adds every row of b. It checks first that this engine owns
// every row's partition, so a misrouted batch is rejected whole. If a spill
// fails part way, the rows before it remain inserted. InsertBatch is safe
// for concurrent use; b is not retained.
func (e *Engine) InsertBatch(b *Batch) error {
	if err := e.insertable(); err != nil {
		return err
	}
	if err := b.Range(func(p int, _, _ []byte) error {
		_, err := e.local(p)
		return err
	}); err != nil {
		return fmt.Errorf("shuffle: InsertBatch: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.insertable(); err != nil {
		return err
	}
	var rows, n int64
	err := b.Range(func(p int, k, v []byte) error {
		if err := e.insertLocked(p/e.numRanks, k, v); err != nil {
			return err
		}
		rows++
		n += int64(len(k) + len(v))
		return nil
	})
	e.rows.Add(rows)
	e.bytes.Add(n)
	return err
}

func (e *Engine) insertLocked(lp int, key, value []byte) error {
	ok, err := e.mem.add(lp, key, value, false)
	if err == nil && !ok {
		if e.mem.len() > 0 {
			if err := e.spillLocked(); err != nil {
				return err
			}
		}
		ok, err = e.mem.add(lp, key, value, false)
		if err == nil && !ok {
			_, err = e.mem.add(lp, key, value, true)
		}
	}
	if err != nil {
		return err
	}
	if h := e.mem.held(); h != e.lastHeld {
		e.lastHeld = h
		e.memBytes.Store(h)
		if h > e.peakBytes.Load() {
			e.peakBytes.Store(h)
		}
	}
	return nil
}

// spillLocked sorts the in-memory rows, writes them as a new run and
// empties the buffer. On error the rows stay in memory.
func (e *Engine) spillLocked() error {
	if e.mem.len() == 0 {
		return nil
	}
	e.mem.sort()
	w := &e.writer
	if err := w.begin(e.nextRunPath(), e.numLocal); err != nil {
		return err
	}
	cur := -1
	err := e.mem.each(func(lp int, k, v []byte) error {
		if lp != cur {
			if err := w.startPartition(lp); err != nil {
				return err
			}
			cur = lp
		}
		return w.add(k, v)
	})
	if err != nil {
		w.abort()
		return err
	}
	r, err := w.end()
	if err != nil {
		return err
	}
	e.runs = append(e.runs, r)
	e.spills.Add(1)
	e.spilledRows.Add(r.rows)
	e.spilledBytes.Add(r.size())
	e.numRuns.Store(int64(len(e.runs)))
	e.mem.reset()
	return nil
}

func (e *Engine) nextRunPath() string {
	e.runSeq++
	return filepath.Join(e.dir, fmt.Sprintf("run-%06d.spill", e.runSeq))
}

// Finish ends the insert phase (the insertFinished barrier): later inserts
// fail with ErrFinished. It sorts the rows still in memory, or spills them
// if they would not fit in MemoryLimit next to the merge read buffers, and
// merges runs until at most MergeFanIn remain. Calling Finish again is a
// no-op.
func (e *Engine) Finish() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.state.Load() {
	case stateFinished:
		return nil
	case stateClosed:
		return ErrClosed
	}
	if len(e.runs) > 0 {
		e.mem.trim()
		sources := int64(len(e.runs) + 1)
		if e.mem.len() > 0 && (sources > int64(e.fanIn) ||
			e.mem.held()+sources*e.cursorMem() > e.opts.MemoryLimit) {
			if err := e.spillLocked(); err != nil {
				return err
			}
		}
		if e.mem.len() == 0 {
			e.mem.release()
		}
		if err := e.compactLocked(); err != nil {
			return err
		}
		e.writer.raw, e.writer.out = nil, nil
	}
	if e.mem.len() > 0 {
		e.mem.trim()
		e.mem.sort()
		e.mem.index()
	}
	e.memBytes.Store(e.mem.held())
	e.state.Store(stateFinished)
	return nil
}

// compactLocked merges the smallest runs until at most fanIn remain, so
// that extraction opens at most fanIn sections per partition.
func (e *Engine) compactLocked() error {
	for len(e.runs) > e.fanIn {
		k := min(e.fanIn, len(e.runs)-e.fanIn+1)
		slices.SortStableFunc(e.runs, func(a, b *run) int { return cmp.Compare(a.size(), b.size()) })
		group := e.runs[:k]
		merged, err := e.mergeRuns(group)
		if err != nil {
			return err
		}
		var rerr error
		for _, r := range group {
			if err := r.remove(); err != nil && rerr == nil {
				rerr = err
			}
		}
		e.runs = append(slices.Clone(e.runs[k:]), merged)
		e.mergedRuns.Add(1)
		e.spilledBytes.Add(merged.size())
		e.numRuns.Store(int64(len(e.runs)))
		if rerr != nil {
			return rerr
		}
	}
	return nil
}

// mergeRuns writes the merge of group as one new run.
func (e *Engine) mergeRuns(group []*run) (*run, error) {
	cursors := e.getCursors(len(group))
	defer e.putCursors(cursors)
	w := &e.writer
	if err := w.begin(e.nextRunPath(), e.numLocal); err != nil {
		return nil, err
	}
	srcs := make([]rowSource, 0, len(group))
	var m merger
	for lp := range e.numLocal {
		srcs = srcs[:0]
		for i, r := range group {
			if start, end := r.section(lp); start < end {
				if err := cursors[i].reset(r, start, end); err != nil {
					w.abort()
					return nil, err
				}
				srcs = append(srcs, cursors[i])
			}
		}
		if len(srcs) == 0 {
			continue
		}
		err := w.startPartition(lp)
		if err == nil {
			err = m.init(srcs)
		}
		if err == nil {
			err = m.each(w.add)
		}
		if err != nil {
			w.abort()
			return nil, err
		}
	}
	return w.end()
}

func (e *Engine) getCursors(n int) []*runCursor {
	e.poolMu.Lock()
	defer e.poolMu.Unlock()
	cs := make([]*runCursor, n)
	for i := range cs {
		if k := len(e.cursors); k > 0 {
			cs[i] = e.cursors[k-1]
			e.cursors = e.cursors[:k-1]
		} else {
			cs[i] = &runCursor{codec: e.codec}
		}
	}
	return cs
}

func (e *Engine) putCursors(cs []*runCursor) {
	e.poolMu.Lock()
	defer e.poolMu.Unlock()
	for _, c := range cs {
		c.r, c.key, c.value, c.data = nil, nil, nil, c.data[:0]
		e.cursors = append(e.cursors, c)
	}
}

// Extract calls fn for every row of partition, which this engine must own,
// in (key, value) byte order, merging the in-memory rows with the
// partition's section of every spilled run (a k-way merge with one bounded
// read buffer per run). The slices passed to fn are valid only during the
// call. Extract returns the first error from fn unchanged. It may be called
// for several partitions concurrently, and more than once for the same
// partition; fn must not call Close.
func (e *Engine) Extract(partition int, fn func(key, value []byte) error) error {
	lp, err := e.local(partition)
	if err != nil {
		return err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	switch e.state.Load() {
	case stateInserting:
		return ErrNotFinished
	case stateClosed:
		return ErrClosed
	}
	srcs := make([]rowSource, 0, len(e.runs)+1)
	if c := e.mem.cursor(lp); c != nil {
		srcs = append(srcs, c)
	}
	var open []*run
	for _, r := range e.runs {
		if start, end := r.section(lp); start < end {
			open = append(open, r)
		}
	}
	cursors := e.getCursors(len(open))
	defer e.putCursors(cursors)
	for i, r := range open {
		start, end := r.section(lp)
		if err := cursors[i].reset(r, start, end); err != nil {
			return err
		}
		srcs = append(srcs, cursors[i])
	}
	var m merger
	if err := m.init(srcs); err != nil {
		return err
	}
	return m.each(fn)
}

// ExtractGroups is Extract with consecutive rows of equal key gathered:
// fn is called once per distinct key with all its values in byte order.
// The key and values are valid only during the call. A group is held in
// memory in full (one reused buffer), so a key with a huge number of
// values costs memory proportional to them.
func (e *Engine) ExtractGroups(partition int, fn func(key []byte, values [][]byte) error) error {
	var (
		key, vbuf []byte
		ends      []int // ends[i] is where value i ends in vbuf
		values    [][]byte
		have      bool
	)
	emit := func() error {
		values = values[:0]
		start := 0
		for _, end := range ends {
			values = append(values, vbuf[start:end:end])
			start = end
		}
		return fn(key, values)
	}
	err := e.Extract(partition, func(k, v []byte) error {
		if have && bytes.Equal(k, key) {
			vbuf = append(vbuf, v...)
			ends = append(ends, len(vbuf))
			return nil
		}
		if have {
			if err := emit(); err != nil {
				return err
			}
		}
		key = append(key[:0], k...)
		vbuf = append(vbuf[:0], v...)
		ends = append(ends[:0], len(vbuf))
		have = true
		return nil
	})
	if err != nil || !have {
		return err
	}
	return emit()
}

// Stats returns a snapshot of the engine's counters. It is safe to call at
// any time, including from an Extract callback.
func (e *Engine) Stats() Stats {
	return Stats{
		Rows:            e.rows.Load(),
		Bytes:           e.bytes.Load(),
		Spills:          e.spills.Load(),
		SpilledRows:     e.spilledRows.Load(),
		SpilledBytes:    e.spilledBytes.Load(),
		MergedRuns:      e.mergedRuns.Load(),
		Runs:            int(e.numRuns.Load()),
		MemoryBytes:     e.memBytes.Load(),
		PeakMemoryBytes: e.peakBytes.Load(),
	}
}

// Close releases the engine's memory and deletes its spill files and spill
// directory. It waits for running extractions. Closing twice is a no-op.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state.Load() == stateClosed {
		return nil
	}
	e.state.Store(stateClosed)
	var errs []error
	for _, r := range e.runs {
		if err := r.remove(); err != nil {
			errs = append(errs, err)
		}
	}
	e.runs = nil
	e.numRuns.Store(0)
	if e.dir != "" {
		if err := os.RemoveAll(e.dir); err != nil {
			errs = append(errs, fmt.Errorf("shuffle: remove spill directory: %w", err))
		}
	}
	e.mem.release()
	e.memBytes.Store(0)
	e.writer = runWriter{}
	e.poolMu.Lock()
	e.cursors = nil
	e.poolMu.Unlock()
	e.codec.close()
	return errors.Join(errs...)
}
