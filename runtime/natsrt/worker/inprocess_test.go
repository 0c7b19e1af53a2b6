package worker_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/head"
	"github.com/sluice-data/sluice/runtime/natsrt/logfwd"
	"github.com/sluice-data/sluice/runtime/natsrt/member"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
	"github.com/sluice-data/sluice/runtime/natsrt/worker"
)

// lines collects a logHost's story in process.
type lines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s + "\n")
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.b.String(), s)
}

// runWorker runs a worker in this process until the test ends.
func runWorker(t *testing.T, h *head.Head, out *lines) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	fwd := logfwd.NewHandler(slog.NewTextHandler(io.Discard, nil), slog.LevelInfo)
	go func() {
		done <- worker.Run(ctx, worker.Config{
			Client: broker.ClientConfig{URL: h.Broker.URL(), Token: h.Broker.Token(), CASHA256: h.Broker.Pin()},
			Name:   "inproc", CPUs: 1, Scratch: t.TempDir(), Retry: 50 * time.Millisecond,
			Host: &logHost{out: out.add}, Logger: slog.New(fwd), LogForward: fwd,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker.Run: %v", err)
		}
	})
}

// The head's lease goes while the server stays (an external deployment
// whose head died): the worker stops the run's actors.
func TestHeadLeaseGoneStopsActors(t *testing.T) {
	probeDir := t.TempDir()
	bc := broker.Config{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	headLog := &lines{}
	h, err := head.Start(ctx, head.Config{Embedded: &bc, Beat: natstest.Beat, TTL: natstest.TTL, ProbeDir: probeDir,
		Logger: slog.New(slog.NewTextHandler(headLog, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	probes, _ := filepath.Glob(filepath.Join(probeDir, ".sluice-probe-*"))
	if len(probes) != 1 {
		t.Fatalf("probe files: %v", probes)
	}
	evs := natstest.Record(h.Members)
	out := &lines{}
	runWorker(t, h, out)
	up := evs.Wait(t, 10*time.Second, member.NodeUp, nil)
	natstest.Eventually(t, 5*time.Second, "the worker's log in the head's", func() bool {
		return headLog.has("msg=joined node=inproc incarnation=" + up.Node.Incarnation)
	})
	go call(h, up.Node.Incarnation, "block", time.Minute)
	natstest.Eventually(t, 5*time.Second, "block started", func() bool { return out.has("block started " + up.Node.Incarnation) })

	if err := h.KV.Delete(ctx, member.HeadKey); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, "actors stopped", func() bool {
		return out.has("block ended "+up.Node.Incarnation) && out.has("closed "+up.Node.Incarnation+": worker: the head is gone")
	})
	h.Close()
	if _, err := os.Stat(probes[0]); !os.IsNotExist(err) {
		t.Fatalf("the probe file outlived the head: %v", err)
	}
}

// A worker that cannot read the head's probe file does not join.
func TestProbeRefusesWorkerWithoutSharedFS(t *testing.T) {
	err := member.CheckProbe(&member.Probe{Path: filepath.Join(t.TempDir(), "missing"), SHA256: "00"})
	if err == nil || !strings.Contains(err.Error(), "shared by the head and every worker") {
		t.Fatalf("missing probe: %v", err)
	}
	p := filepath.Join(t.TempDir(), "probe")
	os.WriteFile(p, []byte("other content"), 0o600)
	err = member.CheckProbe(&member.Probe{Path: p, SHA256: strings.Repeat("0", 64)})
	if err == nil || !strings.Contains(err.Error(), "another filesystem") {
		t.Fatalf("different probe: %v", err)
	}
}
