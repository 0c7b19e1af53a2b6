package natsrt_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/runtime/natsrt"
	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/head"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
	"github.com/sluice-data/sluice/runtime/natsrt/worker"
	"github.com/sluice-data/sluice/runtime/runtimetest"
	"github.com/sluice-data/sluice/stage"
)

func TestMain(m *testing.M) {
	natstest.RunChild(natstest.Children{"worker": workerChild})
	goleak.VerifyTestMain(m)
}

// suiteRegistry is what the suite's workers build stages from.
func suiteRegistry() *stage.Registry {
	reg := stage.NewRegistry()
	if err := runtimetest.Register(reg); err != nil {
		panic(err)
	}
	return reg
}

// workerChild is a worker process configured from the environment: it
// hosts the suite's stages until SIGTERM.
func workerChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	gpus, _ := strconv.Atoi(os.Getenv("W_GPUS"))
	cfg := workerConfig(os.Getenv("W_URL"), os.Getenv("W_TOKEN"), os.Getenv("W_PIN"), os.Getenv("W_NAME"), gpus, os.Getenv("W_SCRATCH"))
	natsrt.NewHost(suiteRegistry(), cfg.Logger).Configure(&cfg)
	if err := worker.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func workerConfig(url, token, pin, name string, gpus int, scratch string) worker.Config {
	return worker.Config{
		Client: broker.ClientConfig{URL: url, Token: token, CASHA256: pin},
		Name:   name, CPUs: 2, GPUs: gpus, GPUMemoryGB: 16, Scratch: scratch,
		Retry: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// startRuntime starts a head on loopback. The membership timings are the
// production ones (0.5 s beats, 2 s TTL): the suite loses nodes by SIGKILL,
// seen at once, and a short TTL would fence workers that a loaded machine
// (the race detector, other tests) keeps from renewing in time.
func startRuntime(t *testing.T, reg *stage.Registry) *natsrt.Runtime {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt, err := natsrt.Start(ctx, natsrt.Config{Head: head.Config{Embedded: &broker.Config{}}, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// inProcessWorker runs a worker in this process until the test ends.
func inProcessWorker(t *testing.T, rt *natsrt.Runtime, reg *stage.Registry, name string, gpus int) {
	t.Helper()
	b := rt.Head().Broker
	cfg := workerConfig(b.URL(), b.Token(), b.Pin(), name, gpus, t.TempDir())
	natsrt.NewHost(reg, cfg.Logger).Configure(&cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker %s: %v", name, err)
		}
	})
}

// processWorker starts a worker process, which LoseNode can SIGKILL.
func processWorker(t *testing.T, rt *natsrt.Runtime, name string, gpus int) *natstest.Child {
	t.Helper()
	b := rt.Head().Broker
	return natstest.StartChild(t, "worker", "W_URL="+b.URL(), "W_TOKEN="+b.Token(), "W_PIN="+b.Pin(),
		"W_NAME="+name, "W_GPUS="+strconv.Itoa(gpus), "W_SCRATCH="+t.TempDir())
}

func waitWorkers(t *testing.T, rt *natsrt.Runtime, n int) []stage.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes, err := rt.WaitWorkers(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

// TestConformance runs the runtime conformance suite against natsrt: a
// head with an embedded server on loopback (token and pinned TLS, as in
// production) and two workers, one with GPUs. The workers run in this
// process, except for the lost-node test, where they are processes and
// LoseNode SIGKILLs one.
func TestConformance(t *testing.T) {
	runtimetest.Run(t, func(t *testing.T, reg *stage.Registry) runtimetest.Harness {
		rt := startRuntime(t, reg)
		if !strings.HasSuffix(t.Name(), "/LostNode") {
			inProcessWorker(t, rt, reg, "n1", 0)
			inProcessWorker(t, rt, reg, "n2", 2)
			waitWorkers(t, rt, 2)
			return runtimetest.Harness{Runtime: rt}
		}
		procs := map[string]*natstest.Child{"n1": processWorker(t, rt, "n1", 0), "n2": processWorker(t, rt, "n2", 2)}
		nodes := waitWorkers(t, rt, 2)
		lose := func(id string) error {
			for _, n := range nodes {
				if n.ID == id {
					procs[strings.SplitN(id, "-", 2)[0]].Kill()
					return nil
				}
			}
			return fmt.Errorf("no worker process for node %s", id)
		}
		return runtimetest.Harness{Runtime: rt, LoseNode: lose}
	})
}
