package collective

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// guard fails the test if fn does not return within a generous bound, so a
// deadlock shows up as a failure instead of a hung test binary.
func guard(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: did not return (deadlock?)", what)
	}
}

func mustJoin(t *testing.T, h *LocalHub, id string, rank, size int) Transport {
	t.Helper()
	tr, err := h.Join(id, rank, size)
	if err != nil {
		t.Fatalf("join %s rank %d/%d: %v", id, rank, size, err)
	}
	return tr
}

func TestJoinValidation(t *testing.T) {
	h := NewLocalHub()
	for _, c := range []struct{ rank, size int }{{0, 0}, {0, -1}, {-1, 2}, {2, 2}, {5, 3}} {
		if _, err := h.Join("g", c.rank, c.size); err == nil {
			t.Errorf("Join(rank=%d, size=%d) succeeded, want error", c.rank, c.size)
		}
	}
	t0 := mustJoin(t, h, "g", 0, 2)
	if _, err := h.Join("g", 1, 3); err == nil {
		t.Error("Join with a different size succeeded, want error")
	}
	if _, err := h.Join("g", 0, 2); err == nil {
		t.Error("second Join of rank 0 succeeded, want error")
	}
	t1 := mustJoin(t, h, "g", 1, 2)
	if t0.Rank() != 0 || t1.Rank() != 1 || t0.Size() != 2 || t1.Size() != 2 {
		t.Fatalf("rank/size = (%d,%d) (%d,%d), want (0,2) (1,2)", t0.Rank(), t0.Size(), t1.Rank(), t1.Size())
	}
	other := mustJoin(t, h, "other", 0, 1)
	if got := h.groupCount(); got != 2 {
		t.Fatalf("hub tracks %d groups, want 2", got)
	}
	t0.Close()
	if got := h.groupCount(); got != 2 {
		t.Fatalf("after one of two ranks closed, hub tracks %d groups, want 2", got)
	}
	t1.Close()
	t1.Close() // idempotent
	other.Close()
	if got := h.groupCount(); got != 0 {
		t.Fatalf("after all ranks closed, hub tracks %d groups, want 0", got)
	}
	// The id is free again, for a group of any size.
	a := mustJoin(t, h, "g", 2, 3)
	a.Close()
}

