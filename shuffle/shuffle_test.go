package shuffle

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type row struct{ key, value []byte }

func cmpRow(a, b row) int {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c
	}
	return bytes.Compare(a.value, b.value)
}

// genRows makes rows that stress ordering: duplicate keys (LSH buckets),
// exact duplicate rows, keys shorter than 8 bytes, keys sharing their first
// 8 bytes, zero bytes, empty keys and values.
func genRows(seed uint64, n int) []row {
	r := rand.New(rand.NewPCG(seed, 1))
	pool := make([][]byte, n/4+1)
	for i := range pool {
		switch r.IntN(5) {
		case 0: // short key
			pool[i] = randBytes(r, r.IntN(8))
		case 1: // shared 8-byte prefix, differing tail
			pool[i] = append([]byte("prefix\x00\x01"), randBytes(r, r.IntN(4))...)
		default: // LSH-like: 2-byte band + 16-byte hash
			k := make([]byte, 18)
			binary.BigEndian.PutUint16(k, uint16(r.IntN(4)))
			copy(k[2:], randBytes(r, 16))
			pool[i] = k
		}
	}
	rows := make([]row, n)
	for i := range rows {
		k := pool[r.IntN(len(pool))]
		var v []byte
		switch r.IntN(10) {
		case 0:
			v = nil
		case 1:
			v = randBytes(r, r.IntN(300))
		default:
			v = binary.BigEndian.AppendUint64(nil, uint64(r.IntN(n)))
		}
		rows[i] = row{k, v}
	}
	return rows
}

// genLSHRows makes fixed-shape rows like fuzzy-dedup LSH's: an 18-byte key
// (2-byte band, 16-byte hash) and an 8-byte document id. Keys repeat
// (buckets) and hashes are drawn from few byte values so that many rows
// share long key prefixes and some rows are exact duplicates.
func genLSHRows(seed uint64, n int) []row {
	r := rand.New(rand.NewPCG(seed, 2))
	rows := make([]row, n)
	for i := range rows {
		if i > 0 && r.IntN(3) == 0 {
			rows[i].key = rows[r.IntN(i)].key
		} else {
			k := make([]byte, 18)
			binary.BigEndian.PutUint16(k, uint16(r.IntN(3)))
			copy(k[2:], randBytes(r, 16))
			rows[i].key = k
		}
		rows[i].value = binary.BigEndian.AppendUint64(nil, uint64(r.IntN(n/2)))
	}
	return rows
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(4)) * 85 // few distinct bytes, including 0 and 255
	}
	if n > 2 {
		binary.LittleEndian.PutUint16(b, uint16(r.Uint32()))
	}
	return b
}

// oracle groups rows by partition and sorts them.
func oracle(rows []row, numPartitions int) map[int][]row {
	m := map[int][]row{}
	for _, r := range rows {
		p := PartitionOf(r.key, numPartitions)
		m[p] = append(m[p], r)
	}
	for _, rs := range m {
		slices.SortFunc(rs, cmpRow)
	}
	return m
}

func extractAll(t *testing.T, e *Engine, p int) []row {
	t.Helper()
	var got []row
	err := e.Extract(p, func(k, v []byte) error {
		got = append(got, row{bytes.Clone(k), bytes.Clone(v)})
		return nil
	})
	if err != nil {
		t.Fatalf("Extract(%d): %v", p, err)
	}
	return got
}

