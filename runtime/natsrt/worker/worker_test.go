package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/head"
	"github.com/sluice-data/sluice/runtime/natsrt/member"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
	"github.com/sluice-data/sluice/runtime/natsrt/worker"
)

func TestMain(m *testing.M) {
	natstest.RunChild(natstest.Children{"worker": workerChild})
	goleak.VerifyTestMain(m)
}

// logHost is a Host whose actors are calls: "pid" answers the process id,
// "block" runs until cancelled. It writes what happens to out, one line
// per event, so that a parent can read a child's story.
type logHost struct {
	mu  sync.Mutex
	out func(string)
}

func (h *logHost) say(format string, a ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.out(fmt.Sprintf(format, a...))
}

func (h *logHost) Open(s *worker.Session) (rpc.Handler, error) {
	inc := s.Node.Incarnation
	h.say("open %s run %s", inc, s.Run.ID())
	return func(ctx context.Context, in *rpc.Incoming) ([]byte, error) {
		switch in.Method {
		case "pid":
			return []byte(strconv.Itoa(os.Getpid())), nil
		case "block":
			h.say("block started %s", inc)
			<-ctx.Done()
			h.say("block ended %s: %v", inc, ctx.Err())
			return nil, ctx.Err()
		}
		return nil, &rpc.Error{Kind: rpc.KindNotFound, Msg: in.Method}
	}, nil
}

func (h *logHost) Close(s *worker.Session, why error) {
	h.say("closed %s: %v", s.Node.Incarnation, why)
}

