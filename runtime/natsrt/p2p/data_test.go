package p2p_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
	"github.com/sluice-data/sluice/runtime/natsrt/p2p"
	"github.com/sluice-data/sluice/shuffle"
)

// A shuffle over NATS: every rank's rows land in the owning rank's
// engine, and once every sender has flushed, the engines hold exactly the
// rows sent (the insert-finished barrier holds across connections).
func TestShuffleOverNATS(t *testing.T) {
	c := natstest.Start(t)
	const ranks, parts, rowsPerRank = 3, 7, 3000
	engines := make([]*shuffle.Engine, ranks)
	for r := range ranks {
		e, err := shuffle.NewEngine(r, ranks, shuffle.Options{NumPartitions: parts, MemoryLimit: 64 << 10, SpillDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		engines[r] = e
		rc, err := p2p.ListenData(c.Connect(t, "", "recv"), c.Run, "shuf", r, p2p.InsertInto(e))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, ranks)
	for r := range ranks {
		d, err := p2p.NewDataSender(c.Connect(t, "", "send"), c.Run, "shuf", r, ranks,
			p2p.DataOptions{Stream: p2p.Options{ChunkSize: 16 << 10}, InFlight: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		wg.Go(func() {
			tr := p2p.ShuffleTransport{D: d}
			s := shuffle.NewSender(r, ranks, parts, tr, 8<<10)
			for i := range rowsPerRank {
				if err := s.Add(ctx, fmt.Appendf(nil, "k%05d", i%500), fmt.Appendf(nil, "r%d-%d", r, i)); err != nil {
					errs[r] = err
					return
				}
			}
			if err := s.Flush(ctx); err != nil {
				errs[r] = err
				return
			}
			errs[r] = tr.Flush(ctx)
		})
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	var got []string
	for r, e := range engines {
		if err := e.Finish(); err != nil {
			t.Fatal(err)
		}
		for _, p := range e.OwnedPartitions() {
			if err := e.Extract(p, func(k, v []byte) error {
				if shuffle.PartitionOf(k, parts) != p || shuffle.Owner(p, ranks) != r {
					return fmt.Errorf("row %s in partition %d of rank %d", k, p, r)
				}
				got = append(got, string(k)+"="+string(v))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var want []string
	for r := range ranks {
		for i := range rowsPerRank {
			want = append(want, fmt.Sprintf("k%05d=r%d-%d", i%500, r, i))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%d rows extracted, want %d (or different rows)", len(got), len(want))
	}
}

// A receiver's failure reaches the sender's Flush; a lost peer fails it
// without waiting for a timeout.
func TestDataSenderErrors(t *testing.T) {
	c := natstest.Start(t)
	rc, err := p2p.ListenData(c.Connect(t, "", "recv"), c.Run, "g", 1, func(int, []byte) error {
		return errors.New("engine closed")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	lost := make(chan struct{})
	d, err := p2p.NewDataSender(c.Connect(t, "", "send"), c.Run, "g", 0, 3, p2p.DataOptions{
		PeerGone: func(r int) <-chan struct{} {
			if r == 2 {
				return lost
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Send(ctx, 1, []byte("batch")); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(ctx); err == nil || !strings.Contains(err.Error(), "engine closed") {
		t.Fatalf("flush after a failed insert: %v", err)
	}

	d2, _ := p2p.NewDataSender(c.Connect(t, "", "send2"), c.Run, "g", 0, 3, p2p.DataOptions{
		PeerGone: func(int) <-chan struct{} { return lost }})
	defer d2.Close()
	if err := d2.Send(ctx, 2, []byte("to a rank nobody hosts")); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, func() { close(lost) })
	if err := d2.Flush(ctx); !errors.Is(err, p2p.ErrPeerGone) {
		t.Fatalf("flush with a lost peer: %v", err)
	}
}
