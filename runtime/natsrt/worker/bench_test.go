package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/head"
	"github.com/sluice-data/sluice/runtime/natsrt/member"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
)

// BenchmarkFailureDetection measures, with the production timings (0.5 s
// beats, 2 s TTL), how long the head takes to declare a worker process
// lost: after SIGKILL (the disconnect advisory), and after a partition
// (the proxy holds both directions; lease expiry). Each iteration starts a
// fresh worker process; only the detection is timed.
func BenchmarkFailureDetection(b *testing.B) {
	for _, fault := range []string{"sigkill", "partition"} {
		b.Run(fault, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			h, err := head.Start(ctx, head.Config{Embedded: &broker.Config{}})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			var total time.Duration
			for range b.N {
				b.StopTimer()
				p := natstest.NewProxy(b, h.Broker.Server().Addr().String())
				evs := natstest.Record(h.Members)
				w := natstest.StartChild(b, "worker", "W_URL="+p.URL(), "W_TOKEN="+h.Broker.Token(), "W_PIN="+h.Broker.Pin(), "W_NAME=bench")
				up := evs.Wait(b, 30*time.Second, member.NodeUp, nil)
				start := time.Now()
				b.StartTimer()
				if fault == "sigkill" {
					w.Kill()
				} else {
					p.Pause(true, true)
				}
				lost := evs.Wait(b, 30*time.Second, member.NodeLost, natstest.Of(up.Node.Incarnation))
				b.StopTimer()
				total += lost.At.Sub(start)
				w.Kill()
				p.Close()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-lost")
		})
	}
}
