package rpc_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// BenchmarkCallsAcrossProcesses measures 1 KiB echo calls from this
// process to an endpoint in another process, through the embedded server
// (TLS, as workers connect): one call at a time, and 64 in flight. It
// reports calls/s and the CPU of both processes per call.
func BenchmarkCallsAcrossProcesses(b *testing.B) {
	for _, inflight := range []int{1, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) { benchCalls(b, inflight, false) })
		b.Run(fmt.Sprintf("raw-nats/inflight=%d", inflight), func(b *testing.B) { benchCalls(b, inflight, true) })
	}
}

// benchCalls runs b.N calls; raw makes them plain NATS requests to a plain
// echo subscriber in the same child (the baseline: what NATS alone costs).
func benchCalls(b *testing.B, inflight int, raw bool) {
	c := natstest.Start(b)
	head, err := rpc.NewEndpoint(c.Connect(b, "", "head"), c.Run, "head", rpc.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer head.Close()
	ready := make(chan *nats.Msg, 1)
	sub, _ := c.Head.ChanSubscribe(c.Run.Prefix()+".ready", ready)
	defer sub.Unsubscribe()
	kid := natstest.StartChild(b, "echo", "R_URL="+c.Worker.URL, "R_TOKEN="+c.Worker.Token,
		"R_PIN="+c.Worker.CASHA256, "R_RUN="+c.Run.ID())
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		b.Fatalf("echo endpoint not ready:\n%s", kid.Output())
	}
	body := bytes.Repeat([]byte("x"), 1024)
	ctx := context.Background()
	cpu0, kcpu0 := selfCPU(), procCPU(kid.Cmd.Process.Pid)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := (b.N + inflight - 1) / inflight
	for g := range inflight {
		n := min(per, b.N-g*per)
		wg.Go(func() {
			for range n {
				var err error
				if raw {
					_, err = c.Head.Request(c.Run.Prefix()+".raw", body, 10*time.Second)
				} else {
					_, err = head.Call(ctx, "w", rpc.Request{Actor: "a", Method: "echo", Body: body})
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := selfCPU() - cpu0 + procCPU(kid.Cmd.Process.Pid) - kcpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/call")
}

// echoChild serves endpoint "w" with an echo handler until killed.
func echoChild() int {
	cfg := broker.ClientConfig{URL: os.Getenv("R_URL"), Token: os.Getenv("R_TOKEN"), CASHA256: os.Getenv("R_PIN")}
	run := subject.MustRun(os.Getenv("R_RUN"))
	nc, err := cfg.Connect("echo")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, err = rpc.NewEndpoint(nc, run, "w", rpc.Options{Handler: func(_ context.Context, in *rpc.Incoming) ([]byte, error) {
		return in.Body, nil
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	nc.Subscribe(run.Prefix()+".raw", func(m *nats.Msg) { m.Respond(m.Data) })
	nc.Publish(run.Prefix()+".ready", nil)
	select {}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU reads a live process's CPU time from /proc (Linux).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which is in parentheses): utime is
	// the 12th, stime the 13th, in clock ticks (100 per second on Linux).
	i := bytes.LastIndexByte(data, ')')
	var fields []string
	for _, f := range bytes.Fields(data[i+1:]) {
		fields = append(fields, string(f))
	}
	var ut, st int64
	fmt.Sscan(fields[11], &ut)
	fmt.Sscan(fields[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
