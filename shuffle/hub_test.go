package shuffle

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowReceiver stores batches in an engine after a delay, counting them.
type slowReceiver struct {
	e      *Engine
	delay  time.Duration
	stored atomic.Int64
	mu     sync.Mutex
	sizes  []int
}

func (r *slowReceiver) InsertBatch(b *Batch) error {
	time.Sleep(r.delay)
	r.mu.Lock()
	r.sizes = append(r.sizes, b.Size())
	r.mu.Unlock()
	if err := r.e.InsertBatch(b); err != nil {
		return err
	}
	r.stored.Add(int64(b.Rows()))
	return nil
}

// TestHubAsyncFlushWaitsForAcks: with asynchronous delivery and slow
// receivers, every row is stored by the time every sender's Flush has
// returned (the insertFinished barrier), no batch exceeds the message
// limit, and each rank's engine holds exactly its partitions' rows.
func TestHubAsyncFlushWaitsForAcks(t *testing.T) {
	const ranks, parts, rows, limit = 3, 7, 3000, 2048
	hub := NewLocalHub(HubOptions{Async: true, MaxBatchBytes: limit, Window: 2})
	recv := make([]*slowReceiver, ranks)
	trs := make([]*HubTransport, ranks)
	for r := range ranks {
		e, err := NewEngine(r, ranks, Options{NumPartitions: parts})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		recv[r] = &slowReceiver{e: e, delay: time.Millisecond}
		if trs[r], err = hub.Join("s1", r, ranks, recv[r]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := hub.Join("s1", 0, ranks, recv[0]); err == nil {
		t.Fatal("a rank joined twice")
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, ranks)
	for r := range ranks {
		wg.Go(func() {
			s := NewSender(r, ranks, parts, trs[r], 1<<20)
			if s.flushBytes != limit/2 {
				errs[r] = errors.New("sender does not flush at half the message limit")
				return
			}
			for i := range rows {
				k := binary.BigEndian.AppendUint64([]byte{byte(r)}, uint64(i))
				if err := s.Add(ctx, k, []byte("v")); err != nil {
					errs[r] = err
					return
				}
			}
			errs[r] = s.Flush(ctx)
		})
	}
	wg.Wait()
	var total int64
	for r := range ranks {
		if errs[r] != nil {
			t.Fatal(errs[r])
		}
		total += recv[r].stored.Load()
		for _, n := range recv[r].sizes {
			if n > limit {
				t.Fatalf("rank %d received a batch of %d bytes, limit %d", r, n, limit)
			}
		}
	}
	if total != ranks*rows {
		t.Fatalf("%d rows stored after every Flush returned, want %d", total, ranks*rows)
	}
	for r := range ranks {
		if err := recv[r].e.Finish(); err != nil {
			t.Fatal(err)
		}
		for _, p := range recv[r].e.OwnedPartitions() {
			if err := recv[r].e.Extract(p, func(k, _ []byte) error {
				if PartitionOf(k, parts) != p {
					return errors.New("row in the wrong partition")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tr := range trs {
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := hub.numSessions(); n != 0 {
		t.Fatalf("hub still tracks %d shuffles after every rank left", n)
	}
}

// TestHubPeerClosedAndLimits: a send to a rank that left fails with
// ErrPeerClosed (reported by Flush when delivery is asynchronous), and a row
// that cannot fit in one message is refused with the sizes.
func TestHubPeerClosedAndLimits(t *testing.T) {
	for _, async := range []bool{false, true} {
		hub := NewLocalHub(HubOptions{Async: async, MaxBatchBytes: 64})
		e0, _ := NewEngine(0, 2, Options{NumPartitions: 2})
		e1, _ := NewEngine(1, 2, Options{NumPartitions: 2})
		defer e0.Close()
		defer e1.Close()
		t0, err := hub.Join("s", 0, 2, e0)
		if err != nil {
			t.Fatal(err)
		}
		t1, err := hub.Join("s", 1, 2, e1)
		if err != nil {
			t.Fatal(err)
		}
		if err := t1.Close(); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		s := NewSender(0, 2, 2, t0, 0)
		err = s.AddToPartition(ctx, 1, []byte("k"), []byte("v"))
		if err == nil {
			err = s.Flush(ctx)
		}
		if !errors.Is(err, ErrPeerClosed) {
			t.Fatalf("async=%v: send to a closed rank: %v", async, err)
		}
		big := NewSender(0, 2, 2, t0, 0)
		err = big.AddToPartition(ctx, 0, make([]byte, 40), make([]byte, 40))
		if err == nil || !strings.Contains(err.Error(), "64-byte message limit") {
			t.Fatalf("async=%v: oversized row: %v", async, err)
		}
		t0.Close()
	}
}
