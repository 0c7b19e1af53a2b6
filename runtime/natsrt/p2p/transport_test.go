package p2p_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
	"github.com/sluice-data/sluice/runtime/natsrt/p2p"
	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// smallChunks forces chunking of anything above 64 KiB.
var smallChunks = p2p.TransportOptions{Stream: p2p.Options{ChunkSize: 64 << 10, Window: 4}}

// exercise runs every collective once on c and checks the results; it is
// what each rank does, in-process or in a child process.
func exercise(ctx context.Context, c *collective.Comm) error {
	n, me := c.Size(), c.Rank()
	if err := c.Barrier(ctx); err != nil {
		return err
	}
	big := bytes.Repeat([]byte{'b'}, 300<<10+17) // several chunks
	got, err := c.Broadcast(ctx, 0, big)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, big) {
		return fmt.Errorf("broadcast: %d bytes, want %d", len(got), len(big))
	}
	all, err := c.AllGather(ctx, []byte(strconv.Itoa(me)))
	if err != nil {
		return err
	}
	for i, b := range all {
		if string(b) != strconv.Itoa(i) {
			return fmt.Errorf("allgather[%d] = %q", i, b)
		}
	}
	send := make([][]byte, n)
	for j := range n {
		send[j] = fmt.Appendf(nil, "%d->%d", me, j)
	}
	recv, err := c.AllToAll(ctx, send)
	if err != nil {
		return err
	}
	for i := range n {
		if want := fmt.Sprintf("%d->%d", i, me); string(recv[i]) != want {
			return fmt.Errorf("alltoall from %d: %q, want %q", i, recv[i], want)
		}
	}
	sum, err := c.AllReduceInt64(ctx, collective.Sum, []int64{int64(me + 1), 1})
	if err != nil {
		return err
	}
	if sum[0] != int64(n*(n+1)/2) || sum[1] != int64(n) {
		return fmt.Errorf("allreduce: %v", sum)
	}
	return c.Barrier(ctx)
}

func join(t *testing.T, nc *nats.Conn, run subject.Run, group string, rank, size int, o p2p.TransportOptions) *p2p.Transport {
	t.Helper()
	tr, err := p2p.Join(nc, run, group, rank, size, o)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestCollectivesOverNATS(t *testing.T) {
	c := natstest.Start(t)
	for _, size := range []int{1, 2, 4} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			group := collective.NewGroupID()
			errs := make([]error, size)
			var wg sync.WaitGroup
			for r := range size {
				tr := join(t, c.Connect(t, "", "rank"), c.Run, group, r, size, smallChunks)
				wg.Go(func() {
					defer tr.Close()
					errs[r] = exercise(ctx, collective.New(tr))
				})
			}
			wg.Wait()
			for r, err := range errs {
				if err != nil {
					t.Errorf("rank %d: %v", r, err)
				}
			}
		})
	}
}

// A rank may send to a peer that has not joined yet.
func TestSendBeforeJoin(t *testing.T) {
	c := natstest.Start(t)
	nc := c.Connect(t, "", "ranks")
	t0 := join(t, nc, c.Run, "g", 0, 2, smallChunks)
	defer t0.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := t0.Send(ctx, 1, 7, []byte("early")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	t1 := join(t, nc, c.Run, "g", 1, 2, smallChunks)
	defer t1.Close()
	got, err := t1.Recv(ctx, 0, 7)
	if err != nil || string(got) != "early" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// A peer whose node is lost fails Recv and Send with ErrPeerClosed; a peer
// that closes delivers what it sent first.
func TestPeerLostAndClosed(t *testing.T) {
	c := natstest.Start(t)
	nc := c.Connect(t, "", "ranks")
	lost := make(chan struct{})
	never := make(chan struct{})
	o := smallChunks
	o.PeerGone = func(r int) <-chan struct{} {
		if r == 1 {
			return lost
		}
		return never
	}
	t0 := join(t, nc, c.Run, "g", 0, 3, o)
	defer t0.Close()
	t1 := join(t, nc, c.Run, "g", 1, 3, smallChunks)
	t2 := join(t, nc, c.Run, "g", 2, 3, smallChunks)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	done := make(chan error, 1)
	go func() { _, err := t0.Recv(ctx, 1, 1); done <- err }()
	time.Sleep(20 * time.Millisecond)
	close(lost) // rank 1's node is declared lost
	select {
	case err := <-done:
		if !errors.Is(err, collective.ErrPeerClosed) {
			t.Fatalf("recv from a lost peer: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("recv from a lost peer did not return")
	}
	if err := t0.Send(ctx, 1, 1, []byte("x")); !errors.Is(err, collective.ErrPeerClosed) {
		t.Fatalf("send to a lost peer: %v", err)
	}
	t1.Close()

	if err := t2.Send(ctx, 0, 5, []byte("last words")); err != nil {
		t.Fatal(err)
	}
	t2.Close()
	if got, err := t0.Recv(ctx, 2, 5); err != nil || string(got) != "last words" {
		t.Fatalf("message sent before close: %q, %v", got, err)
	}
	if _, err := t0.Recv(ctx, 2, 5); !errors.Is(err, collective.ErrPeerClosed) {
		t.Fatalf("recv from a closed peer: %v", err)
	}
	t0.Close()
	if _, err := t0.Recv(ctx, 2, 5); !errors.Is(err, collective.ErrClosed) {
		t.Fatalf("recv after close: %v", err)
	}
}

// Ranks in separate processes: this process is rank 0, two re-executed
// test binaries are ranks 1 and 2.
func TestCollectivesAcrossProcesses(t *testing.T) {
	c := natstest.Start(t)
	const size = 3
	group := collective.NewGroupID()
	env := []string{"P2P_URL=" + c.Worker.URL, "P2P_TOKEN=" + c.Worker.Token, "P2P_PIN=" + c.Worker.CASHA256,
		"P2P_RUN=" + c.Run.ID(), "P2P_GROUP=" + group, "P2P_SIZE=" + strconv.Itoa(size)}
	var kids []*natstest.Child
	for r := 1; r < size; r++ {
		kids = append(kids, natstest.StartChild(t, "rank", append(env, "P2P_RANK="+strconv.Itoa(r))...))
	}
	tr := join(t, c.Connect(t, "", "rank0"), c.Run, group, 0, size, smallChunks)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := exercise(ctx, collective.New(tr)); err != nil {
		t.Fatalf("rank 0: %v", err)
	}
	tr.Close()
	for i, k := range kids {
		exited, err := k.Wait(30 * time.Second)
		if !exited || err != nil {
			t.Fatalf("rank %d: exited %v, %v; output:\n%s", i+1, exited, err, k.Output())
		}
	}
}

// rankChild is rank P2P_RANK of the group in a child process.
func rankChild() int {
	cfg := broker.ClientConfig{URL: os.Getenv("P2P_URL"), Token: os.Getenv("P2P_TOKEN"), CASHA256: os.Getenv("P2P_PIN")}
	rank, _ := strconv.Atoi(os.Getenv("P2P_RANK"))
	size, _ := strconv.Atoi(os.Getenv("P2P_SIZE"))
	nc, err := cfg.Connect("rank" + os.Getenv("P2P_RANK"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer nc.Close()
	tr, err := p2p.Join(nc, subject.MustRun(os.Getenv("P2P_RUN")), os.Getenv("P2P_GROUP"), rank, size, smallChunks)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := exercise(ctx, collective.New(tr)); err != nil {
		fmt.Fprintf(os.Stderr, "rank %d: %v\n", rank, err)
		return 1
	}
	return 0
}
