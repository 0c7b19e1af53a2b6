package head_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/head"
	"github.com/sluice-data/sluice/runtime/natsrt/member"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
	"github.com/sluice-data/sluice/runtime/natsrt/worker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// An existing NATS deployment (here a plain nats-server with JetStream on
// loopback): the head and a worker meet there without an embedded server;
// a worker that vanishes is lost when its lease expires.
func TestExternalDeployment(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server did not start")
	}
	client := broker.ClientConfig{URL: srv.ClientURL()}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The worker is there first, waiting for a head.
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(wctx, worker.Config{Client: client, Name: "ext", CPUs: 1, Scratch: t.TempDir(), Retry: 50 * time.Millisecond})
	}()
	time.Sleep(200 * time.Millisecond)
	h, err := head.Start(ctx, head.Config{External: client, Beat: natstest.Beat, TTL: natstest.TTL})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.JoinLine() != "" {
		t.Fatalf("join line %q for an external deployment", h.JoinLine())
	}
	evs := natstest.Record(h.Members)
	var up member.Event
	natstest.Eventually(t, 10*time.Second, "worker joined", func() bool {
		n := h.Members.Nodes()
		if len(n) == 1 {
			up.Node = n[0]
		}
		return len(n) == 1
	})
	if _, err := h.Endpoint.Call(ctx, up.Node.Incarnation, rpc.Request{Method: "echo", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	evs.Wait(t, 5*time.Second, member.NodeLost, natstest.Of(up.Node.Incarnation))
}
