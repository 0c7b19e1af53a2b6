package shuffle

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// peakRSS reports the process's peak resident set size (VmHWM) in bytes.
// It covers the whole process: run one benchmark per process to read it
// for that benchmark alone.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuSeconds reports the user+system CPU time of the process, a steadier
// measure than wall time on a shared machine.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// lshRows generates n LSH-like rows deterministically without allocating:
// key = 2-byte band index + 16-byte band hash (about 1 in 8 rows repeats a
// recent key, as documents sharing a bucket do), value = 8-byte doc id.
type lshRows struct {
	state  uint64
	key    [18]byte
	value  [8]byte
	varint [binary.MaxVarintLen64]byte
}

func (g *lshRows) next(doc uint64) {
	g.state ^= g.state << 13
	g.state ^= g.state >> 7
	g.state ^= g.state << 17
	x := g.state
	if x&7 != 0 { // new bucket key; otherwise reuse the previous one
		binary.BigEndian.PutUint16(g.key[:], uint16(x>>3)%20)
		binary.LittleEndian.PutUint64(g.key[2:], x*0x9E3779B97F4A7C15)
		binary.LittleEndian.PutUint64(g.key[10:], x^0xD6E8FEB86659FD93)
	}
	binary.BigEndian.PutUint64(g.value[:], doc)
}

// BenchmarkLSH inserts 10M LSH rows through a Sender and LocalTransport
// into one engine, then extracts every partition with ExtractGroups.
func BenchmarkLSH(b *testing.B) {
	const rows = 10_000_000
	const numPartitions = 64
	for _, tc := range []struct {
		name   string
		limit  int64
		comp   Compression
		varlen bool // uvarint doc ids: rows of varying length use the arena
	}{
		{"unlimited", 0, CompressionNone, false},
		{"limit=64MiB", 64 << 20, CompressionNone, false},
		{"limit=64MiB/s2", 64 << 20, CompressionS2, false},
		{"limit=64MiB/zstd", 64 << 20, CompressionZstd, false},
		{"unlimited/varlen", 0, CompressionNone, true},
		{"limit=64MiB/varlen", 64 << 20, CompressionNone, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var st Stats
			var got int64
			cpu0 := cpuSeconds()
			for b.Loop() {
				e, err := NewEngine(0, 1, Options{NumPartitions: numPartitions, MemoryLimit: tc.limit, SpillDir: b.TempDir(), Compression: tc.comp})
				if err != nil {
					b.Fatal(err)
				}
				s := NewSender(0, 1, numPartitions, NewLocalTransport([]*Engine{e}), 1<<20)
				g := lshRows{state: 88172645463325252}
				ctx := context.Background()
				for i := range uint64(rows) {
					g.next(i)
					value := g.value[:]
					if tc.varlen {
						value = binary.AppendUvarint(g.varint[:0], i)
					}
					if err := s.Add(ctx, g.key[:], value); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				if err := e.Finish(); err != nil {
					b.Fatal(err)
				}
				got = 0
				for _, p := range e.OwnedPartitions() {
					if err := e.ExtractGroups(p, func(_ []byte, vs [][]byte) error {
						got += int64(len(vs))
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
				st = e.Stats()
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
			}
			if got != rows {
				b.Fatalf("extracted %d rows, want %d", got, rows)
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(st.SpilledBytes)/(1<<20), "spilledMiB")
			b.ReportMetric(float64(st.Spills), "spills")
			b.ReportMetric(float64(st.PeakMemoryBytes)/(1<<20), "peakBufMiB")
			b.ReportMetric(float64(rows)*float64(b.N)/(cpuSeconds()-cpu0), "rows/cpu-s")
			b.ReportMetric(float64(peakRSS())/(1<<20), "procPeakRSS-MiB")
		})
	}
}

// BenchmarkInsert measures Engine.Insert alone, one row per call.
func BenchmarkInsert(b *testing.B) {
	for _, limit := range []int64{0, 64 << 20} {
		b.Run(fmt.Sprintf("limit=%dMiB", limit>>20), func(b *testing.B) {
			e, err := NewEngine(0, 1, Options{NumPartitions: 64, MemoryLimit: limit, SpillDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			g := lshRows{state: 88172645463325252}
			cpu0 := cpuSeconds()
			for i := 0; b.Loop(); i++ {
				g.next(uint64(i))
				if err := e.Insert(PartitionOf(g.key[:], 64), g.key[:], g.value[:]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuSeconds()-cpu0)*1e9/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkSortRecords sorts 2M in-memory LSH rows (fixed-width records).
func BenchmarkSortRecords(b *testing.B) {
	const n = 2_000_000
	buf := newRowBuffer(64, 0)
	g := lshRows{state: 88172645463325252}
	for i := range uint64(n) {
		g.next(i)
		buf.add(PartitionOf(g.key[:], 64), g.key[:], g.value[:], false)
	}
	saved := make([]byte, 0, n*buf.rec.width)
	for i := range n {
		saved = append(saved, buf.rec.rec(i)...)
	}
	b.ResetTimer()
	var cpu float64
	for b.Loop() {
		b.StopTimer()
		for i := range n {
			copy(buf.rec.rec(i), saved[i*buf.rec.width:])
		}
		b.StartTimer()
		c := cpuSeconds()
		buf.sort()
		cpu += cpuSeconds() - c
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(n)*float64(b.N)/cpu, "rows/cpu-s")
}
