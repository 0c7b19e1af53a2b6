package p2p_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
	"github.com/sluice-data/sluice/runtime/natsrt/p2p"
	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// benchMsg is the message size of the data benchmark: a full shuffle batch.
const benchMsg = 1 << 20

// BenchmarkDataAcrossProcesses measures acknowledged point-to-point data
// (DataSender → ListenData, 1 MiB messages, 8 in flight) from a sender
// process through the embedded server to a receiver connection in this
// process: b.N messages. It reports MB/s and the CPU of both processes per
// GB.
func BenchmarkDataAcrossProcesses(b *testing.B) {
	b.Run("tls", func(b *testing.B) { benchData(b, broker.Config{}, false) })
	b.Run("raw-nats/tls", func(b *testing.B) { benchData(b, broker.Config{}, true) })
	b.Run("plain", func(b *testing.B) { benchData(b, broker.Config{Insecure: true}, false) })
}

// benchData runs the data benchmark; raw sends plain NATS requests (8 in
// flight) to a plain subscriber that acks them: the baseline.
func benchData(b *testing.B, bc broker.Config, raw bool) {
	c := natstest.StartWith(b, bc)
	var got atomic.Int64
	done := make(chan struct{})
	want := int64(b.N) * benchMsg
	rc, err := p2p.ListenData(c.Connect(b, "", "recv"), c.Run, "bench", 0, func(_ int, d []byte) error {
		if got.Add(int64(len(d))) == want {
			close(done)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	rawSub, _ := c.Connect(b, "", "rawrecv").Subscribe(c.Run.Prefix()+".raw", func(m *nats.Msg) {
		if got.Add(int64(len(m.Data))) == want {
			close(done)
		}
		m.Respond(nil)
	})
	rawSub.SetPendingLimits(-1, -1)
	ready := make(chan *nats.Msg, 1)
	sub, _ := c.Head.ChanSubscribe(c.Run.Prefix()+".ready", ready)
	defer sub.Unsubscribe()
	kid := natstest.StartChild(b, "data-sender", "P2P_URL="+c.Worker.URL, "P2P_TOKEN="+c.Worker.Token,
		"P2P_PIN="+c.Worker.CASHA256, "P2P_RUN="+c.Run.ID(), "P2P_N="+strconv.Itoa(b.N), "P2P_RAW="+strconv.FormatBool(raw))
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		b.Fatalf("sender not ready:\n%s", kid.Output())
	}
	cpu0 := selfCPU()
	b.ResetTimer()
	start := time.Now()
	c.Head.Publish(c.Run.Prefix()+".go", nil)
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	if exited, err := kid.Wait(30 * time.Second); !exited || err != nil {
		b.Fatalf("sender: %v\n%s", err, kid.Output())
	}
	// The child's CPU includes its start-up; this process's, the server's work.
	cpu := selfCPU() - cpu0 + childCPU(kid)
	gb := float64(want) / 1e9
	b.ReportMetric(float64(want)/1e6/elapsed.Seconds(), "MB/s")
	b.ReportMetric(cpu.Seconds()/gb, "cpu-s/GB")
}

// dataSenderChild sends P2P_N messages of benchMsg bytes to rank 0 once
// told to go, then flushes.
func dataSenderChild() int {
	cfg := broker.ClientConfig{URL: os.Getenv("P2P_URL"), Token: os.Getenv("P2P_TOKEN"), CASHA256: os.Getenv("P2P_PIN")}
	n, _ := strconv.Atoi(os.Getenv("P2P_N"))
	run := subject.MustRun(os.Getenv("P2P_RUN"))
	nc, err := cfg.Connect("sender")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer nc.Close()
	start := make(chan *nats.Msg, 1)
	nc.ChanSubscribe(run.Prefix()+".go", start)
	nc.Flush()
	d, err := p2p.NewDataSender(nc, run, "bench", 1, 2, p2p.DataOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer d.Close()
	nc.Publish(run.Prefix()+".ready", nil)
	<-start
	ctx := context.Background()
	msg := make([]byte, benchMsg)
	if os.Getenv("P2P_RAW") == "true" {
		return rawSend(nc, run, n, msg)
	}
	for range n {
		if err := d.Send(ctx, 0, msg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if err := d.Flush(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func childCPU(k *natstest.Child) time.Duration {
	ps := k.Cmd.ProcessState
	if ps == nil {
		return 0
	}
	return ps.UserTime() + ps.SystemTime()
}

// rawSend sends n messages as plain NATS requests, 8 in flight.
func rawSend(nc *nats.Conn, run subject.Run, n int, msg []byte) int {
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range jobs {
				if _, err := nc.Request(run.Prefix()+".raw", msg, 30*time.Second); err != nil {
					fmt.Fprintln(os.Stderr, err)
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		return 1
	}
	return 0
}
