package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
	"github.com/sluice-data/sluice/runtime/natsrt/p2p"
	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
)

func TestMain(m *testing.M) {
	natstest.RunChild(natstest.Children{"echo": echoChild})
	goleak.VerifyTestMain(m)
}

// pair makes a caller ("head") and a serving endpoint ("w1") on their own
// connections.
func pair(t *testing.T, h rpc.Handler) (*natstest.Cluster, *rpc.Endpoint, *rpc.Endpoint) {
	t.Helper()
	c := natstest.Start(t)
	small := p2p.Options{ChunkSize: 32 << 10}
	head, err := rpc.NewEndpoint(c.Connect(t, "", "head"), c.Run, "head", rpc.Options{Stream: small})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(head.Close)
	w, err := rpc.NewEndpoint(c.Connect(t, "", "w1"), c.Run, "w1", rpc.Options{Handler: h, Stream: small})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return c, head, w
}

func TestCallLargeBothWays(t *testing.T) {
	_, head, _ := pair(t, func(_ context.Context, in *rpc.Incoming) ([]byte, error) {
		out := append(bytes.Repeat([]byte(in.Actor+"/"+in.Method+"/"), 3), in.Body...)
		return append(out, in.Body...), nil
	})
	body := bytes.Repeat([]byte("0123456789"), 20000) // 200 KB: 7 chunks
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := head.Call(ctx, "w1", rpc.Request{Actor: "a1", Method: "process", Body: body, Attempt: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(bytes.Repeat([]byte("a1/process/"), 3), body...), body...)
	if !bytes.Equal(out, want) {
		t.Fatalf("reply of %d bytes, want %d", len(out), len(want))
	}
	// A direct call (small body) whose reply needs the stream.
	small := bytes.Repeat([]byte("s"), 20<<10)
	out, err = head.Call(ctx, "w1", rpc.Request{Actor: "a2", Method: "m", Body: small})
	want = append(append(bytes.Repeat([]byte("a2/m/"), 3), small...), small...)
	if err != nil || !bytes.Equal(out, want) {
		t.Fatalf("direct call, large reply: %d bytes, %v", len(out), err)
	}
}

func TestErrorKinds(t *testing.T) {
	_, head, _ := pair(t, func(ctx context.Context, in *rpc.Incoming) ([]byte, error) {
		switch in.Method {
		case "fail":
			return nil, errors.New("bad record at line 7")
		case "panic":
			panic("boom")
		case "attempt":
			return []byte{byte(in.Attempt)}, nil
		}
		return nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := head.Call(ctx, "w1", rpc.Request{Method: "fail"})
	if rpc.KindOf(err) != rpc.KindError || err.Error() != "bad record at line 7" {
		t.Fatalf("fail: %v (kind %q)", err, rpc.KindOf(err))
	}
	_, err = head.Call(ctx, "w1", rpc.Request{Method: "panic"})
	if rpc.KindOf(err) != rpc.KindPanic {
		t.Fatalf("panic: %v (kind %q)", err, rpc.KindOf(err))
	}
	out, err := head.Call(ctx, "w1", rpc.Request{Method: "attempt", Attempt: 3})
	if err != nil || len(out) != 1 || out[0] != 3 {
		t.Fatalf("attempt: %v, %v", out, err)
	}
}

// Cancelling a call reaches the handler; a deadline travels with the call.
func TestCancelAndDeadlineReachTheHandler(t *testing.T) {
	seen := make(chan error, 2)
	_, head, _ := pair(t, func(ctx context.Context, in *rpc.Incoming) ([]byte, error) {
		if _, ok := ctx.Deadline(); in.Method == "deadline" && !ok {
			seen <- errors.New("no deadline on the worker")
			return nil, nil
		}
		<-ctx.Done()
		seen <- ctx.Err()
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := head.Call(ctx, "w1", rpc.Request{Method: "block"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	select {
	case err := <-seen:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("handler saw %v, want cancellation", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cancel did not reach the handler")
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer dcancel()
	_, err = head.Call(dctx, "w1", rpc.Request{Method: "deadline"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call past its deadline: %v", err)
	}
	select {
	case err := <-seen:
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			t.Fatalf("handler saw %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the deadline did not end the handler")
	}
}

// A target declared lost fails its calls in flight at once, on both
// paths; its late reply is refused; later calls fail without waiting.
func TestLostTarget(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	_, head, _ := pair(t, func(ctx context.Context, in *rpc.Incoming) ([]byte, error) {
		started <- struct{}{}
		<-release
		return []byte("late"), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := make(chan error, 2)
	for _, body := range [][]byte{[]byte("small"), bytes.Repeat([]byte("b"), 100<<10)} { // direct, streamed
		go func() {
			_, err := head.Call(ctx, "w1", rpc.Request{Method: "block", Body: body})
			res <- err
		}()
		<-started
	}
	lostAt := time.Now()
	head.PeerLost("w1", "disconnected")
	for range 2 {
		select {
		case err := <-res:
			if !errors.Is(err, rpc.ErrLost) || rpc.KindOf(err) != rpc.KindLost {
				t.Fatalf("in-flight call: %v", err)
			}
			if d := time.Since(lostAt); d > time.Second {
				t.Fatalf("failed %v after the loss", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an in-flight call did not fail")
		}
	}
	// The zombie replies now. The streamed call's reply reaches the
	// endpoint and is refused; the direct one's goes to a reply inbox the
	// caller no longer listens on.
	close(release)
	natstest.Eventually(t, 5*time.Second, "late reply refused", func() bool { return head.Refused() == 1 })
	if _, err := head.Call(ctx, "w1", rpc.Request{Method: "x"}); !errors.Is(err, rpc.ErrLost) {
		t.Fatalf("call after the loss: %v", err)
	}
}

// Calling an endpoint nobody serves fails as lost, after NoResponders.
func TestNoOneThere(t *testing.T) {
	c := natstest.Start(t)
	head, err := rpc.NewEndpoint(c.Connect(t, "", "head"), c.Run, "head", rpc.Options{NoResponders: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer head.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := head.Call(ctx, "ghost", rpc.Request{Method: "x"}); !errors.Is(err, rpc.ErrLost) {
		t.Fatalf("call to nobody: %v", err)
	}
}