func newEngines(t *testing.T, numRanks int, opts Options) []*Engine {
	t.Helper()
	engines := make([]*Engine, numRanks)
	for rank := range engines {
		e, err := NewEngine(rank, numRanks, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		engines[rank] = e
	}
	return engines
}

// shuffleRows sends rows from numSenders concurrent senders (one per
// simulated producer) through a LocalTransport.
func shuffleRows(t *testing.T, engines []*Engine, numPartitions, numSenders int, rows []row) {
	t.Helper()
	tr := NewLocalTransport(engines)
	var wg sync.WaitGroup
	errs := make([]error, numSenders)
	for s := range numSenders {
		wg.Go(func() {
			snd := NewSender(s%len(engines), len(engines), numPartitions, tr, 512)
			for i := s; i < len(rows); i += numSenders {
				if err := snd.Add(context.Background(), rows[i].key, rows[i].value); err != nil {
					errs[s] = err
					return
				}
			}
			errs[s] = snd.Flush(context.Background())
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, e := range engines {
		if err := e.Finish(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMatchesOracle(t *testing.T) {
	t.Run("mixed", func(t *testing.T) { testMatchesOracle(t, genRows(42, 3000)) })
	t.Run("lsh", func(t *testing.T) { testMatchesOracle(t, genLSHRows(43, 4000)) })
}

func testMatchesOracle(t *testing.T, rows []row) {
	const numPartitions = 7
	want := oracle(rows, numPartitions)
	for _, numRanks := range []int{1, 2, 4} {
		for _, tc := range []struct {
			limit int64
			comp  Compression
		}{
			{0, CompressionNone},
			{4 << 10, CompressionNone}, // tiny: hundreds of spills and merges
			{64 << 10, CompressionS2},
			{64 << 10, CompressionZstd},
			{1 << 20, CompressionNone},
		} {
			if tc.comp != CompressionNone && numRanks != 2 {
				continue // codecs are independent of the rank count
			}
			t.Run(fmt.Sprintf("ranks=%d/limit=%d/%v", numRanks, tc.limit, tc.comp), func(t *testing.T) {
				opts := Options{NumPartitions: numPartitions, MemoryLimit: tc.limit, SpillDir: t.TempDir(), Compression: tc.comp}
				engines := newEngines(t, numRanks, opts)
				shuffleRows(t, engines, numPartitions, 3, rows)
				total, spills := int64(0), int64(0)
				for rank, e := range engines {
					for _, p := range e.OwnedPartitions() {
						if Owner(p, numRanks) != rank {
							t.Fatalf("rank %d owns partition %d, Owner says %d", rank, p, Owner(p, numRanks))
						}
						got := extractAll(t, e, p)
						if !slices.EqualFunc(got, want[p], func(a, b row) bool { return cmpRow(a, b) == 0 }) {
							t.Fatalf("partition %d: got %d rows, want %d (or order differs)", p, len(got), len(want[p]))
						}
					}
					st := e.Stats()
					total += st.Rows
					spills += st.Spills
					if tc.limit > 0 && st.PeakMemoryBytes > tc.limit {
						t.Errorf("rank %d: peak memory %d > limit %d", rank, st.PeakMemoryBytes, tc.limit)
					}
					if tc.limit > 0 && st.Runs > e.fanIn {
						t.Errorf("rank %d: %d runs left after Finish, fan-in %d", rank, st.Runs, e.fanIn)
					}
				}
				if total != int64(len(rows)) {
					t.Errorf("engines hold %d rows, sent %d", total, len(rows))
				}
				if tc.limit == 0 && spills != 0 {
					t.Errorf("unlimited engine spilled %d times", spills)
				}
				if tc.limit == 4<<10 && spills < 10 {
					t.Errorf("tiny limit spilled only %d times", spills)
				}
			})
		}
	}
}

func TestExtractGroups(t *testing.T) {
	const numPartitions = 3
	rows := genRows(7, 4000)
	want := oracle(rows, numPartitions)
	for _, limit := range []int64{0, 8 << 10} {
		engines := newEngines(t, 2, Options{NumPartitions: numPartitions, MemoryLimit: limit, SpillDir: t.TempDir()})
		shuffleRows(t, engines, numPartitions, 2, rows)
		for _, e := range engines {
			for _, p := range e.OwnedPartitions() {
				var got []row
				var prev []byte
				first := true
				err := e.ExtractGroups(p, func(key []byte, values [][]byte) error {
					if !first && bytes.Compare(prev, key) >= 0 {
						t.Errorf("partition %d: group keys not strictly increasing: %q then %q", p, prev, key)
					}
					if len(values) == 0 {
						t.Errorf("partition %d: empty group for key %q", p, key)
					}
					first, prev = false, bytes.Clone(key)
					for _, v := range values {
						got = append(got, row{bytes.Clone(key), bytes.Clone(v)})
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(got, want[p], func(a, b row) bool { return cmpRow(a, b) == 0 }) {
					t.Fatalf("limit %d partition %d: groups differ from oracle", limit, p)
				}
			}
		}
	}
}

func TestExtractGroupsStopsOnError(t *testing.T) {
	engines := newEngines(t, 1, Options{NumPartitions: 1})
	e := engines[0]
	for i := range 10 {
		if err := e.Insert(0, []byte{byte(i)}, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err := e.ExtractGroups(0, func([]byte, [][]byte) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("ExtractGroups = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func TestSpillFilesLifecycle(t *testing.T) {
	dir := t.TempDir()
	e, err := NewEngine(0, 1, Options{NumPartitions: 4, MemoryLimit: 16 << 10, SpillDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range genRows(3, 3000) {
		if err := e.Insert(PartitionOf(r.key, 4), r.key, r.value); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.spill"))
	if len(files) == 0 || int64(len(files)) != e.Stats().Spills {
		t.Fatalf("during inserts: %d spill files, Stats.Spills %d", len(files), e.Stats().Spills)
	}
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	files, _ = filepath.Glob(filepath.Join(dir, "*", "*.spill"))
	if len(files) != e.Stats().Runs || len(files) == 0 {
		t.Fatalf("after Finish: %d spill files, Stats.Runs %d", len(files), e.Stats().Runs)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Fatalf("after Close, SpillDir still holds %v", left)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestConcurrentInserts(t *testing.T) {
	const numPartitions, workers, perWorker = 5, 8, 1500
	e := newEngines(t, 1, Options{NumPartitions: numPartitions, MemoryLimit: 32 << 10, SpillDir: t.TempDir()})[0]
	var all []row
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range workers {
		rows := genRows(uint64(100+w), perWorker)
		all = append(all, rows...)
		wg.Go(func() {
			for i, r := range rows {
				var err error
				if i%3 == 0 {
					var b Batch
					b.Append(PartitionOf(r.key, numPartitions), r.key, r.value)
					err = e.InsertBatch(&b)
				} else {
					err = e.Insert(PartitionOf(r.key, numPartitions), r.key, r.value)
				}
				if err != nil {
					mu.Lock()
					t.Error(err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Go(func() { // Stats races with inserts
		for range 100 {
			_ = e.Stats()
		}
	})
	wg.Wait()
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	want := oracle(all, numPartitions)
	for p := range numPartitions {
		if got := extractAll(t, e, p); !slices.EqualFunc(got, want[p], func(a, b row) bool { return cmpRow(a, b) == 0 }) {
			t.Fatalf("partition %d differs from oracle", p)
		}
	}
	if st := e.Stats(); st.Rows != workers*perWorker || st.Spills == 0 {
		t.Fatalf("Stats = %+v, want %d rows and some spills", st, workers*perWorker)
	}
}

func TestConcurrentExtract(t *testing.T) {
	const numPartitions = 6
	rows := genRows(9, 3000)
	want := oracle(rows, numPartitions)
	e := newEngines(t, 1, Options{NumPartitions: numPartitions, MemoryLimit: 16 << 10, SpillDir: t.TempDir()})[0]
	shuffleRows(t, []*Engine{e}, numPartitions, 1, rows)
	var wg sync.WaitGroup
	for p := range numPartitions {
		wg.Go(func() {
			var n int
			err := e.Extract(p, func(k, v []byte) error {
				if cmpRow(row{k, v}, want[p][n]) != 0 {
					return fmt.Errorf("row %d differs", n)
				}
				n++
				return nil
			})
			if err == nil && n != len(want[p]) {
				err = fmt.Errorf("got %d rows, want %d", n, len(want[p]))
			}
			if err != nil {
				t.Errorf("partition %d: %v", p, err)
			}
		})
	}
	wg.Wait()
}

func TestManyPartitionsAndHugeRows(t *testing.T) {
	// 600 local partitions need two radix bytes; rows larger than the
	// whole memory limit must still go through.
	const numPartitions = 600
	r := rand.New(rand.NewPCG(5, 5))
	var rows []row
	for i := range 3000 {
		k := binary.BigEndian.AppendUint32(nil, uint32(r.IntN(2000)))
		v := binary.BigEndian.AppendUint32(nil, uint32(i))
		if i%500 == 0 {
			v = bytes.Repeat([]byte{byte(i)}, 40<<10)
		}
		rows = append(rows, row{k, v})
	}
	want := oracle(rows, numPartitions)
	for _, limit := range []int64{0, 32 << 10} {
		e := newEngines(t, 1, Options{NumPartitions: numPartitions, MemoryLimit: limit, SpillDir: t.TempDir(), Compression: CompressionS2})[0]
		shuffleRows(t, []*Engine{e}, numPartitions, 2, rows)
		for p := range numPartitions {
			if got := extractAll(t, e, p); !slices.EqualFunc(got, want[p], func(a, b row) bool { return cmpRow(a, b) == 0 }) {
				t.Fatalf("limit %d partition %d differs from oracle", limit, p)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	e := newEngines(t, 2, Options{NumPartitions: 4})[1] // owns 1 and 3
	if got := e.OwnedPartitions(); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("OwnedPartitions = %v", got)
	}
	if err := e.Insert(2, []byte("k"), nil); err == nil || !strings.Contains(err.Error(), "owned by rank 0") {
		t.Errorf("Insert into another rank's partition: %v", err)
	}
	if err := e.Insert(4, []byte("k"), nil); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("Insert into partition 4 of 4: %v", err)
	}
	if err := e.Insert(-1, []byte("k"), nil); err == nil {
		t.Error("Insert into partition -1 succeeded")
	}
	var b Batch
	b.Append(1, []byte("ok"), nil)
	b.Append(0, []byte("misrouted"), nil)
	if err := e.InsertBatch(&b); err == nil || !strings.Contains(err.Error(), "owned by rank 0") {
		t.Errorf("misrouted InsertBatch: %v", err)
	}
	if e.Stats().Rows != 0 {
		t.Errorf("misrouted batch was partly inserted: %d rows", e.Stats().Rows)
	}
	if err := e.Insert(1, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := e.Extract(1, func(k, v []byte) error { return nil }); !errors.Is(err, ErrNotFinished) {
		t.Errorf("Extract before Finish: %v", err)
	}
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := e.Finish(); err != nil {
		t.Errorf("second Finish: %v", err)
	}
	if err := e.Insert(1, []byte("k"), nil); !errors.Is(err, ErrFinished) {
		t.Errorf("Insert after Finish: %v", err)
	}
	if err := e.InsertBatch(&Batch{}); !errors.Is(err, ErrFinished) {
		t.Errorf("InsertBatch after Finish: %v", err)
	}
	if err := e.Extract(0, func(k, v []byte) error { return nil }); err == nil {
		t.Error("Extract of a partition owned by another rank succeeded")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Extract(1, func(k, v []byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Extract after Close: %v", err)
	}

	for _, tc := range []struct {
		rank, ranks int
		opts        Options
	}{
		{0, 0, Options{NumPartitions: 1}},
		{2, 2, Options{NumPartitions: 1}},
		{0, 1, Options{NumPartitions: 0}},
		{0, 1, Options{NumPartitions: 1, MemoryLimit: -1}},
		{0, 1, Options{NumPartitions: 1, MergeFanIn: 1}},
		{0, 1, Options{NumPartitions: 1, Compression: 9}},
	} {
		if e, err := NewEngine(tc.rank, tc.ranks, tc.opts); err == nil {
			e.Close()
			t.Errorf("NewEngine(%d, %d, %+v) succeeded", tc.rank, tc.ranks, tc.opts)
		}
	}
}

func TestUnwritableSpillDir(t *testing.T) {
	// A regular file in place of a directory fails even for root.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewEngine(0, 1, Options{NumPartitions: 1, MemoryLimit: 1 << 20, SpillDir: filepath.Join(file, "spill")})
	if err == nil || !strings.Contains(err.Error(), "create spill directory") {
		t.Fatalf("NewEngine with SpillDir under a file: %v", err)
	}
	// Unlimited engines never spill and do not need the directory.
	e, err := NewEngine(0, 1, Options{NumPartitions: 1, SpillDir: filepath.Join(file, "spill")})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()

	// The directory vanishing mid-run surfaces as a spill error.
	dir := t.TempDir()
	e, err = NewEngine(0, 1, Options{NumPartitions: 1, MemoryLimit: 8 << 10, SpillDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		err := e.Insert(0, binary.BigEndian.AppendUint64(nil, uint64(i)), make([]byte, 100))
		if err != nil {
			if !strings.Contains(err.Error(), "create spill file") {
				t.Fatalf("spill into removed dir: %v", err)
			}
			break
		}
		if i > 10000 {
			t.Fatal("no spill error")
		}
	}
}

func TestCorruptSpillFile(t *testing.T) {
	dir := t.TempDir()
	e := newEngines(t, 1, Options{NumPartitions: 1, MemoryLimit: 8 << 10, SpillDir: dir})[0]
	for _, r := range genRows(11, 2000) {
		if err := e.Insert(0, r.key, r.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.spill"))
	if len(files) == 0 {
		t.Fatal("no spill files")
	}
	for _, f := range files {
		if err := os.Truncate(f, 100); err != nil {
			t.Fatal(err)
		}
	}
	err := e.Extract(0, func(k, v []byte) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "spill file") {
		t.Fatalf("Extract of truncated spill files: %v", err)
	}
}

func TestBatchEncoding(t *testing.T) {
	var b Batch
	rows := genRows(1, 200)
	for i, r := range rows {
		b.Append(i%7, r.key, r.value)
	}
	var d Batch
	if err := d.SetBytes(bytes.Clone(b.Bytes())); err != nil {
		t.Fatal(err)
	}
	if d.Rows() != len(rows) {
		t.Fatalf("decoded %d rows, want %d", d.Rows(), len(rows))
	}
	i := 0
	if err := d.Range(func(p int, k, v []byte) error {
		if p != i%7 || !bytes.Equal(k, rows[i].key) || !bytes.Equal(v, rows[i].value) {
			return fmt.Errorf("row %d differs", i)
		}
		i++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var empty Batch
	if err := d.SetBytes(empty.Bytes()); err != nil || d.Rows() != 0 {
		t.Fatalf("empty batch round trip: %v, %d rows", err, d.Rows())
	}
	enc := b.Bytes()
	for _, bad := range [][]byte{nil, {2}, enc[:len(enc)-1], append(bytes.Clone(enc), 0x80)} {
		if err := d.SetBytes(bad); err == nil {
			t.Errorf("SetBytes(%d bytes, malformed) succeeded", len(bad))
		}
		if d.Rows() != 0 {
			t.Error("failed SetBytes left rows behind")
		}
	}
	b.Reset()
	if b.Rows() != 0 || b.Size() != 0 {
		t.Fatal("Reset left data")
	}
}

// recordingTransport counts what it is sent and can block until ctx ends.
type recordingTransport struct {
	mu       sync.Mutex
	rows     int
	block    bool
	maxBytes int
	sizes    []int // encoded size of every batch sent
}

func (r *recordingTransport) Flush(ctx context.Context) error { return ctx.Err() }

func (r *recordingTransport) MaxBatchBytes() int { return r.maxBytes }

func (r *recordingTransport) Send(ctx context.Context, toRank int, b *Batch) error {
	if r.block {
		<-ctx.Done()
		return ctx.Err()
	}
	r.mu.Lock()
	r.rows += b.Rows()
	r.sizes = append(r.sizes, b.Size())
	r.mu.Unlock()
	return nil
}

func TestSenderCancel(t *testing.T) {
	tr := &recordingTransport{}
	s := NewSender(0, 2, 8, tr, 64)
	ctx, cancel := context.WithCancel(context.Background())
	for i := range 100 {
		if err := s.Add(ctx, binary.BigEndian.AppendUint64(nil, uint64(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	sent := tr.rows
	if err := s.Add(ctx, []byte("k"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Add after cancel: %v", err)
	}
	if err := s.Flush(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush of a stopped sender: %v", err)
	}
	if tr.rows != sent {
		t.Fatalf("transport got %d more rows after cancel", tr.rows-sent)
	}

	// A Send blocked on a slow peer returns when ctx is cancelled.
	blocked := NewSender(0, 1, 1, &recordingTransport{block: true}, 1)
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- blocked.Add(ctx, []byte("k"), []byte("v")) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked Add after cancel: %v", err)
	}

	if err := NewSender(0, 1, 4, tr, 0).AddToPartition(context.Background(), 4, nil, nil); err == nil {
		t.Fatal("AddToPartition(4) with 4 partitions succeeded")
	}
}

func TestPartitionOfAndOwner(t *testing.T) {
	// Routing must never change between releases: XXH3-64 of the empty
	// input is the published 0x2D06800538D394C2, which is 4 mod 7; the
	// others pin the current routing.
	for _, tc := range []struct {
		key  string
		n    int
		want int
	}{{"", 7, 4}, {"sluice", 1000, 845}, {"band-0", 4096, 754}} {
		if got := PartitionOf([]byte(tc.key), tc.n); got != tc.want {
			t.Errorf("PartitionOf(%q, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
		}
	}
	counts := make([]int, 16)
	for i := range 16000 {
		counts[PartitionOf(binary.LittleEndian.AppendUint64(nil, uint64(i)), 16)]++
	}
	for p, c := range counts {
		if c < 800 || c > 1200 {
			t.Errorf("partition %d got %d of 16000 keys: poor spread", p, c)
		}
	}
	if Owner(10, 4) != 2 || Owner(3, 1) != 0 {
		t.Error("Owner is not partition % numRanks")
	}
}

func TestRadixSortMatchesComparator(t *testing.T) {
	m := newMemBuffer(0)
	r := rand.New(rand.NewPCG(2, 3))
	const numLocal = 300
	for range 20000 {
		k := randBytes(r, r.IntN(12))
		if _, err := m.add(r.IntN(numLocal), k, randBytes(r, r.IntN(3)), false); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.Clone(m.entries)
	slices.SortStableFunc(want, m.compare)
	m.sort(numLocal)
	for i := range want {
		if m.compare(m.entries[i], want[i]) != 0 {
			t.Fatalf("entry %d out of order after radix sort", i)
		}
	}
}

func TestShapeChange(t *testing.T) {
	// Fixed-shape rows first (stored as records), then other shapes: the
	// buffer spills (with a limit) or converts (unlimited) to the arena.
	rows := append(genLSHRows(21, 3000), genRows(22, 3000)...)
	const numPartitions = 3
	want := oracle(rows, numPartitions)
	for _, limit := range []int64{0, 64 << 10, 1 << 20} {
		e := newEngines(t, 1, Options{NumPartitions: numPartitions, MemoryLimit: limit, SpillDir: t.TempDir()})[0]
		for _, r := range rows {
			if err := e.Insert(PartitionOf(r.key, numPartitions), r.key, r.value); err != nil {
				t.Fatal(err)
			}
		}
		if e.mem.mode != modeVar || !e.mem.mixed {
			t.Fatalf("limit %d: buffer mode %d after mixed shapes, want the arena", limit, e.mem.mode)
		}
		if err := e.Finish(); err != nil {
			t.Fatal(err)
		}
		for p := range numPartitions {
			if got := extractAll(t, e, p); !slices.EqualFunc(got, want[p], func(a, b row) bool { return cmpRow(a, b) == 0 }) {
				t.Fatalf("limit %d partition %d differs from oracle", limit, p)
			}
		}
	}
}

func TestRecordSortMatchesBytewise(t *testing.T) {
	const numLocal = 300 // two partition bytes per record
	b := newRowBuffer(numLocal, 0)
	r := rand.New(rand.NewPCG(4, 4))
	for range 20000 {
		if _, err := b.add(r.IntN(numLocal), randBytes(r, 10), randBytes(r, 3), false); err != nil {
			t.Fatal(err)
		}
	}
	if b.mode != modeFixed {
		t.Fatalf("equal-shape rows not stored as records (mode %d)", b.mode)
	}
	var want [][]byte
	for i := range b.rec.n {
		want = append(want, bytes.Clone(b.rec.rec(i)))
	}
	slices.SortFunc(want, bytes.Compare)
	b.sort()
	for i := range want {
		if !bytes.Equal(b.rec.rec(i), want[i]) {
			t.Fatalf("record %d out of order after radix sort", i)
		}
	}
}

func TestFinishKeepsTailAndMergesRuns(t *testing.T) {
	rows := genLSHRows(31, 25000)
	want := oracle(rows, 1)
	for _, tc := range []struct {
		name      string
		fanIn     int
		wantTail  bool // rows left in memory after Finish
		wantRuns  int  // at most
		wantMerge bool
	}{
		{"tail kept", 0, true, 8, false},
		{"fan-in 2", 2, false, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngines(t, 1, Options{NumPartitions: 1, MemoryLimit: 256 << 10, SpillDir: t.TempDir(), MergeFanIn: tc.fanIn})[0]
			for _, r := range rows {
				if err := e.Insert(0, r.key, r.value); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Finish(); err != nil {
				t.Fatal(err)
			}
			st := e.Stats()
			if tail := e.mem.len() > 0; tail != tc.wantTail || st.Spills < 2 {
				t.Errorf("after Finish: %d rows in memory, %d spills; want tail %v and >= 2 spills", e.mem.len(), st.Spills, tc.wantTail)
			}
			if st.Runs > tc.wantRuns || (st.MergedRuns > 0) != tc.wantMerge {
				t.Errorf("Stats = %+v: want at most %d runs, merges %v", st, tc.wantRuns, tc.wantMerge)
			}
			if tc.wantTail && st.MemoryBytes == 0 {
				t.Error("MemoryBytes is 0 with rows kept in memory")
			}
			// Inserting from an Extract callback fails instead of deadlocking.
			var insertErr error
			got := []row{}
			if err := e.Extract(0, func(k, v []byte) error {
				if insertErr == nil {
					insertErr = e.Insert(0, k, v)
				}
				got = append(got, row{bytes.Clone(k), bytes.Clone(v)})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(insertErr, ErrFinished) {
				t.Errorf("Insert from Extract callback: %v", insertErr)
			}
			if !slices.EqualFunc(got, want[0], func(a, b row) bool { return cmpRow(a, b) == 0 }) {
				t.Fatal("extraction differs from oracle")
			}
		})
	}
}

// TestShufflesInSequenceReuseBuffers: Senders of one shuffle after another
// (concurrent ones too) take the batch buffers that flushed Senders left,
// and every shuffle still delivers exactly its own rows.
func TestShufflesInSequenceReuseBuffers(t *testing.T) {
	const numPartitions = 5
	for round := range 4 {
		rows := genRows(uint64(100+round), 1500+700*round)
		want := oracle(rows, numPartitions)
		engines := newEngines(t, 2, Options{NumPartitions: numPartitions})
		shuffleRows(t, engines, numPartitions, 3, rows)
		for _, e := range engines {
			for _, p := range e.OwnedPartitions() {
				var got []row
				if err := e.Extract(p, func(k, v []byte) error {
					got = append(got, row{bytes.Clone(k), bytes.Clone(v)})
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(got, want[p], func(a, b row) bool { return cmpRow(a, b) == 0 }) {
					t.Fatalf("round %d partition %d: %d rows differ from the oracle's %d", round, p, len(got), len(want[p]))
				}
			}
		}
	}
}
