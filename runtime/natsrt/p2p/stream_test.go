package p2p_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
	"github.com/sluice-data/sluice/runtime/natsrt/p2p"
)

func TestMain(m *testing.M) {
	natstest.RunChild(children)
	goleak.VerifyTestMain(m)
}

func payload(seed, n int) []byte {
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// collector records delivered messages.
type collector struct {
	mu   sync.Mutex
	msgs []p2p.Message
}

func (c *collector) handle(m p2p.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
	return nil
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// Chunked messages of many sizes arrive whole, once, in order, even when
// the receiver subscribes after the sender started.
func TestStreamOrderedChunkedLateReceiver(t *testing.T) {
	c := natstest.Start(t)
	a := c.Connect(t, "", "a")
	b := c.Connect(t, "", "b")
	subj := c.Run.P2P("g", "1")
	s := p2p.NewStream(a, subj, "sender", p2p.Options{ChunkSize: 1000, Window: 4})
	defer s.Close()
	const n = 40
	acks := make([]*p2p.Ack, n)
	for i := range n {
		acks[i] = s.Send(fmt.Sprint(i), payload(i, i*173)) // 0 B to ~6.7 chunks
	}
	time.Sleep(100 * time.Millisecond) // no one listens yet: "no responders", retried
	col := &collector{}
	r, err := p2p.Listen(b, subj, col.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, ack := range acks {
		if err := ack.Wait(ctx); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if col.len() != n {
		t.Fatalf("%d messages delivered, want %d", col.len(), n)
	}
	for i, m := range col.msgs {
		if m.Meta != fmt.Sprint(i) || m.From != "sender" || !bytes.Equal(m.Data, payload(i, i*173)) {
			t.Fatalf("message %d: meta %q from %q, %d bytes: not what was sent", i, m.Meta, m.From, len(m.Data))
		}
	}
}

// The ack of a message waits for the handler and carries its error; a
// slow handler makes the sender resend, and duplicates are not delivered.
func TestStreamAckAfterHandlerNoDuplicates(t *testing.T) {
	c := natstest.Start(t)
	a := c.Connect(t, "", "a")
	b := c.Connect(t, "", "b")
	subj := c.Run.P2P("g", "2")
	var calls atomic.Int32
	r, err := p2p.Listen(b, subj, func(m p2p.Message) error {
		calls.Add(1)
		time.Sleep(150 * time.Millisecond) // longer than the ack timeout
		if m.Meta == "bad" {
			return errors.New("insert failed: disk full")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := p2p.NewStream(a, subj, "x", p2p.Options{AckTimeout: 40 * time.Millisecond, ChunkSize: 100})
	defer s.Close()
	ok := s.Send("good", payload(1, 250))
	bad := s.Send("bad", payload(2, 50))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ok.Wait(ctx); err != nil {
		t.Fatalf("good message: %v", err)
	}
	var he *p2p.HandlerError
	if err := bad.Wait(ctx); !errors.As(err, &he) || he.Msg != "insert failed: disk full" {
		t.Fatalf("bad message: got %v, want the handler's error", err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := calls.Load(); n != 2 {
		t.Fatalf("handler ran %d times for 2 messages", n)
	}
}

// A peer declared gone fails the unacknowledged messages at once.
func TestStreamGoneAndClose(t *testing.T) {
	c := natstest.Start(t)
	a := c.Connect(t, "", "a")
	gone := make(chan struct{})
	s := p2p.NewStream(a, c.Run.P2P("g", "nobody"), "x", p2p.Options{Gone: gone})
	ack := s.Send("", []byte("hello"))
	time.Sleep(50 * time.Millisecond)
	close(gone)
	select {
	case <-ack.Done():
		if !errors.Is(ack.Err(), p2p.ErrPeerGone) {
			t.Fatalf("got %v, want ErrPeerGone", ack.Err())
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a message to a gone peer is still pending")
	}
	if err := s.Send("", nil).Err(); !errors.Is(err, p2p.ErrPeerGone) {
		t.Fatalf("send after gone: %v", err)
	}
	s.Close()

	s2 := p2p.NewStream(a, c.Run.P2P("g", "nobody"), "x", p2p.Options{})
	ack2 := s2.Send("", []byte("hello"))
	s2.Close()
	if err := ack2.Err(); !errors.Is(err, p2p.ErrStreamClosed) {
		t.Fatalf("after close: %v", err)
	}
}
