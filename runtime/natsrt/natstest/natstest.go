// Package natstest provides what natsrt's tests need to run against real
// parts: an embedded server with a run opened on it ([Start]), a pausable
// TCP proxy for partitions ([Proxy]), and worker processes made by
// re-executing the test binary ([StartChild]), which tests can SIGKILL.
//
// Everything binds to 127.0.0.1.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/member"
	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// Short membership timings for tests: a lost lease shows within ~0.5 s.
const (
	Beat = 100 * time.Millisecond
	TTL  = 500 * time.Millisecond
)

// Cluster is an embedded server with one run opened on it, as a head sets
// it up.
type Cluster struct {
	Broker *broker.Broker
	Run    subject.Run
	// Head is the head's in-process connection; Sys its system-account one.
	Head, Sys *nats.Conn
	JS        jetstream.JetStream
	// KV is the run's membership bucket (TTL above).
	KV jetstream.KeyValue
	// Worker is what a worker's join line gives it.
	Worker broker.ClientConfig
}

// Start starts a Cluster that the test's cleanup shuts down.
func Start(t testing.TB) *Cluster {
	t.Helper()
	return StartWith(t, broker.Config{})
}

// StartWith is Start with a broker configuration.
func StartWith(t testing.TB, cfg broker.Config) *Cluster {
	t.Helper()
	b, err := broker.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Shutdown)
	c := &Cluster{Broker: b, Run: subject.MustRun("t" + member.NewIncarnation()[:8])}
	if err := b.OpenRun(c.Run, ""); err != nil {
		t.Fatal(err)
	}
	c.Worker = broker.ClientConfig{URL: b.URL(), Token: b.Token(), CASHA256: b.Pin()}
	if c.Head, err = b.HeadConn(nats.CustomInboxPrefix(subject.InboxPrefix(c.Worker.TokenID()))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Head.Close)
	if c.Sys, err = b.SysConn(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Sys.Close)
	if c.JS, err = jetstream.New(c.Head); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c.KV, err = member.CreateBucket(ctx, c.JS, c.Run, TTL); err != nil {
		t.Fatal(err)
	}
	return c
}

// Monitor starts the head's membership monitor (advisories and revoking on).
func (c *Cluster) Monitor(t testing.TB) *member.Monitor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := member.NewMonitor(ctx, c.KV, member.MonitorOptions{Sys: c.Sys, Account: broker.Account, Revoke: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// Connect opens a worker connection named name through url (a proxy's
// address, or "" for the server's).
func (c *Cluster) Connect(t testing.TB, url, name string) *nats.Conn {
	t.Helper()
	cfg := c.Worker
	if url != "" {
		cfg.URL = url
	}
	nc, err := cfg.Connect(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Eventually polls cond every 10 ms until it holds or d passes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
