package member_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/runtime/natsrt/member"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// join registers a worker incarnation over its own connection (through url
// when set) and returns its lease.
func join(t *testing.T, c *natstest.Cluster, url string) (*member.Lease, member.NodeInfo, *nats.Conn) {
	t.Helper()
	info := member.NodeInfo{Incarnation: member.NewIncarnation(), Name: "w", PID: os.Getpid(), CPUs: 2, ScratchDir: t.TempDir(), Started: time.Now()}
	nc := c.Connect(t, url, member.ConnName(info.Incarnation, "ctl"))
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := member.OpenBucket(ctx, js, c.Run)
	if err != nil {
		t.Fatal(err)
	}
	l, err := member.Register(ctx, kv, info, natstest.Beat, natstest.TTL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	return l, info, nc
}

func TestUpAndLeave(t *testing.T) {
	c := natstest.Start(t)
	m := c.Monitor(t)
	evs := natstest.Record(m)
	l, info, _ := join(t, c, "")
	up := evs.Wait(t, 5*time.Second, member.NodeUp, natstest.Of(info.Incarnation))
	if up.Node.CPUs != 2 || up.Node.ScratchDir != info.ScratchDir {
		t.Fatalf("node up with %+v, want %+v", up.Node, info)
	}
	if n := m.Nodes(); len(n) != 1 || n[0].Incarnation != info.Incarnation {
		t.Fatalf("Nodes() = %+v", n)
	}
	// Renewals keep the node up well past the TTL.
	time.Sleep(3 * natstest.TTL)
	if m.IsLost(info.Incarnation) || l.Err() != nil {
		t.Fatalf("renewed lease lost: %v", l.Err())
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	lost := evs.Wait(t, 5*time.Second, member.NodeLost, natstest.Of(info.Incarnation))
	if lost.Reason != "left" {
		t.Fatalf("reason %q, want left", lost.Reason)
	}
	if len(m.Nodes()) != 0 {
		t.Fatalf("Nodes() after leave = %+v", m.Nodes())
	}
}

// A closed connection is seen through the server's advisory, well before
// the lease could expire.
func TestDisconnectIsLostAtOnce(t *testing.T) {
	c := natstest.Start(t)
	m := c.Monitor(t)
	evs := natstest.Record(m)
	l, info, nc := join(t, c, "")
	evs.Wait(t, 5*time.Second, member.NodeUp, natstest.Of(info.Incarnation))
	closed := time.Now()
	nc.Close()
	lost := evs.Wait(t, 5*time.Second, member.NodeLost, natstest.Of(info.Incarnation))
	if !strings.HasPrefix(lost.Reason, "disconnected") {
		t.Fatalf("reason %q, want the disconnect advisory", lost.Reason)
	}
	if d := lost.At.Sub(closed); d >= natstest.TTL {
		t.Fatalf("lost after %v: not via the advisory (TTL %v)", d, natstest.TTL)
	}
	select {
	case <-m.Lost(info.Incarnation):
	default:
		t.Fatal("Lost channel open after the event")
	}
	select {
	case <-l.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the lease outlived its connection")
	}
}

// A partition: the worker's lease expires on both sides; after the heal
// the old incarnation cannot come back.
func TestPartitionExpiresLeaseAndFences(t *testing.T) {
	c := natstest.Start(t)
	m := c.Monitor(t)
	evs := natstest.Record(m)
	p := natstest.NewProxy(t, c.Broker.Server().Addr().String())
	l, info, nc := join(t, c, p.URL())
	evs.Wait(t, 5*time.Second, member.NodeUp, natstest.Of(info.Incarnation))

	p.Pause(true, true)
	lost := evs.Wait(t, 5*time.Second, member.NodeLost, natstest.Of(info.Incarnation))
	if lost.Reason != "lease expired" && !strings.HasPrefix(lost.Reason, "disconnected") {
		t.Fatalf("reason %q", lost.Reason)
	}
	select {
	case <-l.Done():
		if !errors.Is(l.Err(), member.ErrLeaseExpired) {
			t.Fatalf("lease ended with %v, want expiry", l.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the partitioned worker's lease did not end")
	}
	p.Resume()
	// A zombie writing its old key (as if it ignored its lease) is revoked
	// again and never reported up.
	if nc.IsConnected() {
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if kv, err := js.KeyValue(ctx, c.Run.Bucket()); err == nil {
			kv.Put(ctx, member.NodeKey(info.Incarnation), []byte(`{"inc":"`+info.Incarnation+`","name":"zombie"}`))
		}
	}
	natstest.Eventually(t, 3*time.Second, "zombie key revoked", func() bool {
		_, err := c.KV.Get(context.Background(), member.NodeKey(info.Incarnation))
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})
	for _, n := range m.Nodes() {
		if n.Incarnation == info.Incarnation {
			t.Fatal("the lost incarnation is live again")
		}
	}
	// A new incarnation of the same worker joins normally.
	_, again, _ := join(t, c, p.URL())
	evs.Wait(t, 5*time.Second, member.NodeUp, natstest.Of(again.Incarnation))
}

func TestWatchKeySeesTheHeadGo(t *testing.T) {
	c := natstest.Start(t)
	ctx := context.Background()
	if _, _, err := member.WatchKey(ctx, c.KV, member.HeadKey); err != nil {
		t.Fatal(err)
	}
	absent, stop, err := member.WatchKey(ctx, c.KV, member.HeadKey)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	select {
	case <-absent:
	case <-time.After(5 * time.Second):
		t.Fatal("an absent head key was not reported gone")
	}
	head, err := member.Acquire(ctx, c.KV, member.HeadKey, []byte("head"), natstest.Beat, natstest.TTL)
	if err != nil {
		t.Fatal(err)
	}
	gone, stop2, err := member.WatchKey(ctx, c.KV, member.HeadKey)
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	time.Sleep(2 * natstest.TTL)
	select {
	case <-gone:
		t.Fatal("a renewed head lease was reported gone")
	default:
	}
	head.Stop() // the head dies: no release, the key expires
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("an expired head lease was not reported gone")
	}
}