// workerChild runs a worker until SIGTERM, configured from the environment.
func workerChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg := worker.Config{
		Client: broker.ClientConfig{URL: os.Getenv("W_URL"), Token: os.Getenv("W_TOKEN"), CASHA256: os.Getenv("W_PIN")},
		Name:   os.Getenv("W_NAME"), CPUs: 1, Scratch: os.TempDir(), Retry: 100 * time.Millisecond,
		Host:   &logHost{out: func(s string) { fmt.Println(s) }},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	if err := worker.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startHead starts a head with an embedded server and test timings.
func startHead(t *testing.T, bc broker.Config) *head.Head {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := head.Start(ctx, head.Config{Embedded: &bc, Beat: natstest.Beat, TTL: natstest.TTL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// startWorker re-executes the test binary as a worker joining url.
func startWorker(t *testing.T, h *head.Head, url, name string) *natstest.Child {
	t.Helper()
	return natstest.StartChild(t, "worker", "W_URL="+url, "W_TOKEN="+h.Broker.Token(), "W_PIN="+h.Broker.Pin(), "W_NAME="+name)
}

func call(h *head.Head, inc, method string, d time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return h.Endpoint.Call(ctx, inc, rpc.Request{Actor: "a", Method: method})
}

func waitOutput(t *testing.T, c *natstest.Child, d time.Duration, s string) {
	t.Helper()
	natstest.Eventually(t, d, "child prints "+strconv.Quote(s), func() bool { return strings.Contains(c.Output(), s) })
}

// A worker process joins, serves calls, and leaves gracefully on SIGTERM.
func TestWorkerJoinsServesLeaves(t *testing.T) {
	h := startHead(t, broker.Config{})
	evs := natstest.Record(h.Members)
	w := startWorker(t, h, h.Broker.URL(), "w1")
	up := evs.Wait(t, 20*time.Second, member.NodeUp, nil)
	if up.Node.Name != "w1" || up.Node.CPUs != 1 || up.Node.PID != w.Cmd.Process.Pid {
		t.Fatalf("node up: %+v", up.Node)
	}
	out, err := call(h, up.Node.Incarnation, "pid", 5*time.Second)
	if err != nil || string(out) != strconv.Itoa(w.Cmd.Process.Pid) {
		t.Fatalf("pid call: %q, %v", out, err)
	}
	w.Signal(syscall.SIGTERM)
	lost := evs.Wait(t, 5*time.Second, member.NodeLost, natstest.Of(up.Node.Incarnation))
	if lost.Reason != "left" && !strings.HasPrefix(lost.Reason, "disconnected") {
		t.Fatalf("reason %q", lost.Reason)
	}
	if exited, err := w.Wait(5 * time.Second); !exited || err != nil {
		t.Fatalf("worker after SIGTERM: exited %v, %v", exited, err)
	}
}

// SIGKILL: the head hears of it through the disconnect advisory, and the
// call in flight fails as lost without waiting for any timeout.
func TestKilledWorkerIsLostFast(t *testing.T) {
	h := startHead(t, broker.Config{})
	evs := natstest.Record(h.Members)
	w := startWorker(t, h, h.Broker.URL(), "victim")
	up := evs.Wait(t, 20*time.Second, member.NodeUp, nil)
	res := make(chan error, 1)
	go func() { _, err := call(h, up.Node.Incarnation, "block", time.Minute); res <- err }()
	waitOutput(t, w, 5*time.Second, "block started "+up.Node.Incarnation)
	killed := time.Now()
	w.Kill()
	lost := evs.Wait(t, 5*time.Second, member.NodeLost, natstest.Of(up.Node.Incarnation))
	if !strings.HasPrefix(lost.Reason, "disconnected") {
		t.Errorf("lost because %q, want the disconnect advisory", lost.Reason)
	}
	select {
	case err := <-res:
		if rpc.KindOf(err) != rpc.KindLost {
			t.Fatalf("in-flight call: %v", err)
		}
		t.Logf("SIGKILL → node lost %v, in-flight call failed %v", lost.At.Sub(killed), time.Since(killed))
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight call did not fail")
	}
}

// A partition: the lease lapses on both sides, the worker stops its
// actors; after the heal it returns as a new incarnation, and the old
// incarnation is refused.
func TestPartitionThenHeal(t *testing.T) {
	h := startHead(t, broker.Config{})
	evs := natstest.Record(h.Members)
	p := natstest.NewProxy(t, h.Broker.Server().Addr().String())
	w := startWorker(t, h, p.URL(), "far")
	up := evs.Wait(t, 20*time.Second, member.NodeUp, nil)
	old := up.Node.Incarnation
	res := make(chan error, 1)
	go func() { _, err := call(h, old, "block", time.Minute); res <- err }()
	waitOutput(t, w, 5*time.Second, "block started "+old)

	p.Pause(true, true)
	evs.Wait(t, 5*time.Second, member.NodeLost, natstest.Of(old))
	select {
	case err := <-res:
		if rpc.KindOf(err) != rpc.KindLost {
			t.Fatalf("in-flight call: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight call did not fail")
	}
	// Cut off, the worker fences itself: its actors stop.
	waitOutput(t, w, 5*time.Second, "block ended "+old)
	waitOutput(t, w, 5*time.Second, "closed "+old)

	p.Resume()
	back := evs.Wait(t, 10*time.Second, member.NodeUp, func(ev member.Event) bool { return ev.Node.Incarnation != old })
	if back.Node.PID != up.Node.PID {
		t.Fatalf("came back as pid %d, want %d", back.Node.PID, up.Node.PID)
	}
	if _, err := call(h, old, "pid", 5*time.Second); rpc.KindOf(err) != rpc.KindLost {
		t.Fatalf("call to the old incarnation: %v", err)
	}
	if out, err := call(h, back.Node.Incarnation, "pid", 5*time.Second); err != nil || string(out) != strconv.Itoa(up.Node.PID) {
		t.Fatalf("call to the new incarnation: %q, %v", out, err)
	}
}

// The head dies (its server with it): the worker stops the run's actors,
// and joins the next head that starts at the same address with the same
// credentials.
func TestHeadDiesWorkerJoinsNextRun(t *testing.T) {
	creds := t.TempDir() + "/creds"
	h1 := startHead(t, broker.Config{CredsDir: creds})
	addr := h1.Broker.Server().Addr().String()
	evs := natstest.Record(h1.Members)
	w := startWorker(t, h1, h1.Broker.URL(), "stayer")
	up := evs.Wait(t, 20*time.Second, member.NodeUp, nil)
	go call(h1, up.Node.Incarnation, "block", time.Minute)
	waitOutput(t, w, 5*time.Second, "block started "+up.Node.Incarnation)

	h1.Broker.Shutdown() // as if the head were killed: no goodbye
	waitOutput(t, w, 5*time.Second, "closed "+up.Node.Incarnation)

	h2 := startHead(t, broker.Config{Listen: addr, CredsDir: creds})
	evs2 := natstest.Record(h2.Members)
	up2 := evs2.Wait(t, 20*time.Second, member.NodeUp, nil)
	if up2.Node.PID != up.Node.PID || h2.Run.ID() == h1.Run.ID() {
		t.Fatalf("next run: node %+v in run %s", up2.Node, h2.Run.ID())
	}
	waitOutput(t, w, 5*time.Second, "open "+up2.Node.Incarnation+" run "+h2.Run.ID())
	if _, err := call(h2, up2.Node.Incarnation, "pid", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}