func TestTransportOrderAndTags(t *testing.T) {
	h := NewLocalHub()
	a, b := mustJoin(t, h, "g", 0, 2), mustJoin(t, h, "g", 1, 2)
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	const n = 100
	for i := range n {
		if err := a.Send(ctx, 1, 7, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if err := a.Send(ctx, 1, 8, []byte{byte(n - i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Read tag 8 first: streams with different tags are independent.
	for i := range n {
		m, err := b.Recv(ctx, 0, 8)
		if err != nil || len(m) != 1 || m[0] != byte(n-i) {
			t.Fatalf("tag 8 message %d = %v, %v; want [%d]", i, m, err, n-i)
		}
	}
	for i := range n {
		m, err := b.Recv(ctx, 0, 7)
		if err != nil || len(m) != 1 || m[0] != byte(i) {
			t.Fatalf("tag 7 message %d = %v, %v; want [%d]", i, m, err, i)
		}
	}
	// Send to self works; a message waits for a rank that has not joined.
	if err := a.Send(ctx, 0, 1, []byte("self")); err != nil {
		t.Fatal(err)
	}
	if m, err := a.Recv(ctx, 0, 1); err != nil || string(m) != "self" {
		t.Fatalf("self message = %q, %v", m, err)
	}
	if err := a.Send(ctx, 2, 1, nil); err == nil {
		t.Error("Send to rank 2 of a 2-rank group succeeded")
	}
	if _, err := a.Recv(ctx, -1, 1); err == nil {
		t.Error("Recv from rank -1 succeeded")
	}
}

func TestTransportSendBeforeJoin(t *testing.T) {
	h := NewLocalHub()
	a := mustJoin(t, h, "g", 0, 2)
	defer a.Close()
	if err := a.Send(context.Background(), 1, 3, []byte("early")); err != nil {
		t.Fatal(err)
	}
	b := mustJoin(t, h, "g", 1, 2)
	defer b.Close()
	if m, err := b.Recv(context.Background(), 0, 3); err != nil || string(m) != "early" {
		t.Fatalf("Recv = %q, %v; want \"early\"", m, err)
	}
}

func TestTransportCloseUnblocksRecv(t *testing.T) {
	h := NewLocalHub()
	a, b := mustJoin(t, h, "g", 0, 2), mustJoin(t, h, "g", 1, 2)
	defer b.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := a.Recv(context.Background(), 1, 9)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // let Recv block (the test passes either way)
	a.Close()
	guard(t, "Recv after Close", func() {
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("Recv on closed transport = %v, want ErrClosed", err)
		}
	})
	if _, err := a.Recv(context.Background(), 1, 9); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close = %v, want ErrClosed", err)
	}
	if err := a.Send(context.Background(), 1, 9, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
}

func TestTransportPeerClosed(t *testing.T) {
	h := NewLocalHub()
	a, b := mustJoin(t, h, "g", 0, 2), mustJoin(t, h, "g", 1, 2)
	defer b.Close()
	ctx := context.Background()
	if err := a.Send(ctx, 1, 1, []byte("last words")); err != nil {
		t.Fatal(err)
	}
	a.Close()
	// Messages sent before the peer closed are still delivered...
	if m, err := b.Recv(ctx, 0, 1); err != nil || string(m) != "last words" {
		t.Fatalf("Recv = %q, %v; want \"last words\"", m, err)
	}
	// ...after which waiting on the closed peer fails instead of hanging.
	guard(t, "Recv from closed peer", func() {
		if _, err := b.Recv(ctx, 0, 1); !errors.Is(err, ErrPeerClosed) {
			t.Errorf("Recv from closed peer = %v, want ErrPeerClosed", err)
		}
	})
	if err := b.Send(ctx, 0, 1, nil); !errors.Is(err, ErrPeerClosed) {
		t.Errorf("Send to closed peer = %v, want ErrPeerClosed", err)
	}
}

func TestTransportCancel(t *testing.T) {
	h := NewLocalHub()
	a, b := mustJoin(t, h, "g", 0, 2), mustJoin(t, h, "g", 1, 2)
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := a.Recv(ctx, 1, 5)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	guard(t, "cancelled Recv", func() {
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Recv = %v, want context.Canceled", err)
		}
	})
	if err := a.Send(ctx, 1, 5, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with cancelled ctx = %v, want context.Canceled", err)
	}
	// The stream still works after an abandoned Recv.
	if err := b.Send(context.Background(), 0, 5, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m, err := a.Recv(context.Background(), 1, 5); err != nil || string(m) != "x" {
		t.Fatalf("Recv after cancel = %q, %v", m, err)
	}
}

func TestTransportConcurrentSenders(t *testing.T) {
	const size, per = 5, 200
	h := NewLocalHub()
	ts := make([]Transport, size)
	for r := range size {
		ts[r] = mustJoin(t, h, "g", r, size)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for r := 1; r < size; r++ {
		wg.Go(func() {
			for i := range per {
				if err := ts[r].Send(ctx, 0, 1, []byte(fmt.Sprint(i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	guard(t, "concurrent receive", func() {
		for i := range per {
			for r := 1; r < size; r++ {
				m, err := ts[0].Recv(ctx, r, 1)
				if err != nil || string(m) != fmt.Sprint(i) {
					t.Errorf("from %d message %d = %q, %v", r, i, m, err)
					return
				}
			}
		}
	})
	wg.Wait()
	for _, tr := range ts {
		tr.Close()
	}
}

func TestNewGroupID(t *testing.T) {
	a, b := NewGroupID(), NewGroupID()
	if len(a) != 32 {
		t.Fatalf("NewGroupID() = %q, want 32 hex digits", a)
	}
	if _, err := hex.DecodeString(a); err != nil {
		t.Fatalf("NewGroupID() = %q is not hex: %v", a, err)
	}
	if a == b {
		t.Fatalf("two NewGroupID calls returned the same id %q", a)
	}
}
